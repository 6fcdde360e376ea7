/**
 * Neighbour collectives on a Cartesian communicator
 * (MPI_Neighbor_allgather, MPI_Neighbor_alltoall): each rank exchanges with
 * its 2·ndims neighbours only, in MPI's order: for each dimension d, the
 * neighbour at -1 (block 2d) then the one at +1 (block 2d + 1), as
 * `shift(d, 1)` gives them (`source`, then `dest`).
 *
 * What a rank sends toward its -1 neighbour arrives there as the block from
 * that neighbour's +1 side, and the reverse (MPI-4.1 §8.6: block s of the
 * sender lands in block s^1 of the receiver). That holds even where one rank
 * is both neighbours (a periodic dimension of 1 or 2 ranks), because the two
 * directions travel with different tags. A `PROC_NULL` neighbour (the edge of
 * a non-periodic dimension) sends and receives nothing: its result is
 * `undefined` (values), or its block of the result is left as it was
 * (buffers: zero, or what `into` held).
 *
 * Cost: one round of 2·ndims sends and receives, all in flight at once.
 */
import { Effect } from "effect"
import * as Datatypes from "../../codecs/Datatype.ts"
import type { TypedArray } from "../../codecs/Datatype.ts"
import type { CommState } from "../comm/CommState.ts"
import { PROC_NULL } from "../messaging/Matching.ts"
import type { Encoded } from "../messaging/Message.ts"
import type { Request } from "../messaging/Request.ts"
import { attempt, blockLength, checkComm, checkList } from "./checks.ts"
import type { CollectiveError, CollectiveFailure, CollectiveInvalid } from "./errors.ts"
import { type Call, open, post, release, shareable, startSend, wait, waitEach } from "./link.ts"
import type { CodecOption, IntoOption } from "./options.ts"
import { asTypedArray, decodeBuffer, decodeValue, encodeBuffer, encodeValue, intoOption, isBufferForm, noInto, output } from "./payload.ts"
import { blocking, nonBlocking } from "./run.ts"

/**
 * Options of the neighbor collectives: `codec`, `into`.
 *
 * @example
 * ```ts
 * const halo = yield* grid.neighborAllgather(Float64Array.of(edge), { into: new Float64Array(4) })
 * ```
 */
export interface NeighborOptions extends CodecOption, IntoOption {}

type Run<A> = Effect.Effect<A, CollectiveError>
type Start<A> = Effect.Effect<Request<A, CollectiveFailure>, CollectiveInvalid>

/**
 * The neighbor collectives of a communicator with a topology: each rank exchanges with its neighbours only.
 *
 * @example
 * ```ts
 * const [up, down, left, right] = yield* grid.neighborAllgather(myTemperature)
 * const fromEach = yield* grid.neighborAlltoall([toUp, toDown, toLeft, toRight])
 * ```
 */
export interface NeighborCollectives {
  /**
   * Every neighbour's value, in neighbour order (MPI_Neighbor_allgather):
   * `undefined` where the neighbour is `PROC_NULL`. A typed array gives a
   * typed array of 2·ndims blocks.
   *
   * @example
   * ```ts
   * const [up, down, left, right] = yield* grid.neighborAllgather(myTemperature)
   * ```
   */
  neighborAllgather<T extends TypedArray>(buffer: T, options?: NeighborOptions): Run<T>
  neighborAllgather<A>(value: A, options?: NeighborOptions): Run<Array<A | undefined>>
  /** Starts a neighbour allgather (MPI_Ineighbor_allgather). */
  ineighborAllgather<T extends TypedArray>(buffer: T, options?: NeighborOptions): Start<T>
  ineighborAllgather<A>(value: A, options?: NeighborOptions): Start<Array<A | undefined>>

  /**
   * A value for each neighbour, in neighbour order, and back the value each
   * neighbour sent this rank (MPI_Neighbor_alltoall): `values` has 2·ndims
   * entries (a typed array: 2·ndims equal blocks). A halo exchange in one call.
   *
   * @example
   * ```ts
   * const [fromUp, fromDown] = yield* line.neighborAlltoall([firstRow, lastRow])
   * ```
   */
  neighborAlltoall<T extends TypedArray>(buffer: T, options?: NeighborOptions): Run<T>
  neighborAlltoall<A>(values: ReadonlyArray<A>, options?: NeighborOptions): Run<Array<A | undefined>>
  /** Starts a neighbour alltoall (MPI_Ineighbor_alltoall). */
  ineighborAlltoall<T extends TypedArray>(buffer: T, options?: NeighborOptions): Start<T>
  ineighborAlltoall<A>(values: ReadonlyArray<A>, options?: NeighborOptions): Start<Array<A | undefined>>
}

/**
 * Sends `items[i]` to neighbour i and returns what each neighbour sent this
 * rank, by neighbour (undefined for PROC_NULL). Every receive is posted
 * before any send is waited on.
 */
