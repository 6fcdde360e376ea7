/**
 * Allgather by Bruck's algorithm: in round k every rank sends the items it
 * has so far (up to 2^k) to rank - 2^k and receives as many from rank + 2^k,
 * so after ceil(log2 p) rounds each rank holds all p items. Works for any p.
 * Values travel as bundles forwarded without being decoded, then are put in
 * rank order; buffers laid out back to back are received straight into
 * their place in the result (`bruckInPlace`). When ranks sleep while
 * waiting, small contributions go through a gather and a broadcast along a
 * flat tree instead (`gatherBcast`).
 *
 * Cost: ceil(log2 p)·α + β·n·(p-1) (n: bytes per rank).
 */
import { Effect } from "effect"
import type { TypedArray } from "../../codecs/Datatype.ts"
import * as Datatypes from "../../codecs/Datatype.ts"
import { decodeError } from "../../codecs/errors.ts"
import type { CommState } from "../comm/CommState.ts"
import { asNow } from "../messaging/completion.ts"
import { InvalidArgument } from "../errors.ts"
import type { Encoded } from "../messaging/Message.ts"
import { pack, unpack } from "./bundle.ts"
import { attempt, checkComm, checkCounts, checkDispls, extent } from "./checks.ts"
import type { CollectiveFailure } from "./errors.ts"
import { type Call, open, post, postInto, send, shareable, startSend, wait, waitEach } from "./link.ts"
import type { AllgatherOptions, AllgathervOptions } from "./options.ts"
import { asTypedArray, assemble, decodeValue, encodeBuffer, encodeValue, intoOption, isBufferForm, joinLists, noInto, output } from "./payload.ts"
import { depth, radixFor } from "./tree.ts"
import { bcastTree, gatherTree } from "./treeCollectives.ts"
import * as Shared from "./shared/calls.ts"

/** Every rank's item on every rank, by rank. */
export const bruck = (call: Call, item: Encoded) =>
  Effect.gen(function*() {
    const { c } = call
    const p = c.size
    const r = c.rank
    // items[k] is the item of rank (r + k) mod p.
    const items: Array<Encoded> = [item]
    for (let dist = 1; dist < p; dist *= 2) {
      const count = Math.min(dist, p - dist)
      const source = (r + dist) % p
      const incoming = post(call, source)
      yield* send(call, (r - dist + p) % p, shareable(c, pack(items.slice(0, count))))
      const message = yield* wait(incoming)
      const received = yield* attempt(() => unpack(message))
      if (received.length !== count) {
        return yield* Effect.fail(decodeError("bundle", 0, `${call.name}: rank ${source} sent ${received.length} items instead of ${count}`))
      }
      for (const x of received) items.push(x)
    }
    const byRank = new Array<Encoded>(p)
    for (let k = 0; k < p; k++) byRank[(r + k) % p] = items[k]!
    return byRank
  })

/**
 * Bruck's rounds for buffers laid out back to back in rank order (packed
 * displacements) in `out`, which already holds this rank's block: each
 * round's blocks are received straight into their place, as one message per
 * run of ranks that does not wrap past the last rank (at most two), so
 * nothing is copied besides what the transport moves and no final rotation
 * is needed.
 */
export const bruckInPlace = (call: Call, out: TypedArray, counts: ReadonlyArray<number>, displs: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const { c } = call
    const p = c.size
    const r = c.rank
    /** The part of `out` holding the blocks of ranks first .. first+count-1 (mod p), as at most two runs. */
    const regions = (first: number, count: number): Array<TypedArray> => {
      const runs = first + count <= p ? [[first, first + count]] : [[first, p], [0, first + count - p]]
      return runs.map(([a, b]) => out.subarray(displs[a!]!, displs[b! - 1]! + counts[b! - 1]!))
    }
    for (let dist = 1; dist < p; dist *= 2) {
      const count = Math.min(dist, p - dist)
      const source = (r + dist) % p
      const dest = (r - dist + p) % p
      const incoming = regions(source, count).map((region) => postInto(call, source, region))
      yield* waitEach(regions(r, count).map((region) => startSend(call, dest, encodeBuffer(region))))
      yield* waitEach(incoming)
    }
    return out
  })

/** Whether blocks of `counts` at `displs` lie back to back in rank order. */
const isPacked = (counts: ReadonlyArray<number>, displs: ReadonlyArray<number>): boolean =>
  displs.every((d, i) => d === (i === 0 ? 0 : displs[i - 1]! + counts[i - 1]!))

