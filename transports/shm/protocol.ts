/**
 * Messages between the launching thread and a rank's worker (over the
 * worker's parent port). Rank-to-rank data never travels here.
 */
import type { SharedRegions } from "./Layout.ts"

/** What a worker is started with. */
export interface WorkerData {
  readonly rank: number
  readonly regions: SharedRegions
  /** URL of the runner module. */
  readonly runner: string
  /** `LaunchOptions.data`, for `RankControl.data`. */
  readonly data: unknown
  /** Whether the rank's thread is to be bound to cores (`ShmOptions.bindTo`): it sends its thread id and waits for `bound` before it loads anything. */
  readonly bind?: boolean
}

/** Launcher to rank. */
export type ToRank =
  | { readonly t: "message"; readonly body: unknown }
  | { readonly t: "peerFailed"; readonly rank: number; readonly reason: string }
  /** The launcher bound the rank's thread (or could not): it may load its runner. */
  | { readonly t: "bound" }

/** Rank to launcher. */
export type FromRank =
  | { readonly t: "message"; readonly body: unknown }
  /** The runner called `RankControl.exit`: the exit that follows is an orderly one. */
  | { readonly t: "exit"; readonly code: number }
  /** The rank's thread id, for the launcher to bind it (`WorkerData.bind`); undefined where the system has none to give. */
  | { readonly t: "thread"; readonly tid: number | undefined }