const exchange = (toLower: Call, toUpper: Call, neighbors: ReadonlyArray<number>, items: ReadonlyArray<Encoded>) =>
  Effect.suspend(() => {
    const c = toLower.c
    // Block 2d comes from the -1 neighbour, which sent it toward its +1 side; block 2d+1 the reverse.
    const incoming = neighbors.map((n, i) => (n === PROC_NULL ? undefined : post(i % 2 === 0 ? toUpper : toLower, n)))
    const outgoing = neighbors.flatMap((n, i) => (n === PROC_NULL ? [] : [startSend(i % 2 === 0 ? toLower : toUpper, n, shareable(c, items[i]!))]))
    return Effect.andThen(
      waitEach(outgoing),
      Effect.forEach(incoming, (r) => (r === undefined ? Effect.undefined : wait(r)))
    )
  })

const calls = (c: CommState, name: string): readonly [Call, Call] => [open(c, name), open(c, name)]

/** Places each received block `i` (n elements) at `i·n` of `out`; PROC_NULL blocks stay as they were. */
const placeBlocks = (c: CommState, name: string, received: ReadonlyArray<Encoded | undefined>, neighbors: ReadonlyArray<number>, out: TypedArray, n: number) => {
  const datatype = Datatypes.of(out)
  received.forEach((m, i) => {
    if (m === undefined) return
    const array = decodeBuffer(name, m, neighbors[i]!, datatype, n)
    out.set(array as never, i * n)
    release(c, array)
  })
  return out
}

const decodeValues = (c: CommState, received: ReadonlyArray<Encoded | undefined>, neighbors: ReadonlyArray<number>, tag: number) =>
  received.map((m, i) => (m === undefined ? undefined : decodeValue(c, m, neighbors[i]!, tag)))

/** `neighborAllgather(value, { codec, into })` on a communicator whose neighbours are `neighbors`. */
export const startAllgather = (c: CommState, neighbors: ReadonlyArray<number>, value: unknown, options: NeighborOptions | undefined): Effect.Effect<unknown, CollectiveFailure> => {
  const name = "neighborAllgather"
  checkComm(c)
  const into = intoOption(name, options?.into)
  const k = neighbors.length
  if (isBufferForm(value, options?.codec)) {
    const buffer = asTypedArray(value)
    const n = buffer.length
    const out = output(name, into, Datatypes.of(buffer), k * n)
    const [toLower, toUpper] = calls(c, name)
    const item = encodeBuffer(buffer)
    return Effect.flatMap(exchange(toLower, toUpper, neighbors, neighbors.map(() => item)), (got) => attempt(() => placeBlocks(c, name, got, neighbors, out, n)))
  }
  noInto(name, into)
  const item = encodeValue(c, value, options?.codec)
  const [toLower, toUpper] = calls(c, name)
  return Effect.flatMap(exchange(toLower, toUpper, neighbors, neighbors.map(() => item)), (got) => attempt(() => decodeValues(toLower.c, got, neighbors, toLower.tag)))
}

/** `neighborAlltoall(values, { codec, into })` on a communicator whose neighbours are `neighbors`. */
export const startAlltoall = (c: CommState, neighbors: ReadonlyArray<number>, values: unknown, options: NeighborOptions | undefined): Effect.Effect<unknown, CollectiveFailure> => {
  const name = "neighborAlltoall"
  checkComm(c)
  const into = intoOption(name, options?.into)
  const k = neighbors.length
  if (isBufferForm(values, options?.codec)) {
    const buffer = asTypedArray(values)
    const n = k === 0 ? 0 : blockLength(name, buffer.length, k)
    const out = output(name, into, Datatypes.of(buffer), k * n)
    const items = neighbors.map((_, i) => encodeBuffer(buffer.subarray(i * n, (i + 1) * n)))
    const [toLower, toUpper] = calls(c, name)
    return Effect.flatMap(exchange(toLower, toUpper, neighbors, items), (got) => attempt(() => placeBlocks(c, name, got, neighbors, out, n)))
  }
  noInto(name, into)
  const list = checkList(name, "values", values, k)
  const items = list.map((v) => encodeValue(c, v, options?.codec))
  const [toLower, toUpper] = calls(c, name)
  return Effect.flatMap(exchange(toLower, toUpper, neighbors, items), (got) => attempt(() => decodeValues(toLower.c, got, neighbors, toLower.tag)))
}

/** The neighbour collectives of the communicator with state `c` and neighbours `neighbors` (comm ranks or PROC_NULL, in MPI's order). */
export const make = (c: CommState, neighbors: ReadonlyArray<number>): NeighborCollectives => ({
  neighborAllgather: (value: unknown, options?: NeighborOptions) => blocking(() => startAllgather(c, neighbors, value, options)),
  ineighborAllgather: (value: unknown, options?: NeighborOptions) => nonBlocking(c, () => startAllgather(c, neighbors, value, options)),
  neighborAlltoall: (values: unknown, options?: NeighborOptions) => blocking(() => startAlltoall(c, neighbors, values, options)),
  ineighborAlltoall: (values: unknown, options?: NeighborOptions) => nonBlocking(c, () => startAlltoall(c, neighbors, values, options))
}) as NeighborCollectives
