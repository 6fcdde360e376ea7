/**
 * Barrier, broadcast and scatter through a board.
 *
 * - barrier: one phase; every rank arrives and waits until all have.
 * - bcast: the root writes the message's stream into its slot a slot's
 *   worth per phase and goes on (two phases ahead at most, the guard);
 *   every other rank copies each piece out as it appears.
 * - scatter: the root writes rank q's stream into q's slot; each rank reads
 *   its own. The first phase's descriptors carry the stream's length and the
 *   number of phases, so that ranks that do not know the root's data agree.
 */
import { type Board, DESCRIPTOR, type Steps } from "./Board.ts"
import { capacity } from "./contribute.ts"
import type { Datatype, TypedArray } from "../../../codecs/Datatype.ts"
import { Incoming, type Outgoing, type Stream, takeRawInto } from "./wire.ts"

export function* barrier(b: Board): Steps<void> {
  const v = b.next()
  b.pass(v)
  yield* b.arrivedAll(v)
}

/**
 * The root passes its stream and gets undefined; the others get the root's
 * stream — or, given `direct` and a stream of one phase that is the raw
 * message of a buffer `direct.into` can hold, its elements copied straight
 * from the slot into `direct.into` (and undefined).
 */
export function* bcast(
  b: Board,
  root: number,
  stream: Stream | undefined,
  direct?: { readonly into: TypedArray; readonly datatype: Datatype }
): Steps<Incoming | undefined> {
  const cap = capacity(b)
  if (b.rank === root) {
    const total = stream!.length
    let sent = 0
    do {
      const v = b.next()
      yield* b.guard(v)
      const at = b.slotOf(root, v)
      b.view.setFloat64(at, total, true)
      const n = Math.min(cap, total - sent)
      stream!.copy(sent, b.bytes, at + DESCRIPTOR, n, b.view)
      sent += n
      b.pass(v)
    } while (sent < total)
    return undefined
  }
  let incoming: Incoming | undefined
  let got = 0
  let total = 0
  do {
    const v = b.next()
    yield* b.arrived(root, v)
    const at = b.slotOf(root, v)
    if (incoming === undefined) {
      total = b.view.getFloat64(at, true)
      if (direct !== undefined && total <= cap && takeRawInto(b.bytes, b.view, at + DESCRIPTOR, total, direct.into, direct.datatype)) {
        b.pass(v)
        return undefined
      }
      incoming = new Incoming(total)
    }
    const n = Math.min(cap, total - got)
    incoming.put(got, b.bytes, at + DESCRIPTOR, n)
    got += n
    b.pass(v)
  } while (got < total)
  return incoming
}

/** The root passes one stream per rank (its own included) and gets its own back; the others get theirs. */
export function* scatter(b: Board, root: number, streams: ReadonlyArray<Outgoing> | undefined): Steps<Incoming | Outgoing> {
  const cap = capacity(b)
  if (b.rank === root) {
    const all = streams!
    let phases = 1
    for (const s of all) phases = Math.max(phases, Math.ceil(s.length / cap))
    for (let k = 0; k < phases; k++) {
      const v = b.next()
      yield* b.guard(v)
      const from = k * cap
      for (let q = 0; q < b.p; q++) {
        if (q === root) continue
        const at = b.slotOf(q, v)
        const s = all[q]!
        b.view.setFloat64(at, s.length, true)
        b.view.setFloat64(at + 8, phases, true)
        const n = Math.max(0, Math.min(cap, s.length - from))
        if (n > 0) s.copy(from, b.bytes, at + DESCRIPTOR, n)
      }
      b.pass(v)
    }
    return all[root]!
  }
  let incoming: Incoming | undefined
  let phases = 1
  let total = 0
  for (let k = 0; k < phases; k++) {
    const v = b.next()
    yield* b.arrived(root, v)
    const at = b.slotOf(b.rank, v)
    if (k === 0) {
      total = b.view.getFloat64(at, true)
      phases = b.view.getFloat64(at + 8, true)
      incoming = new Incoming(total)
    }
    const from = k * cap
    const n = Math.max(0, Math.min(cap, total - from))
    if (n > 0) incoming!.put(from, b.bytes, at + DESCRIPTOR, n)
    b.pass(v)
  }
  return incoming!
}
