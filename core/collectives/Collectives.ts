/**
 * The collective operations of a communicator, as methods (`Comm` extends
 * this interface). Each has a blocking form and a non-blocking `i`-prefixed
 * form that returns a `Request` at once; the blocking form is the
 * non-blocking one waited on.
 *
 * Object form and buffer form: a typed array (or `[data, datatype, count]`)
 * takes the buffer form automatically, as in point-to-point: no codec, the
 * semantics of MPI's uppercase calls (elementwise reductions, concatenated
 * gathers, counts in elements), and `into` to receive into an array of your
 * own. Anything else is a value sent through the communicator's codec, with
 * mpi4py's semantics (`gather` gives the root a list, `scatter` takes a list
 * of `size` values, `exscan` gives rank 0 undefined). Naming a `codec` makes
 * a typed array a value too.
 *
 * Every rank must call the same collectives in the same order (MPI's rule).
 * Arguments that are wrong everywhere (a bad root, a bad op) fail the call on
 * every rank before it communicates. Buffers passed to a non-blocking
 * collective must not be changed until its request completes.
 *
 * @example
 * ```ts
 * const world = yield* Comm.World
 * const config = yield* world.bcast(world.rank === 0 ? loadConfig() : undefined)
 * const total = yield* world.allreduce(local, Op.SUM)
 * const parts = yield* world.gather(result, { root: 0 })      // array at rank 0
 * const sums = yield* world.allreduce(new Float64Array(grid), Op.SUM)
 * const req = yield* world.iallreduce(residual, Op.MAX)
 * // … overlap work …
 * const worst = yield* Request.wait(req)
 * ```
 */
import type { Effect } from "effect"
import type { TypedArray } from "../../codecs/Datatype.ts"
import type { CommState } from "../comm/CommState.ts"
import type { Op } from "../op/Op.ts"
import type { Request } from "../messaging/Request.ts"
import { type DeviceArray, type DeviceErrorOf, isDeviceArray } from "../comm/DeviceArray.ts"
import * as Allgather from "./allgather.ts"
import * as Allreduce from "./allreduce.ts"
import * as Alltoall from "./alltoall.ts"
import * as Barrier from "./barrier.ts"
import * as Bcast from "./bcast.ts"
import * as Device from "./device.ts"
import type { CollectiveError, CollectiveFailure, CollectiveInvalid } from "./errors.ts"
import * as Gather from "./gather.ts"
import type * as O from "./options.ts"
import * as Reduce from "./reduce.ts"
import * as ReduceScatter from "./reduceScatter.ts"
import { blocking, nonBlocking } from "./run.ts"
import * as Scan from "./scan.ts"
import * as Scatter from "./scatter.ts"

export type { CollectiveError, CollectiveFailure, CollectiveInvalid } from "./errors.ts"
export type * from "./options.ts"

type Run<A> = Effect.Effect<A, CollectiveError>
type Start<A> = Effect.Effect<Request<A, CollectiveFailure>, CollectiveInvalid>
/** A collective on a device array (GPU-aware; see DeviceArray.ts): the device's errors too. */
type RunOn<T, A> = Effect.Effect<A, CollectiveError | DeviceErrorOf<T>>
type StartOn<T, A> = Effect.Effect<Request<A, CollectiveFailure | DeviceErrorOf<T>>, CollectiveInvalid>

/**
 * The collectives of a communicator (`Comm` extends it): barrier, bcast, scatter, gather, allgather, alltoall, reduce, allreduce, scans, reduce-scatters, their v-variants and non-blocking forms.
 *
 * @example
 * ```ts
 * const total = yield* world.allreduce(local, Op.SUM)
 * const req = yield* world.ibarrier()
 * yield* Request.wait(req)
 * ```
 */
export interface Collectives {
  /** Waits until every rank has called it (MPI_Barrier); dissemination, ceil(log2 p) rounds. */
  barrier(): Run<void>
  /** Starts a barrier (MPI_Ibarrier). */
  ibarrier(): Start<void>

