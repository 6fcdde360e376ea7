/**
 * Reduce-scatter of buffers by recursive halving: in round k rank r sends
 * the half of its range that its partner r xor 2^k keeps and combines the
 * half it keeps, so after log2 p rounds it holds one fully reduced block.
 * Non-powers of two pair up first, as in allreduce (an even rank hands its
 * buffer to the odd rank above it, which returns the even rank's block at
 * the end).
 *
 * Rounds go from the lowest bit up, so a rank's partial result always covers
 * an aligned block of consecutive ranks and combining keeps rank order (for
 * non-commutative ops too). With that order the block a rank ends with is
 * the bit reversal of its number, so the buffer is first copied into that
 * permuted order; the copy is needed anyway, as the input is the caller's.
 *
 * Cost: log2 p·α + β·n·(p-1)/p + γ·n·(p-1)/p (n: elements of the whole buffer).
 */
import { Effect } from "effect"
import type { TypedArray } from "../../codecs/Datatype.ts"
import * as Datatypes from "../../codecs/Datatype.ts"
import type { CommState } from "../comm/CommState.ts"
import { InvalidArgument } from "../errors.ts"
import type { CodecChoice, Encoded } from "../messaging/Message.ts"
import type { Op } from "../op/Op.ts"
import { attempt, blockLength, checkComm, checkCounts, checkInto, checkList } from "./checks.ts"
import type { CollectiveFailure } from "./errors.ts"
import { type Call, open, send } from "./link.ts"
import { checkOp, itemwise } from "./ops.ts"
import type { ReduceScatterBlockOptions, ReduceScatterOptions } from "./options.ts"
import { asTypedArray, blocks, decodeValue, encodeValue, finishItem, intoOption, isBufferForm, noInto } from "./payload.ts"
import { bufferResult, checkBufferOp, ofBuffers, ofValues, type Reduction } from "./reduction.ts"
import { borrow, giveBack } from "./scratch.ts"
import { floorPow2, radixFor } from "./tree.ts"
import { reduceTree, scatterTree } from "./treeCollectives.ts"

const bitReverse = (x: number, bits: number): number => {
  let y = 0
  for (let i = 0; i < bits; i++) y |= ((x >> i) & 1) << (bits - 1 - i)
  return y
}

/** Rank r's block (`counts[r]` elements, at the packed offset) of the elementwise reduction of every rank's `input`. */
export const recursiveHalving = (call: Call, red: Reduction<TypedArray>, input: TypedArray, counts: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const { c } = call
    const p = c.size
    const r = c.rank
    const n = input.length
    const pof2 = floorPow2(p)
    const rem = p - pof2
    const bits = Math.log2(pof2)
    const displs = new Array<number>(p + 1)
    displs[0] = 0
    for (let i = 0; i < p; i++) displs[i + 1] = displs[i]! + counts[i]!
    // Number nr of the power-of-two rounds stands for real ranks first(nr)..last(nr).
    const first = (nr: number) => (nr < rem ? 2 * nr : nr + rem)
    const last = (nr: number) => (nr < rem ? 2 * nr + 1 : nr + rem)
    // Virtual block j holds the data of number bitReverse(j), where the halving leaves it.
    const vdispls = new Array<number>(pof2 + 1)
    vdispls[0] = 0
    for (let j = 0; j < pof2; j++) {
      const nr = bitReverse(j, bits)
      vdispls[j + 1] = vdispls[j]! + displs[last(nr) + 1]! - displs[first(nr)]!
    }
    const work = borrow(Datatypes.of(input), n)
    for (let j = 0; j < pof2; j++) {
      const nr = bitReverse(j, bits)
      work.set(input.subarray(displs[first(nr)]!, displs[last(nr) + 1]!) as any, vdispls[j]!)
    }
    let nr: number
    if (r < 2 * rem) {
      if (r % 2 === 0) {
        const result = red.post(r + 1, counts[r]!, true)
        yield* send(call, r + 1, red.encode(work))
        giveBack(work)
        return yield* result.wait
      }
      const v = yield* red.post(r - 1, n, false).wait
      yield* attempt(() => red.combine(v, work, work))
      red.done(v)
      nr = r >> 1
    } else nr = r - rem
    const range = (lo: number, hi: number) => work.subarray(vdispls[lo]!, vdispls[hi]!)
    let lo = 0
    let hi = pof2
    for (let mask = 1; mask < pof2; mask <<= 1) {
      const partnerNr = nr ^ mask
      const partner = partnerNr < rem ? 2 * partnerNr + 1 : partnerNr + rem
      const mid = (lo + hi) / 2
      const lower = (nr & mask) === 0
      const [keepLo, keepHi, sendLo, sendHi] = lower ? [lo, mid, mid, hi] : [mid, hi, lo, mid]
      const kept = range(keepLo, keepHi)
      const incoming = red.post(partner, kept.length, false)
      yield* send(call, partner, red.encode(range(sendLo, sendHi)))
      const v = yield* incoming.wait
      yield* attempt(() => (lower ? red.combine(kept, v, kept) : red.combine(v, kept, kept)))
      red.done(v)
      lo = keepLo
      hi = keepHi
    }
    const block = range(lo, hi)
    const mine = r < 2 * rem ? block.slice(counts[r - 1]!) : block.slice()
    if (r < 2 * rem) yield* send(call, r - 1, red.encode(block.subarray(0, counts[r - 1]!)))
    giveBack(work)
    return mine
  })

