/**
 * All-to-all by pairwise exchange: in step k (1..p-1) every rank sends its
 * item for rank + k and receives the item of rank - k, so each step is a
 * permutation and no rank is a hot spot. Below `PAIRWISE_MIN_BYTES` per
 * pair the same messages go all at once (`scattered`).
 *
 * Cost: (p-1)·(α + β·n) pairwise; α + (p-1)·(o + β·n) scattered (n: bytes per pair).
 */
import { Effect } from "effect"
import * as Datatypes from "../../codecs/Datatype.ts"
import type { CommState } from "../comm/CommState.ts"
import { InvalidArgument } from "../errors.ts"
import type { Encoded } from "../messaging/Message.ts"
import { attempt, blockLength, checkComm, checkCounts, checkDispls, checkList, extent } from "./checks.ts"
import type { CollectiveFailure } from "./errors.ts"
import { type Call, open, post, send, shareable, startSend, wait, waitEach } from "./link.ts"
import type { AlltoallOptions, AlltoallvOptions } from "./options.ts"
import { asTypedArray, assemble, blocks, checkFits, decodeValue, encodeValue, intoOption, isBufferForm, joinLists, noInto, output } from "./payload.ts"
import * as Shared from "./shared/calls.ts"

/** Sends `items[j]` to rank j and returns the item each rank sent to this one, by rank. */
export const pairwise = (call: Call, items: ReadonlyArray<Encoded>) =>
  Effect.gen(function*() {
    const { c } = call
    const p = c.size
    const r = c.rank
    const byRank = new Array<Encoded>(p)
    byRank[r] = items[r]!
    for (let k = 1; k < p; k++) {
      const source = (r - k + p) % p
      const incoming = post(call, source)
      yield* send(call, (r + k) % p, shareable(c, items[(r + k) % p]!))
      byRank[source] = yield* wait(incoming)
    }
    return byRank
  })

/**
 * The same exchange with every message in flight at once: all receives
 * posted, then all sends started in the pairwise order (rank + 1, rank + 2,
 * …, so that no rank is everyone's first target), then one wait. One round
 * instead of p - 1, for small and medium messages; the pairwise steps bound
 * the memory in flight for large ones. Both send the same messages, so ranks
 * may choose differently.
 */
export const scattered = (call: Call, items: ReadonlyArray<Encoded>) =>
  Effect.gen(function*() {
    const { c } = call
    const p = c.size
    const r = c.rank
    const sources = Array.from({ length: p - 1 }, (_, i) => (r - 1 - i + p) % p)
    const incoming = sources.map((source) => post(call, source))
    const sends = Array.from({ length: p - 1 }, (_, i) => startSend(call, (r + 1 + i) % p, shareable(c, items[(r + 1 + i) % p]!)))
    const byRank = new Array<Encoded>(p)
    byRank[r] = items[r]!
    for (let i = 0; i < sources.length; i++) byRank[sources[i]!] = yield* wait(incoming[i]!)
    yield* waitEach(sends)
    return byRank
  })

/** Items of this many bytes or more per pair go pairwise, one step at a time. */
export const PAIRWISE_MIN_BYTES = 256 * 1024

const exchangeAll = (call: Call, items: ReadonlyArray<Encoded>, largest: number) =>
  largest >= PAIRWISE_MIN_BYTES ? pairwise(call, items) : scattered(call, items)

/** The largest payload among encoded items, in bytes. */
const largestOf = (items: ReadonlyArray<Encoded>): number => {
  let most = 0
  for (const item of items) {
    let bytes = item.frames.header.byteLength
    for (const b of item.frames.buffers) bytes += b.byteLength
    if (bytes > most) most = bytes
  }
  return most
}

/**
 * `alltoall(values, { codec, into })`: rank j gets `values[j]` of every rank,
 * by rank (a typed array of `size` equal blocks: block j goes to rank j).
 */
