/**
 * Giving a communicator its board, where the transport offers shared
 * segments: when the communicator is made (the world at the start of each
 * run, the others in dup, split, createFromGroup, createCart), rank 0
 * creates the segment and tells the others its handle in one message each;
 * if shared memory is short, it says so and the communicator keeps the
 * point-to-point algorithms. `RANKFLOW_COLL=p2p` (read when a rank starts)
 * keeps every communicator on them, for comparisons and tests.
 */
import { Effect } from "effect"
import type { CommState } from "../../comm/CommState.ts"
import type { CollectiveFailure } from "../errors.ts"
import { open, recv, send } from "../link.ts"
import { decodeBuffer, encodeBuffer } from "../payload.ts"
import { Board, segmentBytes, slotBytesFor } from "./Board.ts"

/** Whether `RANKFLOW_COLL=p2p` keeps collectives on point-to-point messages. */
export const forcedPointToPoint = (globalThis.process?.env?.RANKFLOW_COLL ?? "") === "p2p"

/** Gives `c` a board where possible (collective over `c`). */
export const enable = (c: CommState): Effect.Effect<void, CollectiveFailure> =>
  Effect.suspend(() => {
    const segments = c.engine.transport.segments
    if (segments === undefined || forcedPointToPoint) return Effect.void
    const slot = slotBytesFor(c.size)
    const bytes = segmentBytes(c.size, slot)
    if (c.size === 1) {
      const segment = segments.create(bytes, 1)
      if (segment !== undefined) c.shared = new Board(c, segment, slot)
      return Effect.void
    }
    const call = open(c, "a communicator's setup")
    if (c.rank === 0) {
      const segment = segments.create(bytes, c.size)
      const message = encodeBuffer(new Float64Array([segment?.handle ?? -1]))
      const others = Array.from({ length: c.size - 1 }, (_, i) => i + 1)
      return Effect.map(Effect.forEach(others, (q) => send(call, q, message), { discard: true }), () => {
        if (segment !== undefined) c.shared = new Board(c, segment, slot)
      })
    }
    return Effect.map(recv(call, 0), (m) => {
      const handle = Number(decodeBuffer(call.name, m, 0, undefined)[0]!)
      if (handle >= 0) c.shared = new Board(c, segments.attach(handle, bytes), slot)
    })
  })
