/**
 * The messages between NatsLauncher and its rank processes that are the
 * transport's own (the runner's control messages pass through untouched).
 * They travel over Node's IPC channel with the "advanced" serialization
 * (structured clone), so typed arrays in the runner's messages survive.
 */
import type { NatsConfig } from "./Options.ts"

const PREFIX = "rankflow/nats:"

/** The launcher's first message: who the process is and what to run. */
export interface Init {
  readonly _tag: "rankflow/nats:Init"
  readonly rank: number
  readonly config: NatsConfig
  /** URL of the runner module. */
  readonly runner: string
  /** `RankControl.data`. */
  readonly data: unknown
  /** The launcher: a random id of this launch, and its process id (the ranks it starts are `config.localRanks`). */
  readonly launcher: { readonly id: number; readonly pid: number }
  /** `LaunchOptions.worldContext`, announced in the rank's JOINs. */
  readonly worldContext: number
}

/** The launcher heard that `rank` failed: fail operations with it, and tell the job. */
export interface DeclareFailed {
  readonly _tag: "rankflow/nats:DeclareFailed"
  readonly rank: number
  readonly reason: string
}

/** Close the transport and exit. */
export interface Close {
  readonly _tag: "rankflow/nats:Close"
}

/** The rank could not start or crashed: `error` is the message (and stack). */
export interface Crash {
  readonly _tag: "rankflow/nats:Crash"
  readonly error: string
}

export type ToRank = Init | DeclareFailed | Close
export type FromRank = Crash

/** Whether a control message is the transport's own rather than the runner's. */
export const isInternal = (message: unknown): message is ToRank | FromRank =>
  typeof message === "object" && message !== null && typeof (message as { _tag?: unknown })._tag === "string" &&
  (message as { _tag: string })._tag.startsWith(PREFIX)
