/**
 * Reduce and allreduce of buffers through a board.
 *
 * - Small buffers (up to `SMALL` bytes), and ops that take whole buffers:
 *   one phase. Every rank writes its buffer; each reader folds all of them
 *   in rank order straight out of the slots.
 * - Larger buffers, a slot's worth per step, two phases a step: every rank
 *   writes its piece (phase A); then each rank reduces its own slice of the
 *   piece across all ranks, in rank order, into its slot (phase B: all ranks
 *   reduce in parallel, each over 1/p of the data); the readers copy the
 *   reduced slices out. Slices are cut at multiples of the op's grain.
 *
 * Both keep rank order, so non-commutative ops are exact, and every reader
 * computes bit-identical results.
 */
import type { TypedArray } from "../../../codecs/Datatype.ts"
import * as Datatypes from "../../../codecs/Datatype.ts"
import type { Kernel } from "../../op/kernels.ts"
import type { Op } from "../../op/Op.ts"
import { type Board, type Caller, DESCRIPTOR, type Steps } from "./Board.ts"
import { capacity, check, contribute, describe, ofBuffer, type Reader } from "./contribute.ts"

/** Buffers up to this many bytes reduce in one phase, every reader folding all contributions. */
export const SMALL = 8 * 1024

/** Whether the board can reduce buffers of `bytes` with `op` (an op that takes whole buffers needs them in one slot). */
export const fits = (b: Board, op: Op, bytes: number): boolean => op.grain > 0 || bytes <= capacity(b)

/**
 * Reduces `input` across the ranks with `kernel` into `out` at the readers
 * (every rank when `root` is -1); `out` may be `input` itself only at a
 * rank that reads. It hands out the steps of one form or the other rather
 * than delegating to them (a generator that only delegates is one more
 * object of ~300 bytes per call), so their result is the form's own and of
 * no use to the caller.
 */
export const reduceBuffers = (
  b: Board,
  name: string,
  op: Op,
  kernel: Kernel,
  input: TypedArray,
  root: number,
  out: TypedArray | undefined,
  caller: Caller
): Steps<unknown> =>
  input.byteLength <= SMALL || op.grain === 0 ? folded(b, name, kernel, input, root, out, caller) : sliced(b, name, op, kernel, input, root, out, caller)

/** A typed view of `n` elements at byte `at` of the board. */
const viewAt = (b: Board, ctor: Datatypes.TypedArrayConstructor, at: number, n: number): TypedArray =>
  new ctor(b.bytes.buffer, b.bytes.byteOffset + at, n)

const folded = (b: Board, name: string, kernel: Kernel, input: TypedArray, root: number, out: TypedArray | undefined, caller: Caller): Steps<unknown> =>
  contribute(b, name, ofBuffer(input), root, new Fold(b, kernel, input, out, caller))

/** The one-phase reduction's reader: a view of every rank's piece, folded in rank order once all are in. */
class Fold implements Reader {
  private readonly b: Board
  private readonly kernel: Kernel
  private readonly input: TypedArray
  private readonly out: TypedArray | undefined
  private readonly caller: Caller
  private readonly views: Array<TypedArray>
  private readonly ctor: Datatypes.TypedArrayConstructor

  constructor(b: Board, kernel: Kernel, input: TypedArray, out: TypedArray | undefined, caller: Caller) {
    this.b = b
    this.kernel = kernel
    this.input = input
    this.out = out
    this.caller = caller
    this.views = new Array<TypedArray>(b.p)
    this.ctor = Datatypes.of(input).ctor
  }

  take(q: number, _offset: number, _n: number, at: number): void {
    // Its own buffer where it is not also the output (which the fold overwrites).
    this.views[q] = q === this.b.rank && this.out !== this.input ? this.input : this.b.viewAt(this.ctor, at, this.input.length)
  }

  then(): void {
    const { out, input, views, kernel } = this
    if (this.caller.abandoned || out === undefined) return
    // Zero-length buffers have no pieces: nothing to fold.
    if (input.length === 0) return
    if (this.b.p === 1) {
      if (out !== input) out.set(input as never)
      return
    }
    kernel(views[0]!, views[1]!, out)
    for (let q = 2; q < this.b.p; q++) kernel(out, views[q]!, out)
  }
}

function* sliced(b: Board, name: string, op: Op, kernel: Kernel, input: TypedArray, root: number, out: TypedArray | undefined, caller: Caller): Steps<void> {
  const ctor = Datatypes.of(input).ctor
  const size = ctor.BYTES_PER_ELEMENT
  const grain = Math.max(1, op.grain)
  const n = input.length
  const per = Math.floor(capacity(b) / size / grain) * grain
  const reader = root < 0 || root === b.rank
  const mine = ofBuffer(input)
  const sources = new Array<TypedArray>(b.p)
  for (let a = 0; a < n; a += per) {
    const m = Math.min(per, n - a)
    // Phase A: every rank's piece.
    const va = b.next()
    yield* b.guard(va)
    const at = b.slotOf(b.rank, va)
    if (a === 0) describe(b, va, mine)
    mine.copy(a * size, b.bytes, at + DESCRIPTOR, m * size)
    b.arrive(va)
    yield* b.arrivedAll(va)
    if (a === 0) {
      const { error } = check(b, va, name, mine)
      if (error !== undefined) {
        b.leave(va)
        throw error
      }
    }
    // Phase B: this rank's slice, reduced over all ranks in rank order.
    const vb = b.next()
    yield* b.guard(vb)
    const slice = Math.ceil(m / b.p / grain) * grain
    const lo = Math.min(m, b.rank * slice)
    const hi = Math.min(m, lo + slice)
    if (hi > lo) {
      const result = viewAt(b, ctor, b.slotOf(b.rank, vb) + DESCRIPTOR, hi - lo)
      for (let q = 0; q < b.p; q++) {
        sources[q] = q === b.rank ? input.subarray(a + lo, a + hi) : viewAt(b, ctor, b.slotOf(q, va) + DESCRIPTOR + lo * size, hi - lo)
      }
      if (b.p === 1) result.set(sources[0]! as never)
      else {
        kernel(sources[0]!, sources[1]!, result)
        for (let q = 2; q < b.p; q++) kernel(result, sources[q]!, result)
      }
    }
    if (!reader) {
      b.pass(vb)
      continue
    }
    b.step(vb, va)
    yield* b.arrivedAll(vb)
    if (!caller.abandoned && out !== undefined) {
      for (let q = 0; q < b.p; q++) {
        const qlo = Math.min(m, q * slice)
        const qhi = Math.min(m, qlo + slice)
        if (qhi > qlo) out.set(viewAt(b, ctor, b.slotOf(q, vb) + DESCRIPTOR, qhi - qlo) as never, a + qlo)
      }
    }
    b.leave(vb)
  }
}
