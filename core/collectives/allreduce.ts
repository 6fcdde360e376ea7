/**
 * Allreduce, three algorithms:
 *
 * - Recursive doubling (values, and small buffers): in round k rank r
 *   exchanges its partial result with r xor 2^k and combines, so after
 *   log2 p rounds every rank has the result. When p is not a power of two,
 *   the first 2·(p - p') ranks (p' the largest power of two below p) pair up
 *   first: each even one hands its contribution to the odd one above it and
 *   gets the result back at the end. Cost: (ceil(log2 p) + 2)·(α + β·n + γ·n).
 * - Rabenseifner (large buffers): a reduce-scatter by recursive halving
 *   (round k: exchange half of the range still held with r xor 2^k and
 *   combine the half kept) then an allgather by recursive doubling of the
 *   reduced blocks, with the same pairing for non-powers of two.
 *   Cost: 2·log2 p·α + 2·β·n·(p-1)/p + γ·n·(p-1)/p: the bandwidth term no
 *   longer grows with log p.
 *
 * - Reduce then broadcast along one k-nomial tree (`reduceBcast`): at every
 *   size when ranks sleep while waiting (see tree.ts), where its
 *   2·ceil(log_k p) rounds are no more than the others' and every round pays
 *   thread wake-ups.
 *
 * All keep rank order: in round k a rank's partial result covers an
 * aligned block of 2^k consecutive ranks and the partner's the adjacent
 * block, so combining with the lower block on the left is exact for
 * non-commutative ops too (the tree: see reduce.ts).
 */
import { Effect } from "effect"
import type { TypedArray } from "../../codecs/Datatype.ts"
import * as Datatypes from "../../codecs/Datatype.ts"
import type { CommState } from "../comm/CommState.ts"
import type { Encoded } from "../messaging/Message.ts"
import type { Op } from "../op/Op.ts"
import { attempt } from "./checks.ts"
import type { CollectiveFailure } from "./errors.ts"
import { type Call, postInto, send, wait } from "./link.ts"
import type { AllreduceOptions } from "./options.ts"
import { decodeBuffer, decodeValue } from "./payload.ts"
import { bufferReduction, bufferResult, foldOnBoard, prepare, reduceOnBoard, type Reduction } from "./reduction.ts"
import { depth, floorPow2, radixFor } from "./tree.ts"
import { bcastTree, reduceTree } from "./treeCollectives.ts"

/** Ranks taking part in the power-of-two rounds: their number there, or -1 for an even rank that handed off. */
const newRankOf = (r: number, rem: number): number => (r < 2 * rem ? (r % 2 === 0 ? -1 : r >> 1) : r - rem)

/** The real rank behind number `nr` of the power-of-two rounds. */
const realRankOf = (nr: number, rem: number): number => (nr < rem ? nr * 2 + 1 : nr + rem)

/** Allreduce by recursive doubling (any p, any op, values or buffers). */
export const recursiveDoubling = <T>(call: Call, red: Reduction<T>, value: T, count: number) =>
  Effect.gen(function*() {
    const { c } = call
    const p = c.size
    const r = c.rank
    const pof2 = floorPow2(p)
    const rem = p - pof2
    let acc = value
    let owned = false
    const absorb = (v: T, fromLower: boolean) =>
      attempt(() => {
        const out = owned ? acc : undefined
        acc = fromLower ? red.combine(v, acc, out) : red.combine(acc, v, out)
        owned = true
        red.done(v)
      })
    const nr = newRankOf(r, rem)
    if (r < 2 * rem) {
      if (nr < 0) {
        const result = red.post(r + 1, count, true)
        yield* send(call, r + 1, red.encode(acc))
        return yield* result.wait
      }
      yield* absorb(yield* red.post(r - 1, count, false).wait, true)
    }
    for (let mask = 1; mask < pof2; mask <<= 1) {
      const partner = realRankOf(nr ^ mask, rem)
      const incoming = red.post(partner, count, false)
      yield* send(call, partner, red.encode(acc))
      yield* absorb(yield* incoming.wait, partner < r)
    }
    if (r < 2 * rem) yield* send(call, r - 1, red.encode(acc))
    return acc
  })

