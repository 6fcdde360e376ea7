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

/**
 * The `codec` option of a collective: encode values with this codec instead of the communicator's.
 *
 * @example
 * ```ts
 * const table = yield* world.bcast(rows, { root: 0, codec: "marshal" })
 * ```
 */
export interface CodecOption {
  /** Codec for values (default: the communicator's). Naming one sends typed arrays as values too. */
  readonly codec?: CodecChoice
}

/**
 * The `root` option of a rooted collective (default 0, the same on every rank).
 *
 * @example
 * ```ts
 * const total = yield* world.reduce(x, Op.SUM, { root: 2 })   // the total on rank 2, undefined elsewhere
 * ```
 */
export interface RootOption {
  /** The root rank (default 0). */
  readonly root?: number
}

/**
 * The `into` option of a collective's buffer form: the caller's array that receives the result.
 *
 * @example
 * ```ts
 * const sums = new Float64Array(n)
 * yield* world.allreduce(local, Op.SUM, { into: sums })   // no allocation per call
 * ```
 */
export interface IntoOption {
  /** Buffer form: write the result into this array (same datatype, long enough) and return it. */
  readonly into?: TypedArray
}

/**
 * Options of `bcast`: `root`, `codec`, `into`.
 *
 * @example
 * ```ts
 * const params = yield* world.bcast(world.rank === 0 ? load() : undefined, { root: 0 })
 * ```
 */
export interface BcastOptions extends RootOption, CodecOption, IntoOption {}
/**
 * Options of `scatter`: `root`, `codec`, `into`.
 *
 * @example
 * ```ts
 * const mine = yield* world.scatter(world.rank === 0 ? chunks : undefined, { root: 0 })
 * ```
 */
export interface ScatterOptions extends RootOption, CodecOption, IntoOption {}
/**
 * Options of `gather`: `root`, `codec`, `into`.
 *
 * @example
 * ```ts
 * const all = yield* world.gather(result, { root: 0 })   // every rank's result on rank 0, undefined elsewhere
 * ```
 */
export interface GatherOptions extends RootOption, CodecOption, IntoOption {}
/**
 * Options of `allgather`: `codec`, `into`.
 *
 * @example
 * ```ts
 * const everyone = yield* world.allgather(Float64Array.of(x), { into: new Float64Array(world.size) })
 * ```
 */
export interface AllgatherOptions extends CodecOption, IntoOption {}
/**
 * Options of `alltoall`: `codec`, `into`.
 *
 * @example
 * ```ts
 * const received = yield* world.alltoall(outgoing)   // outgoing[i] goes to rank i
 * ```
 */
export interface AlltoallOptions extends CodecOption, IntoOption {}
/**
 * Options of `reduce`: `root`, `codec`, `into`.
 *
 * @example
 * ```ts
 * const total = yield* world.reduce(Float64Array.of(x), Op.SUM, { root: 0 })
 * ```
 */
export interface ReduceOptions extends RootOption, CodecOption, IntoOption {}
/**
 * Options of `allreduce`: `codec`, `into`, and `algorithm` to force one.
 *
 * @example
 * ```ts
 * yield* world.allreduce(grad, Op.SUM, { into: grad, algorithm: "rabenseifner" })
 * ```
 */
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
/**
 * Options of `scan` and `exscan`: `codec`, `into`.
 *
 * @example
 * ```ts
 * const offset = yield* world.exscan(count, Op.SUM)   // undefined on rank 0
 * ```
 */
export interface ScanOptions extends CodecOption, IntoOption {}
/**
 * Options of `reduceScatterBlock`: `codec`, `into`.
 *
 * @example
 * ```ts
 * const myBlock = yield* world.reduceScatterBlock(new Float64Array(world.size * 4), Op.SUM)   // 4 elements each
 * ```
 */
export interface ReduceScatterBlockOptions extends CodecOption, IntoOption {}

/**
 * Options of `scatterv`: at the root, `counts` (and `displs`) of each rank's part; `root`, `codec`, `into`.
 *
 * @example
 * ```ts
 * const part = yield* world.scatterv(world.rank === 0 ? data : undefined, { root: 0, counts: [1, 2, 3, 4] })
 * ```
 */
export interface ScattervOptions extends RootOption, CodecOption, IntoOption {
  /** At the root: how many elements (values) each rank gets. */
  readonly counts?: ReadonlyArray<number>
  /** At the root: where each rank's part starts (default: packed). */
  readonly displs?: ReadonlyArray<number>
}

/**
 * Options of `gatherv`: at the root, `counts` (and `displs`) of each rank's part; `root`, `codec`, `into`.
 *
 * @example
 * ```ts
 * const all = yield* world.gatherv(Float64Array.from(mine), { root: 0, counts: [1, 2, 3, 4] })
 * ```
 */
export interface GathervOptions extends RootOption, CodecOption, IntoOption {
  /** At the root: how many elements (values) each rank sends; required for buffers. */
  readonly counts?: ReadonlyArray<number>
  /** At the root: where each rank's part goes (default: packed). */
  readonly displs?: ReadonlyArray<number>
}

/**
 * Options of `allgatherv`: `counts` (and `displs`) of each rank's part; `codec`, `into`.
 *
 * @example
 * ```ts
 * const all = yield* world.allgatherv(Float64Array.from(mine), { counts: [1, 2, 3, 4] })
 * ```
 */
export interface AllgathervOptions extends CodecOption, IntoOption {
  /** How many elements (values) each rank sends; required for buffers. */
  readonly counts?: ReadonlyArray<number>
  /** Where each rank's part goes (default: packed). */
  readonly displs?: ReadonlyArray<number>
}

/**
 * Options of `alltoallv`: `sendCounts` (required) and `recvCounts`, with their displacements; `codec`, `into`.
 *
 * @example
 * ```ts
 * const got = yield* world.alltoallv(send, { sendCounts: [1, 2], recvCounts: [2, 1] })
 * ```
 */
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

/**
 * Options of `reduceScatter`: `counts` (required), how many elements of the reduction each rank gets; `codec`, `into`.
 *
 * @example
 * ```ts
 * const mine = yield* world.reduceScatter(new Float64Array(6), Op.SUM, { counts: [1, 2, 3] })   // on 3 ranks
 * ```
 */
export interface ReduceScatterOptions extends CodecOption, IntoOption {
  /** How many elements (values) of the reduction each rank gets. */
  readonly counts: ReadonlyArray<number>
}