  /**
   * The root's value on every rank (MPI_Bcast). Non-roots pass anything
   * (usually undefined); a typed array travels as a buffer, into `into` if given.
   *
   * @example
   * ```ts
   * const data = yield* world.bcast(world.rank === 0 ? { key1: [7, 2.72] } : undefined, { root: 0 })
   * yield* world.bcast(grid, { root: 0, into: grid })     // MPI's Bcast of a buffer
   * ```
   */
  bcast<T extends DeviceArray>(buffer: T, options?: O.RootOption): RunOn<T, T>
  bcast<T extends TypedArray>(buffer: T | undefined, options: O.BcastOptions & { readonly into: T }): Run<T>
  bcast<T extends TypedArray>(buffer: T | undefined, options?: O.BcastOptions): Run<T>
  bcast<A>(value: A, options?: O.BcastOptions): Run<A>
  ibcast<T extends DeviceArray>(buffer: T, options?: O.RootOption): StartOn<T, T>
  ibcast<T extends TypedArray>(buffer: T | undefined, options: O.BcastOptions & { readonly into: T }): Start<T>
  ibcast<T extends TypedArray>(buffer: T | undefined, options?: O.BcastOptions): Start<T>
  ibcast<A>(value: A, options?: O.BcastOptions): Start<A>

  /**
   * One part of the root's data per rank (MPI_Scatter): the root passes an
   * array of `size` values, or a typed array of `size` equal blocks; other
   * ranks pass undefined.
   *
   * @example
   * ```ts
   * const chunk = yield* world.scatter(world.rank === 0 ? chunks : undefined, { root: 0 })
   * ```
   */
  scatter<T extends TypedArray>(buffer: T | undefined, options: O.ScatterOptions & { readonly into: T }): Run<T>
  scatter<A>(values: ReadonlyArray<A> | undefined | null, options?: O.ScatterOptions): Run<A>
  scatter<T extends TypedArray>(buffer: T | undefined, options?: O.ScatterOptions): Run<T>
  iscatter<T extends TypedArray>(buffer: T | undefined, options: O.ScatterOptions & { readonly into: T }): Start<T>
  iscatter<A>(values: ReadonlyArray<A> | undefined | null, options?: O.ScatterOptions): Start<A>
  iscatter<T extends TypedArray>(buffer: T | undefined, options?: O.ScatterOptions): Start<T>

  /**
   * Parts of different sizes (MPI_Scatterv): rank i gets `counts[i]`
   * elements (values) from `displs[i]` of the root's typed array (array).
   *
   * @example
   * ```ts
   * const mine = yield* world.scatterv(world.rank === 0 ? data : undefined, { counts: [3, 1, 2], root: 0 })
   * ```
   */
  scatterv<T extends TypedArray>(buffer: T | undefined, options: O.ScattervOptions & { readonly into: T }): Run<T>
  scatterv<A>(values: ReadonlyArray<A> | undefined | null, options: O.ScattervOptions): Run<Array<A>>
  scatterv<T extends TypedArray>(buffer: T | undefined, options: O.ScattervOptions): Run<T>
  iscatterv<T extends TypedArray>(buffer: T | undefined, options: O.ScattervOptions & { readonly into: T }): Start<T>
  iscatterv<A>(values: ReadonlyArray<A> | undefined | null, options: O.ScattervOptions): Start<Array<A>>
  iscatterv<T extends TypedArray>(buffer: T | undefined, options: O.ScattervOptions): Start<T>

  /**
   * Every rank's value at the root, by rank (MPI_Gather); the others get
   * undefined. Typed arrays: their concatenation.
   *
   * @example
   * ```ts
   * const all = yield* world.gather(world.rank ** 2, { root: 0 })   // [0, 1, 4, 9] at rank 0
   * ```
   */
  gather<T extends DeviceArray>(buffer: T, options?: O.RootOption): RunOn<T, T | undefined>
  gather<T extends TypedArray>(buffer: T, options?: O.GatherOptions): Run<T | undefined>
  gather<A>(value: A, options?: O.GatherOptions): Run<Array<A> | undefined>
  igather<T extends DeviceArray>(buffer: T, options?: O.RootOption): StartOn<T, T | undefined>
  igather<T extends TypedArray>(buffer: T, options?: O.GatherOptions): Start<T | undefined>
  igather<A>(value: A, options?: O.GatherOptions): Start<Array<A> | undefined>