/** Element offsets of `parts` near-equal blocks of `n` elements, cut at multiples of `grain` (`parts + 1` entries). */
const splitEvenly = (n: number, parts: number, grain: number): Array<number> => {
  const units = n / grain
  const displs = new Array<number>(parts + 1)
  const base = Math.floor(units / parts)
  const extra = units % parts
  displs[0] = 0
  for (let i = 0; i < parts; i++) displs[i + 1] = displs[i]! + (base + (i < extra ? 1 : 0)) * grain
  return displs
}

/**
 * Allreduce of a buffer by Rabenseifner's algorithm. `out` receives the
 * result (it may be `input` itself, or undefined for a fresh array). The
 * op's grain must be positive: blocks are cut at multiples of it. Halves
 * arrive in scratch arrays and are combined into place; the allgather's
 * blocks arrive straight into the result.
 */
export const rabenseifner = (call: Call, red: Reduction<TypedArray>, input: TypedArray, out: TypedArray | undefined) =>
  Effect.gen(function*() {
    const { c } = call
    const p = c.size
    const r = c.rank
    const n = input.length
    const pof2 = floorPow2(p)
    const rem = p - pof2
    const nr = newRankOf(r, rem)
    const acc = out ?? new (input.constructor as new(n: number) => TypedArray)(n)
    if (r < 2 * rem) {
      if (nr < 0) {
        // Hand the contribution to the odd rank above; the result comes back into `acc`.
        const result = postInto(call, r + 1, acc)
        yield* send(call, r + 1, red.encode(input))
        return yield* wait(result)
      }
      const v = yield* red.post(r - 1, n, false).wait
      yield* attempt(() => red.combine(v, input, acc))
      red.done(v)
    }
    // `src` holds this rank's partial result on the range it still works on.
    let src = r < 2 * rem ? acc : input
    const displs = splitEvenly(n, pof2, red.op.grain)
    const range = (lo: number, hi: number, of: TypedArray) => of.subarray(displs[lo]!, displs[hi]!)
    let lo = 0
    let hi = pof2
    for (let mask = 1; mask < pof2; mask <<= 1) {
      const partner = realRankOf(nr ^ mask, rem)
      const mid = (lo + hi) / 2
      const lower = (nr & mask) === 0
      const [keepLo, keepHi, sendLo, sendHi] = lower ? [lo, mid, mid, hi] : [mid, hi, lo, mid]
      const incoming = red.post(partner, displs[keepHi]! - displs[keepLo]!, false)
      yield* send(call, partner, red.encode(range(sendLo, sendHi, src)))
      const v = yield* incoming.wait
      const mine = range(keepLo, keepHi, src)
      const into = range(keepLo, keepHi, acc)
      yield* attempt(() => (lower ? red.combine(mine, v, into) : red.combine(v, mine, into)))
      red.done(v)
      src = acc
      lo = keepLo
      hi = keepHi
    }
    if (src === input && acc !== input) acc.set(input as any)
    for (let mask = pof2 >> 1; mask > 0; mask >>= 1) {
      const partner = realRankOf(nr ^ mask, rem)
      const size = hi - lo
      const [otherLo, otherHi] = (nr & mask) === 0 ? [hi, hi + size] : [lo - size, lo]
      const incoming = postInto(call, partner, range(otherLo, otherHi, acc))
      yield* send(call, partner, red.encode(range(lo, hi, acc)))
      yield* wait(incoming)
      lo = Math.min(lo, otherLo)
      hi = Math.max(hi, otherHi)
    }
    if (r < 2 * rem) yield* send(call, r - 1, red.encode(acc))
    return acc
  })

/**
 * Reduce to rank 0 then broadcast, both along one k-nomial tree: for small
 * messages when ranks sleep while waiting, where 2·ceil(log_k p) rounds
 * beat recursive doubling's (each round pays a wake-up).
 */
