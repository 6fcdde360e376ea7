/**
 * The control messages between the launcher (World) and each rank's runner.
 * They are structured-cloned (threads) or serialized (processes).
 */
import type { FailureReport } from "./Failure.ts"

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
}

export interface Interrupt {
  readonly _tag: "Interrupt"
  readonly id: number
}

export interface Exit {
  readonly _tag: "Exit"
}

export type ToRank = Run | Interrupt | Exit

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

export type FromRank = Ready | Done