  /**
   * Parts of different sizes at the root (MPI_Gatherv): `counts[i]` elements
   * from rank i at `displs[i]`; for values, every rank's array joined in rank order.
   *
   * @example
   * ```ts
   * const all = yield* world.gatherv(mine, { counts: [3, 1, 2], root: 0 })
   * ```
   */
  gatherv<T extends TypedArray>(buffer: T, options: O.GathervOptions): Run<T | undefined>
  gatherv<A>(values: ReadonlyArray<A>, options?: O.GathervOptions): Run<Array<A> | undefined>
  igatherv<T extends TypedArray>(buffer: T, options: O.GathervOptions): Start<T | undefined>
  igatherv<A>(values: ReadonlyArray<A>, options?: O.GathervOptions): Start<Array<A> | undefined>

  /**
   * Every rank's value on every rank, by rank (MPI_Allgather); Bruck's
   * algorithm, ceil(log2 p) rounds.
   *
   * @example
   * ```ts
   * const loads = yield* world.allgather(myLoad)
   * ```
   */
  allgather<T extends DeviceArray>(buffer: T): RunOn<T, T>
  allgather<T extends TypedArray>(buffer: T, options?: O.AllgatherOptions): Run<T>
  allgather<A>(value: A, options?: O.AllgatherOptions): Run<Array<A>>
  iallgather<T extends DeviceArray>(buffer: T): StartOn<T, T>
  iallgather<T extends TypedArray>(buffer: T, options?: O.AllgatherOptions): Start<T>
  iallgather<A>(value: A, options?: O.AllgatherOptions): Start<Array<A>>

  /**
   * Parts of different sizes on every rank (MPI_Allgatherv).
   *
   * @example
   * ```ts
   * const everything = yield* world.allgatherv(mine, { counts })
   * ```
   */
  allgatherv<T extends TypedArray>(buffer: T, options: O.AllgathervOptions): Run<T>
  allgatherv<A>(values: ReadonlyArray<A>, options?: O.AllgathervOptions): Run<Array<A>>
  iallgatherv<T extends TypedArray>(buffer: T, options: O.AllgathervOptions): Start<T>
  iallgatherv<A>(values: ReadonlyArray<A>, options?: O.AllgathervOptions): Start<Array<A>>

  /**
   * Personalized exchange (MPI_Alltoall): rank j gets `values[j]` from every
   * rank, by rank (typed arrays: `size` equal blocks). Pairwise exchange.
   *
   * @example
   * ```ts
   * const received = yield* world.alltoall(outgoing)   // outgoing.length === world.size
   * ```
   */
  alltoall<T extends TypedArray>(buffer: T, options?: O.AlltoallOptions): Run<T>
  alltoall<A>(values: ReadonlyArray<A>, options?: O.AlltoallOptions): Run<Array<A>>
  ialltoall<T extends TypedArray>(buffer: T, options?: O.AlltoallOptions): Start<T>
  ialltoall<A>(values: ReadonlyArray<A>, options?: O.AlltoallOptions): Start<Array<A>>

  /**
   * Personalized exchange of parts of different sizes (MPI_Alltoallv).
   *
   * @example
   * ```ts
   * const got = yield* world.alltoallv(data, { sendCounts, recvCounts })
   * ```
   */
  alltoallv<T extends TypedArray>(buffer: T, options: O.AlltoallvOptions): Run<T>
  alltoallv<A>(values: ReadonlyArray<A>, options: O.AlltoallvOptions): Run<Array<A>>
  ialltoallv<T extends TypedArray>(buffer: T, options: O.AlltoallvOptions): Start<T>
  ialltoallv<A>(values: ReadonlyArray<A>, options: O.AlltoallvOptions): Start<Array<A>>

