/**
 * Gather along a binomial tree: each rank sends its subtree's items to its
 * parent as one bundle, so the root receives ceil(log2 p) messages instead
 * of p - 1, and items are forwarded without being decoded on the way.
 *
 * Cost: ceil(log2 p)·α + β·n·(p-1) at the root (n: bytes per rank).
 */
import { Effect } from "effect"
import { decodeError } from "../../codecs/errors.ts"
import type { Encoded } from "../Message.ts"
import { pack, unpack } from "./bundle.ts"
import { attempt } from "./checks.ts"
import { type Call, post, send, shareable, wait } from "./link.ts"
import { absolute, children, parentMask, relative, subtreeSize } from "./tree.ts"

/** Gathers every rank's item at the root (by rank); other ranks get undefined. */
export const binomial = (call: Call, root: number, item: Encoded) =>
  Effect.gen(function*() {
    const { c } = call
    const p = c.size
    const rel = relative(c.rank, root, p)
    // Children send in any order; their bundles are appended smallest subtree first.
    const kids = children(rel, p).reverse()
    const incoming = kids.map((kid) => post(call, absolute(kid, root, p)))
    const items: Array<Encoded> = [item]
    for (let i = 0; i < kids.length; i++) {
      const message = yield* wait(incoming[i]!)
      const expected = subtreeSize(kids[i]!, p)
      const received = yield* attempt(() => unpack(message))
      if (received.length !== expected) {
        return yield* Effect.fail(decodeError("bundle", 0, `${call.name}: rank ${absolute(kids[i]!, root, p)} sent ${received.length} items for a subtree of ${expected}`))
      }
      for (const r of received) items.push(r)
    }
    if (rel !== 0) {
      yield* send(call, absolute(rel - parentMask(rel, p), root, p), shareable(c, pack(items)))
      return undefined
    }
    const byRank = new Array<Encoded>(p)
    for (let k = 0; k < p; k++) byRank[absolute(k, root, p)] = items[k]!
    return byRank
  })
