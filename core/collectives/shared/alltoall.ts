/**
 * Alltoall through a board: each rank's slot is cut into p parts, one per
 * destination; in each phase every rank writes a piece of each of its
 * blocks into the parts, and every rank copies its own part out of every
 * slot. Each part starts with the length of its block, so blocks of values
 * may differ in length; the first phase's descriptors (see contribute.ts)
 * carry what all ranks must agree on, and for values the phases each rank
 * needs, so that every rank runs as many as the longest block takes.
 */
import { type Board, DESCRIPTOR, type Steps } from "./Board.ts"
import { check, describe, type Descriptor } from "./contribute.ts"

/** Bytes of each destination's part of a slot, its length word included (0 when parts would be too small). */
export const partBytes = (b: Board): number => {
  const part = Math.floor((b.slot - DESCRIPTOR) / b.p / 8) * 8
  return part >= 16 ? part : 0
}

/** A rank's blocks, one per destination. */
export interface Blocks {
  /** The descriptor: for buffers the elements per block, for values the phases this rank needs as `count`. */
  readonly describe: Descriptor
  /** Bytes of the block for `dest`. */
  length(dest: number): number
  /** Copies bytes `[from, from + n)` of the block for `dest` to `into` at `at`. */
  copy(dest: number, from: number, into: Uint8Array, at: number, n: number): void
}

/** Phases that blocks of `bytes` take. */
export const blockPhases = (b: Board, bytes: number): number => Math.max(1, Math.ceil(bytes / (partBytes(b) - 8)))

/**
 * Runs the exchange; `first(phases)` gives the phase count agreed from the
 * descriptors, `take(q, offset, n, at)` hands over a piece of rank q's block
 * for this rank (`total` its length).
 */
export function* alltoall(
  b: Board,
  name: string,
  blocks: Blocks,
  agree: (descriptorCounts: (q: number) => number) => number,
  take: (q: number, total: number, offset: number, n: number, at: number) => void
): Steps<void> {
  const part = partBytes(b)
  const cap = part - 8
  let phases = 1
  for (let k = 0; k < phases; k++) {
    const v = b.next()
    yield* b.guard(v)
    const at = b.slotOf(b.rank, v) + DESCRIPTOR
    if (k === 0) describe(b, v, blocks.describe)
    const from = k * cap
    for (let d = 0; d < b.p; d++) {
      const length = blocks.length(d)
      const where = at + d * part
      b.view.setFloat64(where, length, true)
      const n = Math.max(0, Math.min(cap, length - from))
      if (n > 0) blocks.copy(d, from, b.bytes, where + 8, n)
    }
    b.arrive(v)
    yield* b.arrivedAll(v)
    if (k === 0) {
      const { error } = check(b, v, name, blocks.describe)
      if (error !== undefined) {
        b.leave(v)
        throw error
      }
      phases = agree((q) => b.view.getFloat64(b.slotOf(q, v) + 8, true))
    }
    for (let q = 0; q < b.p; q++) {
      const where = b.slotOf(q, v) + DESCRIPTOR + b.rank * part
      const total = b.view.getFloat64(where, true)
      const n = Math.max(0, Math.min(cap, total - from))
      if (n > 0 || k === 0) take(q, total, from, n, where + 8)
    }
    b.leave(v)
  }
}

