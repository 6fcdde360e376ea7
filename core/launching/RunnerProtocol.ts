/**
 * The control messages between the launcher (World) and each rank's runner.
 * They are structured-cloned (threads) or serialized (processes).
 */
import type { FailureReport } from "../Failure.ts"
import type { Wait } from "../messaging/waits.ts"

/** Context ids each run may use: the world takes the first two, derived communicators the rest. */
export const CONTEXTS_PER_RUN = 1 << 16

/**
 * The world communicator's context id in run `id` (runs are numbered 1, 2, …
 * per world): point-to-point on it, collectives on the next id. A launcher
 * announces the first run's (65536) to ranks written in other languages.
 */
export const worldContextOf = (id: number): number => (id % CONTEXTS_PER_RUN) * CONTEXTS_PER_RUN

export interface Run {
  readonly _tag: "Run"
  readonly id: number
  readonly module: string
  readonly export: string | undefined
  readonly args: ReadonlyArray<unknown>
  readonly codec: string | undefined
  /** The world communicator's decoding limit (the codecs' default when absent). */
  readonly maxDecodedBytes?: number | undefined
  /** Replaces `process.argv.slice(1)` in the rank (the CLI passes the script and its arguments). */
  readonly argv: ReadonlyArray<string> | undefined
  /** Report a rank that waits this long without any progress (milliseconds; off when absent). */
  readonly stallMillis?: number | undefined
}

/** Asks a rank what it is doing (answered with a `Status` of the same round). */
export interface StatusQuery {
  readonly _tag: "Status"
  readonly round: number
}

export interface Interrupt {
  readonly _tag: "Interrupt"
  readonly id: number
}

export interface Exit {
  readonly _tag: "Exit"
}

export type ToRank = Run | Interrupt | Exit | StatusQuery

export interface Ready {
  readonly _tag: "Ready"
}

export type Done =
  | {
    readonly _tag: "Done"
    readonly id: number
    readonly ok: true
    /** The result, pickled. */
    readonly header: Uint8Array
    readonly buffers: ReadonlyArray<Uint8Array>
  }
  | { readonly _tag: "Done"; readonly id: number; readonly ok: false; readonly failure: FailureReport }

/** What a rank is doing, in answer to a `StatusQuery`. */
export interface Status {
  readonly _tag: "Status"
  readonly round: number
  /** The run in progress, or 0 when the rank's program has finished. */
  readonly run: number
  /**
   * Nothing runs on the rank: its event loop was idle since the last query,
   * and nothing outside rankflow (a timer, I/O) is pending.
   */
  readonly quiet: boolean
  /** What else is pending on the rank (`Timeout`, `FSReqCallback`, …): why it is not quiet. */
  readonly pending: ReadonlyArray<string>
  /** Packets sent and arrived, and the transport's activity count. */
  readonly sent: number
  readonly arrived: number
  readonly activity: number
  readonly waits: ReadonlyArray<Wait>
}

/** A rank waited `stallMillis` without progress (reported once per stall). */
export interface Stalled {
  readonly _tag: "Stalled"
  readonly run: number
  /** When the rank last made progress (`Date.now()`). */
  readonly since: number
  readonly waits: ReadonlyArray<Wait>
}

export type FromRank = Ready | Done | Status | Stalled