/**
 * Values: reduce the arrays item by item to rank 0 (binomial, rank order),
 * then scatter the parts along the same tree; `counts[i]` items to rank i,
 * or one item each when `counts` is undefined.
 */
const ofValueLists = (c: CommState, name: string, op: Op, values: unknown, counts: ReadonlyArray<number> | undefined, codec: CodecChoice | undefined) => {
  const p = c.size
  const total = counts === undefined ? p : counts.reduce((a, b) => a + b, 0)
  checkList(name, "values", values, total)
  const call = open(c, name)
  return Effect.gen(function*() {
    const reduced = yield* reduceTree(call, 0, ofValues(call, itemwise(op), codec), values, 0, radixFor(c))
    let items: Array<Encoded> | undefined
    if (c.rank === 0) {
      const list = reduced as ReadonlyArray<unknown>
      items = yield* attempt(() => {
        if (counts === undefined) return list.map((v) => encodeValue(c, v, codec))
        let at = 0
        return counts.map((n) => encodeValue(c, list.slice(at, (at += n)), codec))
      })
    }
    const mine = yield* scatterTree(call, 0, items, radixFor(c))
    return yield* attempt(() => decodeValue(call.c, mine, 0, call.tag))
  })
}

/**
 * Buffers: recursive halving, which hands the op parts of buffers cut at
 * block boundaries; an op that takes whole buffers (grain 0) reduces them
 * whole to rank 0, whose result is scattered.
 */
const ofBufferBlocks = (c: CommState, name: string, op: Op, buffer: TypedArray, counts: ReadonlyArray<number>, into: TypedArray | undefined) => {
  checkBufferOp(op, buffer)
  if (op.grain === 2 && counts.some((n) => n % 2 !== 0)) {
    throw new InvalidArgument({ argument: "counts", message: `${name}: Op.${op.name} reads (value, index) pairs, so every count must be even; got ${counts.join(", ")}` })
  }
  if (into !== undefined) checkInto(name, into, Datatypes.of(buffer), counts[c.rank]!)
  const call = open(c, name)
  const red = ofBuffers(call, op, buffer)
  if (op.grain > 0) return Effect.map(recursiveHalving(call, red, buffer, counts), (block) => bufferResult(block, buffer, into))
  return Effect.gen(function*() {
    const reduced = yield* reduceTree(call, 0, red, buffer, buffer.length, radixFor(c))
    const items = reduced === undefined ? undefined : blocks(reduced, counts, packed(counts))
    const mine = yield* scatterTree(call, 0, items, radixFor(c))
    return yield* attempt(() => finishItem(c, name, mine, 0, call.tag, into, c.rank === 0))
  })
}

const packed = (counts: ReadonlyArray<number>): Array<number> => {
  let at = 0
  return counts.map((n) => (at += n) - n)
}

/**
 * `reduceScatterBlock(values, op, { codec, into })`: every rank passes `size`
 * equal blocks (a typed array) or `size` values; rank i gets the reduction of
 * everyone's block (value) i.
 */
export const startBlock = (c: CommState, values: unknown, opArg: Op, options: ReduceScatterBlockOptions | undefined): Effect.Effect<unknown, CollectiveFailure> => {
  const name = "reduceScatterBlock"
  checkComm(c)
  const op = checkOp(name, opArg)
  const into = intoOption(name, options?.into)
  if (isBufferForm(values, options?.codec)) {
    const buffer = asTypedArray(values)
    const n = blockLength(name, buffer.length, c.size)
    return ofBufferBlocks(c, name, op, buffer, new Array<number>(c.size).fill(n), into)
  }
  noInto(name, into)
  return ofValueLists(c, name, op, values, undefined, options?.codec)
}

/**
 * `reduceScatter(values, op, { counts, codec, into })`: every rank passes
 * `sum(counts)` elements (values); rank i gets `counts[i]` of the
 * elementwise (itemwise) reduction, from the packed offset of its part.
 */
export const start = (c: CommState, values: unknown, opArg: Op, options: ReduceScatterOptions | undefined): Effect.Effect<unknown, CollectiveFailure> => {
  const name = "reduceScatter"
  checkComm(c)
  const op = checkOp(name, opArg)
  const counts = checkCounts(name, "counts", options?.counts, c.size)
  const into = intoOption(name, options?.into)
  if (isBufferForm(values, options?.codec)) {
    const buffer = asTypedArray(values)
    const total = counts.reduce((a, b) => a + b, 0)
    if (buffer.length !== total) {
      throw new InvalidArgument({ argument: "counts", message: `${name}: counts add up to ${total} but the buffer has ${buffer.length} elements` })
    }
    return ofBufferBlocks(c, name, op, buffer, counts, into)
  }
  noInto(name, into)
  return ofValueLists(c, name, op, values, counts, options?.codec)
}