export const start = (c: CommState, values: unknown, options: AlltoallOptions | undefined): Effect.Effect<unknown, CollectiveFailure> => {
  const name = "alltoall"
  checkComm(c)
  const p = c.size
  const into = intoOption(name, options?.into)
  if (isBufferForm(values, options?.codec)) {
    const buffer = asTypedArray(values)
    const datatype = Datatypes.of(buffer)
    const n = blockLength(name, buffer.length, p)
    const counts = new Array<number>(p).fill(n)
    const displs = counts.map((_, i) => i * n)
    const out = output(name, into, datatype, p * n)
    if (Shared.exchanges(c.shared)) return Effect.as(Shared.alltoallInto(c.shared, buffer, out, n), out)
    const items = blocks(buffer, counts, displs)
    return Effect.flatMap(exchangeAll(open(c, name), items, largestOf(items)), (got) => attempt(() => assemble(c, name, got, datatype, counts, displs, out)))
  }
  noInto(name, into)
  const list = checkList(name, "values", values, p)
  const items = list.map((v) => encodeValue(c, v, options?.codec))
  const call = open(c, name)
  const exchanged = Shared.exchanges(c.shared) ? Shared.alltoall(c.shared, items) : exchangeAll(call, items, largestOf(items))
  return Effect.flatMap(exchanged, (got) => attempt(() => got.map((m, i) => decodeValue(call.c, m, i, call.tag))))
}

/**
 * `alltoallv(values, { sendCounts, sendDispls, recvCounts, recvDispls, codec, into })`:
 * rank j gets `sendCounts[j]` elements (values) from `sendDispls[j]` of every
 * rank; the result holds rank i's part at `recvDispls[i]` (values: joined in
 * rank order unless `recvDispls` is given).
 */
export const startV = (c: CommState, values: unknown, options: AlltoallvOptions | undefined): Effect.Effect<unknown, CollectiveFailure> => {
  const name = "alltoallv"
  checkComm(c)
  const p = c.size
  const into = intoOption(name, options?.into)
  const sendCounts = checkCounts(name, "sendCounts", options?.sendCounts, p)
  const sendDispls = checkDispls(name, "sendDispls", options?.sendDispls, sendCounts)
  if (isBufferForm(values, options?.codec)) {
    const buffer = asTypedArray(values)
    const datatype = Datatypes.of(buffer)
    checkFits(name, "sendCounts and sendDispls", buffer.length, sendCounts, sendDispls)
    const recvCounts = checkCounts(name, "recvCounts", options?.recvCounts, p)
    const recvDispls = checkDispls(name, "recvDispls", options?.recvDispls, recvCounts)
    const out = output(name, into, datatype, extent(recvCounts, recvDispls))
    const items = blocks(buffer, sendCounts, sendDispls)
    return Effect.flatMap(exchangeAll(open(c, name), items, largestOf(items)), (got) => attempt(() => assemble(c, name, got, datatype, recvCounts, recvDispls, out)))
  }
  noInto(name, into)
  if (!Array.isArray(values)) throw new InvalidArgument({ argument: "values", message: `${name}: each rank passes an array of values (or a typed array)` })
  checkFits(name, "sendCounts and sendDispls", values.length, sendCounts, sendDispls)
  const recvCounts = options?.recvCounts !== undefined ? checkCounts(name, "recvCounts", options.recvCounts, p) : undefined
  const recvDispls = options?.recvDispls !== undefined ? checkDispls(name, "recvDispls", options.recvDispls, recvCounts ?? new Array(p).fill(0)) : undefined
  const items = sendCounts.map((n, j) => encodeValue(c, values.slice(sendDispls[j]!, sendDispls[j]! + n), options?.codec))
  const call = open(c, name)
  const exchanged = Shared.exchanges(c.shared) ? Shared.alltoall(c.shared, items) : exchangeAll(call, items, largestOf(items))
  return Effect.flatMap(exchanged, (got) => attempt(() => joinLists(name, got.map((m, i) => decodeValue(call.c, m, i, call.tag)), recvCounts, recvDispls)))
}