export const reduceBcast = <T>(call: Call, red: Reduction<T>, value: T, count: number, k: number, read: (m: Encoded) => T) =>
  Effect.gen(function*() {
    const reduced = yield* reduceTree(call, 0, red, value, count, k)
    const message = yield* bcastTree(call, 0, call.c.rank === 0 ? red.encode(reduced!) : undefined, k)
    return call.c.rank === 0 ? reduced! : yield* attempt(() => read(message))
  })

/** Rounds of recursive doubling over `p` ranks, the pairing for non-powers of two included. */
const doublingRounds = (p: number): number => Math.log2(floorPow2(p)) + (p === floorPow2(p) ? 0 : 2)

/**
 * Buffers of at least this many bytes (and at least one element per rank)
 * take Rabenseifner's algorithm; smaller ones recursive doubling. Measured
 * with bench/collectives.ts (see docs/collectives.md).
 */
export const RABENSEIFNER_MIN_BYTES = 64 * 1024

/**
 * `allreduce(value, op, { codec, into })`: `x0 op x1 op … op x(p-1)` on every
 * rank (typed arrays: elementwise).
 */
export const start = (c: CommState, value: unknown, opArg: Op, options: AllreduceOptions | undefined): Effect.Effect<unknown, CollectiveFailure> => {
  const name = "allreduce"
  const p = prepare(c, name, value, opArg, options)
  // The communicator's board, unless the call names a point-to-point algorithm.
  const board = options?.algorithm === undefined ? c.shared : undefined
  if (p.form === "buffer") {
    const onBoard = board !== undefined ? reduceOnBoard(c, p, -1) : undefined
    if (onBoard !== undefined) return onBoard as Effect.Effect<TypedArray, CollectiveFailure>
    const { call, buffer, into } = p
    const red = bufferReduction(p)
    const n = buffer.length
    const bytes = n * buffer.BYTES_PER_ELEMENT
    const k = radixFor(c)
    // When ranks sleep while they wait (more ranks than cores), every round of
    // an algorithm pays thread wake-ups: the flat reduce + broadcast wins
    // whenever it takes no more rounds than the alternative, at every size
    // (bench/collectives.ts: on 4 ranks of 2 cores, 1 MiB took 2.7 ms against
    // Rabenseifner's 9.1 ms in four rounds).
    const large = c.size > 2 && bytes >= RABENSEIFNER_MIN_BYTES
    const alternativeRounds = large ? 2 * doublingRounds(c.size) : doublingRounds(c.size)
    const sleeping = k > 2 && 2 * depth(c.size, k) <= alternativeRounds
    const algorithm = options?.algorithm ?? (sleeping ? "tree" : large ? "rabenseifner" : "recursive-doubling")
    if (algorithm === "rabenseifner" && p.op.grain > 0 && n >= floorPow2(c.size) * p.op.grain) {
      // `into` may serve as the working array unless it lies in shared memory (see link.shareable).
      const working = into !== undefined && (into.length === n) && !c.engine.transport.alloc?.owns(into) ? into : undefined
      return Effect.map(rabenseifner(call, red, buffer, working), (result) => bufferResult(result, buffer, into))
    }
    const datatype = Datatypes.of(buffer)
    const run = algorithm === "tree"
      ? reduceBcast(call, red, buffer, n, k, (m) => decodeBuffer(name, m, 0, datatype, n))
      : recursiveDoubling(call, red, buffer, n)
    return Effect.map(run, (result) => bufferResult(result, buffer, into))
  }
  const { call, red } = p
  if (board !== undefined) return foldOnBoard(board, call, red, value, -1)
  const k = radixFor(c)
  const algorithm = options?.algorithm ?? (k > 2 && 2 * depth(c.size, k) <= doublingRounds(c.size) ? "tree" : "recursive-doubling")
  return algorithm === "tree"
    ? reduceBcast(call, red, value, 0, k, (m) => decodeValue(call.c, m, 0, call.tag))
    : recursiveDoubling(call, red, value, 0)
}
