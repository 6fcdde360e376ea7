/**
 * Broadcast along a binomial tree: the root's message reaches every rank in
 * ceil(log2 p) rounds; each rank forwards it as received (an object is
 * encoded once at the root and decoded once at each rank).
 *
 * Cost (α latency, β time per byte): ceil(log2 p)·(α + β·n).
 */
import { Effect } from "effect"
import type { Encoded } from "../Message.ts"
import type { SendFailure } from "../PointToPoint.ts"
import { type Call, recv, shareable, startSend, waitEach } from "./link.ts"
import { absolute, children, parentMask, relative } from "./tree.ts"

/** Broadcasts `message` (given at the root) and returns it on every rank. */
export const binomial = (call: Call, root: number, message: Encoded | undefined): Effect.Effect<Encoded, SendFailure> =>
  Effect.gen(function*() {
    const { c } = call
    const p = c.size
    const rel = relative(c.rank, root, p)
    let m = message
    if (rel !== 0) {
      m = yield* recv(call, absolute(rel - parentMask(rel, p), root, p))
    }
    const kids = children(rel, p)
    if (kids.length > 0) {
      const out = shareable(c, m!)
      yield* waitEach(kids.map((kid) => startSend(call, absolute(kid, root, p), out)))
    }
    return m!
  })