/** The buffer allgather: Bruck in place when the layout is packed and ranks spin or the blocks are large. */
const allgatherBuffers = (c: CommState, name: string, buffer: TypedArray, counts: ReadonlyArray<number>, displs: ReadonlyArray<number>, into: TypedArray | undefined) => {
  const datatype = Datatypes.of(buffer)
  const out = output(name, into, datatype, extent(counts, displs))
  const k = radixFor(c)
  const perRank = extent(counts, displs) * datatype.size / c.size
  const tree = k > 2 && perRank < TREE_MAX_BYTES && 2 * depth(c.size, k) < depth(c.size, 2)
  const call = open(c, name)
  if (!tree && isPacked(counts, displs)) {
    // Shared (arena) memory is never sent from a collective: work in private memory then.
    const work = c.engine.transport.alloc?.owns(out) ? new datatype.ctor(out.length) : out
    work.set(buffer as any, displs[c.rank]!)
    return Effect.map(bruckInPlace(call, work, counts, displs), () => {
      if (work !== out) out.set(work as any)
      return out
    })
  }
  return Effect.flatMap((tree ? gatherBcast(call, encodeBuffer(buffer), k) : bruck(call, encodeBuffer(buffer))), (items) =>
    attempt(() => assemble(c, name, items, datatype, counts, displs, out)))
}

/**
 * Gather to rank 0 then broadcast the bundle of all items, along one
 * k-nomial tree: for small messages when ranks sleep while waiting, where
 * 2·ceil(log_k p) rounds beat Bruck's ceil(log2 p).
 */
export const gatherBcast = (call: Call, item: Encoded, k: number) =>
  Effect.gen(function*() {
    const gathered = yield* gatherTree(call, 0, item, k)
    const message = yield* bcastTree(call, 0, gathered === undefined ? undefined : pack(gathered), k)
    const items = gathered ?? (yield* attempt(() => unpack(message)))
    if (items.length !== call.c.size) {
      return yield* Effect.fail(decodeError("bundle", 0, `${call.name}: rank 0 sent ${items.length} items for ${call.c.size} ranks`))
    }
    return items
  })

/** Below this many bytes per rank, sleeping ranks allgather by `gatherBcast`. */
export const TREE_MAX_BYTES = 16 * 1024

/** The allgather algorithm for `c` and contributions of `bytes` (undefined: values of unknown size). */
const allgatherOf = (c: CommState, bytes: number | undefined) => {
  const k = radixFor(c)
  const tree = k > 2 && (bytes === undefined || bytes < TREE_MAX_BYTES) && 2 * depth(c.size, k) < depth(c.size, 2)
  return (call: Call, item: Encoded) => (tree ? gatherBcast(call, item, k) : bruck(call, item))
}

/**
 * `allgather(value, { codec, into })`: every rank's value on every rank, by
 * rank (typed arrays: their concatenation).
 */
export const start = (c: CommState, value: unknown, options: AllgatherOptions | undefined): Effect.Effect<unknown, CollectiveFailure> => {
  const name = "allgather"
  checkComm(c)
  const p = c.size
  const into = intoOption(name, options?.into)
  if (isBufferForm(value, options?.codec)) {
    const buffer = asTypedArray(value)
    const n = buffer.length
    if (c.shared !== undefined) {
      const out = output(name, into, Datatypes.of(buffer), p * n)
      return asNow(Shared.gatherInto(c.shared, name, buffer, -1, out), out)
    }
    const counts = new Array<number>(p).fill(n)
    return allgatherBuffers(c, name, buffer, counts, counts.map((_, i) => i * n), into)
  }
  noInto(name, into)
  const message = encodeValue(c, value, options?.codec)
  const call = open(c, name)
  const gathered = c.shared !== undefined ? Effect.map(Shared.gather(c.shared, name, message, -1), (items) => items!) : allgatherOf(c, undefined)(call, message)
  return Effect.flatMap(gathered, (items) => attempt(() => items.map((m, i) => decodeValue(call.c, m, i, call.tag))))
}

/**
 * `allgatherv(values, { counts, displs, codec, into })`: `counts[i]`
 * elements from every rank i at `displs[i]` (typed arrays), or every rank's
 * array of values joined in rank order (placed at `displs` if given).
 */
export const startV = (c: CommState, value: unknown, options: AllgathervOptions | undefined): Effect.Effect<unknown, CollectiveFailure> => {
  const name = "allgatherv"
  checkComm(c)
  const p = c.size
  const into = intoOption(name, options?.into)
  if (isBufferForm(value, options?.codec)) {
    const buffer = asTypedArray(value)
    const counts = checkCounts(name, "counts", options?.counts, p)
    const displs = checkDispls(name, "displs", options?.displs, counts)
    if (buffer.length !== counts[c.rank]) {
      throw new InvalidArgument({ argument: "counts", message: `${name}: this rank passes ${buffer.length} elements but counts[${c.rank}] is ${counts[c.rank]}` })
    }
    return allgatherBuffers(c, name, buffer, counts, displs, into)
  }
  noInto(name, into)
  if (!Array.isArray(value)) throw new InvalidArgument({ argument: "values", message: `${name}: each rank passes an array of values (or a typed array)` })
  const counts = options?.counts !== undefined ? checkCounts(name, "counts", options.counts, p) : undefined
  const displs = options?.displs !== undefined ? checkDispls(name, "displs", options.displs, counts ?? new Array(p).fill(0)) : undefined
  const message = encodeValue(c, value, options?.codec)
  const call = open(c, name)
  return Effect.flatMap(allgatherOf(c, undefined)(call, message), (items) => attempt(() => joinLists(name, items.map((m, i) => decodeValue(call.c, m, i, call.tag)), counts, displs)))
}