  /**
   * `x0 op x1 op … op x(p-1)` at the root (MPI_Reduce); undefined elsewhere.
   * Typed arrays reduce elementwise.
   *
   * @example
   * ```ts
   * const pi = yield* world.reduce(partial, Op.SUM, { root: 0 })
   * ```
   */
  reduce<T extends DeviceArray>(buffer: T, op: Op, options?: O.RootOption): RunOn<T, T | undefined>
  reduce<T extends TypedArray>(buffer: T, op: Op, options?: O.ReduceOptions): Run<T | undefined>
  reduce<A>(value: A, op: Op, options?: O.ReduceOptions): Run<A | undefined>
  ireduce<T extends DeviceArray>(buffer: T, op: Op, options?: O.RootOption): StartOn<T, T | undefined>
  ireduce<T extends TypedArray>(buffer: T, op: Op, options?: O.ReduceOptions): Start<T | undefined>
  ireduce<A>(value: A, op: Op, options?: O.ReduceOptions): Start<A | undefined>

  /**
   * `x0 op x1 op … op x(p-1)` on every rank (MPI_Allreduce).
   *
   * @example
   * ```ts
   * const total = yield* world.allreduce(world.rank, Op.SUM)     // size·(size−1)/2
   * const worst = yield* world.allreduce(residual, Op.MAX)
   * ```
   */
  allreduce<T extends DeviceArray>(buffer: T, op: Op): RunOn<T, T>
  allreduce<T extends TypedArray>(buffer: T, op: Op, options?: O.AllreduceOptions): Run<T>
  allreduce<A>(value: A, op: Op, options?: O.AllreduceOptions): Run<A>
  iallreduce<T extends DeviceArray>(buffer: T, op: Op): StartOn<T, T>
  iallreduce<T extends TypedArray>(buffer: T, op: Op, options?: O.AllreduceOptions): Start<T>
  iallreduce<A>(value: A, op: Op, options?: O.AllreduceOptions): Start<A>

  /**
   * Inclusive prefix reduction (MPI_Scan): rank r gets `x0 op … op xr`.
   *
   * @example
   * ```ts
   * const upToMe = yield* world.scan(world.rank, Op.SUM)   // r·(r+1)/2
   * ```
   */
  scan<T extends TypedArray>(buffer: T, op: Op, options?: O.ScanOptions): Run<T>
  scan<A>(value: A, op: Op, options?: O.ScanOptions): Run<A>
  iscan<T extends TypedArray>(buffer: T, op: Op, options?: O.ScanOptions): Start<T>
  iscan<A>(value: A, op: Op, options?: O.ScanOptions): Start<A>

  /**
   * Exclusive prefix reduction (MPI_Exscan): rank r gets `x0 op … op x(r-1)`;
   * rank 0 gets undefined.
   *
   * @example
   * ```ts
   * const offset = (yield* world.exscan(myCount, Op.SUM)) ?? 0
   * ```
   */
  exscan<T extends TypedArray>(buffer: T, op: Op, options?: O.ScanOptions): Run<T | undefined>
  exscan<A>(value: A, op: Op, options?: O.ScanOptions): Run<A | undefined>
  iexscan<T extends TypedArray>(buffer: T, op: Op, options?: O.ScanOptions): Start<T | undefined>
  iexscan<A>(value: A, op: Op, options?: O.ScanOptions): Start<A | undefined>

  /**
   * Reduce then scatter equal blocks (MPI_Reduce_scatter_block): every rank
   * passes `size` blocks (values); rank i gets the reduction of block i.
   *
   * @example
   * ```ts
   * const mine = yield* world.reduceScatterBlock(contributions, Op.SUM)
   * ```
   */
  reduceScatterBlock<T extends TypedArray>(buffer: T, op: Op, options?: O.ReduceScatterBlockOptions): Run<T>
  reduceScatterBlock<A>(values: ReadonlyArray<A>, op: Op, options?: O.ReduceScatterBlockOptions): Run<A>
  ireduceScatterBlock<T extends TypedArray>(buffer: T, op: Op, options?: O.ReduceScatterBlockOptions): Start<T>
  ireduceScatterBlock<A>(values: ReadonlyArray<A>, op: Op, options?: O.ReduceScatterBlockOptions): Start<A>

