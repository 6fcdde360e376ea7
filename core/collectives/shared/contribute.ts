/**
 * Every rank's contribution through the board, read by every rank or by a
 * root: the phases of gather and allgather, and of reductions of values or
 * of small buffers.
 *
 * Each slot starts with a descriptor of the rank's contribution: its form
 * (a buffer, or a value as a stream; see wire.ts), the buffer's datatype,
 * and its length. In the first phase every rank waits for every other and
 * checks the descriptors, so that contributions that do not fit together
 * fail the call on every rank at the same phase (and the board stays in
 * step); the number of phases follows from the longest contribution. Later
 * phases move the rest a slot's worth at a time; ranks that read nothing
 * only wait for the guard.
 */
import type { Datatype, TypedArray } from "../../../codecs/Datatype.ts"
import * as Datatypes from "../../../codecs/Datatype.ts"
import { mismatch } from "../checks.ts"
import { type Board, DESCRIPTOR, type Steps } from "./Board.ts"
import type { Outgoing } from "./wire.ts"

export const FORM_BUFFER = 1
export const FORM_VALUE = 2

/** What a slot's descriptor says, and what every rank checks against its own. */
export interface Descriptor {
  readonly form: typeof FORM_BUFFER | typeof FORM_VALUE
  /** The buffer's datatype id (0 for a value). */
  readonly datatype: number
  /** Elements of the buffer, or bytes of the value's stream (compared only for buffers). */
  readonly count: number
}

/** What a rank contributes. */
export interface Contribution extends Descriptor {
  /** Bytes in all. */
  readonly bytes: number
  /** Copies bytes `[from, from + n)` of the contribution to `into` at `at`. */
  copy(from: number, into: Uint8Array, at: number, n: number): void
}

/** A typed array as a contribution. */
class BufferContribution implements Contribution {
  readonly form = FORM_BUFFER
  readonly datatype: number
  readonly count: number
  readonly bytes: number
  private readonly data: Uint8Array

  constructor(array: TypedArray) {
    this.data = array.constructor === Uint8Array ? array as Uint8Array : new Uint8Array(array.buffer, array.byteOffset, array.byteLength)
    this.datatype = Datatypes.of(array).id
    this.count = array.length
    this.bytes = array.byteLength
  }

  copy(from: number, into: Uint8Array, at: number, n: number): void {
    into.set(from === 0 && n === this.data.byteLength ? this.data : this.data.subarray(from, from + n), at)
  }
}

/** A typed array as a contribution. */
export const ofBuffer = (array: TypedArray): Contribution => new BufferContribution(array)

/** A value's stream as a contribution. */
export const ofStream = (stream: Outgoing): Contribution => ({
  form: FORM_VALUE,
  datatype: 0,
  count: stream.length,
  bytes: stream.length,
  copy: (from, into, at, n) => stream.copy(from, into, at, n)
})

/** Where the descriptors said the contributions are, once checked. */
export interface Layout {
  /** Bytes of each rank's contribution. */
  readonly bytes: ReadonlyArray<number>
}

/** Writes this rank's descriptor for phase `v`. */
export const describe = (b: Board, v: number, mine: Descriptor): void => {
  const at = b.slotOf(b.rank, v)
  b.view.setUint32(at, mine.form, true)
  b.view.setUint32(at + 4, mine.datatype, true)
  b.view.setFloat64(at + 8, mine.count, true)
}

/**
 * Checks every rank's descriptor of phase `v` against this rank's: a value
 * where this rank has a buffer (or the reverse), another datatype, another
 * count. Returns the error (the same decision on every rank) and the layout.
 */
export const check = (b: Board, v: number, name: string, mine: Descriptor): { readonly error?: Error; readonly layout: Layout } => {
  const bytes = new Array<number>(b.p)
  let error: Error | undefined
  for (let q = 0; q < b.p; q++) {
    const at = b.slotOf(q, v)
    const form = b.view.getUint32(at, true)
    const datatype = b.view.getUint32(at + 4, true)
    const count = b.view.getFloat64(at + 8, true)
    const type: Datatype | undefined = Datatypes.byId(datatype)
    bytes[q] = form === FORM_BUFFER ? count * (type?.size ?? 0) : count
    if (error !== undefined || q === b.rank) continue
    if (form !== mine.form) {
      error = mismatch(name, q, form === FORM_VALUE ? "a value where this rank has a buffer" : "a buffer where this rank has a value")
    } else if (form === FORM_BUFFER && datatype !== mine.datatype) {
      error = mismatch(name, q, `${type?.name ?? "unknown"} data where this rank has ${Datatypes.byId(mine.datatype)!.name}`)
    } else if (form === FORM_BUFFER && count !== mine.count) {
      error = mismatch(name, q, `${count} ${type?.name ?? "unknown"} where ${mine.count} are expected`)
    }
  }
  return { error, layout: { bytes } }
}

/** Bytes of contribution a slot holds in one phase. */
export const capacity = (b: Board): number => b.slot - DESCRIPTOR

/** Phases to move contributions of these sizes. */
export const phasesFor = (b: Board, bytes: ReadonlyArray<number>): number => {
  const cap = capacity(b)
  let most = 1
  for (const n of bytes) most = Math.max(most, Math.ceil(n / cap))
  return most
}

/**
 * What a collective does with the pieces `contribute` moves: an instance of
 * a class, whose methods live as long as the module (a closure per call
 * would lose its compiled code at each major collection: see
 * messaging/completion.ts).
 */
export interface Reader {
  /** At a reader, for each piece: `n` bytes of rank q's contribution from `offset`, found at `at` in `b.bytes` (this rank's own pieces included). */
  take(q: number, offset: number, n: number, at: number): void
  /** At every rank, once the descriptors are known. */
  first?(layout: Layout): void
  /** At a reader after each phase's pieces, while the slots still hold them. */
  then?(v: number): void
}

/**
 * Moves every rank's contribution to the readers (every rank, or `root`),
 * handing the pieces to `reader`. Throws the mismatch error after the first
 * phase.
 */
export function* contribute(
  b: Board,
  name: string,
  mine: Contribution,
  root: number,
  reader: Reader
): Steps<Layout> {
  const cap = capacity(b)
  const reads = root < 0 || root === b.rank
  let layout: Layout | undefined
  let phases = 1
  for (let k = 0; k < phases; k++) {
    const v = b.next()
    yield* b.guard(v)
    const at = b.slotOf(b.rank, v)
    if (k === 0) describe(b, v, mine)
    const from = k * cap
    const n = Math.max(0, Math.min(cap, mine.bytes - from))
    if (n > 0) mine.copy(from, b.bytes, at + DESCRIPTOR, n)
    if (k === 0) {
      b.arrive(v)
      yield* b.arrivedAll(v)
      const checked = check(b, v, name, mine)
      if (checked.error !== undefined) {
        b.leave(v)
        throw checked.error
      }
      layout = checked.layout
      phases = phasesFor(b, layout.bytes)
      reader.first?.(layout)
    } else if (reads) {
      b.arrive(v)
      yield* b.arrivedAll(v)
    } else {
      b.pass(v)
      continue
    }
    if (reads) {
      for (let q = 0; q < b.p; q++) {
        const m = Math.max(0, Math.min(cap, layout!.bytes[q]! - from))
        if (m > 0) reader.take(q, from, m, b.slotOf(q, v) + DESCRIPTOR)
      }
      reader.then?.(v)
    }
    b.leave(v)
  }
  return layout!
}
