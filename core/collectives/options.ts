/**
 * Options of the collectives. Every option is optional except the counts of
 * the v-variants, which MPI also requires.
 *
 * - `root`: the rank that sends (bcast, scatter) or receives (gather,
 *   reduce); default 0. Significant on every rank, and the same on all.
 * - `codec`: the codec for values instead of the communicator's; naming
 *   one also makes a typed array travel as a value (the object form).
 * - `into`: for the buffer form, a typed array of the caller's that receives
 *   the result (at least as long as the result; the result is written from
 *   its start and `into` itself is returned).
 * - counts and displacements are in elements (buffer form) or values (object
 *   form); displacements default to the packed ones (prefix sums of counts).
 */
import type { TypedArray } from "../../codecs/Datatype.ts"
import type { CodecChoice } from "../messaging/Message.ts"

export interface CodecOption {
  /** Codec for values (default: the communicator's). Naming one sends typed arrays as values too. */
  readonly codec?: CodecChoice
}

export interface RootOption {
  /** The root rank (default 0). */
  readonly root?: number
}

export interface IntoOption {
  /** Buffer form: write the result into this array (same datatype, long enough) and return it. */
  readonly into?: TypedArray
}

export interface BcastOptions extends RootOption, CodecOption, IntoOption {}
export interface ScatterOptions extends RootOption, CodecOption, IntoOption {}
export interface GatherOptions extends RootOption, CodecOption, IntoOption {}
export interface AllgatherOptions extends CodecOption, IntoOption {}
export interface AlltoallOptions extends CodecOption, IntoOption {}
export interface ReduceOptions extends RootOption, CodecOption, IntoOption {}
export interface AllreduceOptions extends CodecOption, IntoOption {
  /**
   * Tuning: force an algorithm (every rank must pass the same). By default
   * buffers of 64 KiB or more on more than two ranks take Rabenseifner's
   * (buffers only); smaller ones and values take recursive doubling, or,
   * when ranks sleep while waiting (more ranks than cores), a reduce to rank
   * 0 and broadcast along a flat tree ("tree") where that takes no more rounds.
   */
  readonly algorithm?: "recursive-doubling" | "rabenseifner" | "tree"
}
export interface ScanOptions extends CodecOption, IntoOption {}
export interface ReduceScatterBlockOptions extends CodecOption, IntoOption {}

export interface ScattervOptions extends RootOption, CodecOption, IntoOption {
  /** At the root: how many elements (values) each rank gets. */
  readonly counts?: ReadonlyArray<number>
  /** At the root: where each rank's part starts (default: packed). */
  readonly displs?: ReadonlyArray<number>
}

export interface GathervOptions extends RootOption, CodecOption, IntoOption {
  /** At the root: how many elements (values) each rank sends; required for buffers. */
  readonly counts?: ReadonlyArray<number>
  /** At the root: where each rank's part goes (default: packed). */
  readonly displs?: ReadonlyArray<number>
}

export interface AllgathervOptions extends CodecOption, IntoOption {
  /** How many elements (values) each rank sends; required for buffers. */
  readonly counts?: ReadonlyArray<number>
  /** Where each rank's part goes (default: packed). */
  readonly displs?: ReadonlyArray<number>
}

export interface AlltoallvOptions extends CodecOption, IntoOption {
  /** How many elements (values) this rank sends to each rank. */
  readonly sendCounts: ReadonlyArray<number>
  /** Where each rank's part starts in what this rank sends (default: packed). */
  readonly sendDispls?: ReadonlyArray<number>
  /** How many elements (values) this rank receives from each rank; required for buffers. */
  readonly recvCounts?: ReadonlyArray<number>
  /** Where each rank's part goes in the result (default: packed). */
  readonly recvDispls?: ReadonlyArray<number>
}

export interface ReduceScatterOptions extends CodecOption, IntoOption {
  /** How many elements (values) of the reduction each rank gets. */
  readonly counts: ReadonlyArray<number>
}