  /**
   * Reduce then scatter parts of different sizes (MPI_Reduce_scatter): rank
   * i gets `counts[i]` elements (values) of the reduction.
   *
   * @example
   * ```ts
   * const mine = yield* world.reduceScatter(histogram, Op.SUM, { counts })
   * ```
   */
  reduceScatter<T extends TypedArray>(buffer: T, op: Op, options: O.ReduceScatterOptions): Run<T>
  reduceScatter<A>(values: ReadonlyArray<A>, op: Op, options: O.ReduceScatterOptions): Run<Array<A>>
  ireduceScatter<T extends TypedArray>(buffer: T, op: Op, options: O.ReduceScatterOptions): Start<T>
  ireduceScatter<A>(values: ReadonlyArray<A>, op: Op, options: O.ReduceScatterOptions): Start<Array<A>>
}

type AnyStart = (c: CommState, ...args: Array<any>) => Effect.Effect<unknown, CollectiveFailure>

type OnDevice = (c: CommState, ...args: Array<any>) => Effect.Effect<unknown, unknown>

const pair = <S extends AnyStart>(c: CommState, start: S, onDevice?: OnDevice) => ({
  run: (...args: Array<any>) => blocking(startCall.bind(undefined, c, start, onDevice, args)) as any,
  begin: (...args: Array<any>) => nonBlocking(c, startCall.bind(undefined, c, start, onDevice, args)) as any
})

/** A call's algorithm: on the device where its first argument is a device array. (Bound per call, not a closure: see messaging/completion.ts.) */
function startCall(c: CommState, start: AnyStart, onDevice: OnDevice | undefined, args: Array<any>): Effect.Effect<unknown, unknown> {
  return (onDevice !== undefined && isDeviceArray(args[0]) ? onDevice : start)(c, ...args)
}

/** The collectives of the communicator with state `c`. */
export const make = (c: CommState): Collectives => {
  const barrier = pair(c, Barrier.start)
  const bcast = pair(c, Bcast.start, Device.bcast)
  const scatter = pair(c, Scatter.start)
  const scatterv = pair(c, Scatter.startV)
  const gather = pair(c, Gather.start, Device.gather)
  const gatherv = pair(c, Gather.startV)
  const allgather = pair(c, Allgather.start, Device.allgather)
  const allgatherv = pair(c, Allgather.startV)
  const alltoall = pair(c, Alltoall.start)
  const alltoallv = pair(c, Alltoall.startV)
  const reduce = pair(c, Reduce.start, Device.reduce)
  const allreduce = pair(c, Allreduce.start, Device.allreduce)
  const scan = pair(c, Scan.startInclusive)
  const exscan = pair(c, Scan.startExclusive)
  const reduceScatterBlock = pair(c, ReduceScatter.startBlock)
  const reduceScatter = pair(c, ReduceScatter.start)
  return {
    barrier: barrier.run,
    ibarrier: barrier.begin,
    bcast: bcast.run,
    ibcast: bcast.begin,
    scatter: scatter.run,
    iscatter: scatter.begin,
    scatterv: scatterv.run,
    iscatterv: scatterv.begin,
    gather: gather.run,
    igather: gather.begin,
    gatherv: gatherv.run,
    igatherv: gatherv.begin,
    allgather: allgather.run,
    iallgather: allgather.begin,
    allgatherv: allgatherv.run,
    iallgatherv: allgatherv.begin,
    alltoall: alltoall.run,
    ialltoall: alltoall.begin,
    alltoallv: alltoallv.run,
    ialltoallv: alltoallv.begin,
    reduce: reduce.run,
    ireduce: reduce.begin,
    allreduce: allreduce.run,
    iallreduce: allreduce.begin,
    scan: scan.run,
    iscan: scan.begin,
    exscan: exscan.run,
    iexscan: exscan.begin,
    reduceScatterBlock: reduceScatterBlock.run,
    ireduceScatterBlock: reduceScatterBlock.begin,
    reduceScatter: reduceScatter.run,
    ireduceScatter: reduceScatter.begin
  }
}
