/**
 * Scatter along a binomial tree: the root sends each child one bundle with
 * the items of its whole subtree, which passes them on the same way; items
 * are encoded once at the root and decoded once where they end.
 *
 * Cost: ceil(log2 p)·α + β·n·(p-1) at the root (n: bytes per rank).
 */
import { Effect } from "effect"
import { decodeError } from "../../codecs/errors.ts"
import type { Encoded } from "../Message.ts"
import { pack, unpack } from "./bundle.ts"
import { attempt } from "./checks.ts"
import { type Call, recv, shareable, startSend, waitEach } from "./link.ts"
import { absolute, children, parentMask, relative, subtreeSize } from "./tree.ts"

/** Scatters the root's items (one per rank, by rank) and returns this rank's. */
export const binomial = (call: Call, root: number, items: ReadonlyArray<Encoded> | undefined) =>
  Effect.gen(function*() {
    const { c } = call
    const p = c.size
    const rel = relative(c.rank, root, p)
    // `mine[k]` is the item of relative rank rel + k.
    let mine: ReadonlyArray<Encoded>
    if (rel === 0) {
      const rotated = new Array<Encoded>(p)
      for (let k = 0; k < p; k++) rotated[k] = items![absolute(k, root, p)]!
      mine = rotated
    } else {
      const parent = absolute(rel - parentMask(rel, p), root, p)
      const message = yield* recv(call, parent)
      mine = yield* attempt(() => unpack(message))
      const expected = subtreeSize(rel, p)
      if (mine.length !== expected) {
        return yield* Effect.fail(decodeError("bundle", 0, `${call.name}: rank ${parent} sent ${mine.length} items for a subtree of ${expected}`))
      }
    }
    const kids = children(rel, p)
    if (kids.length > 0) {
      yield* waitEach(kids.map((kid) => {
        const from = kid - rel
        const subtree = mine.slice(from, from + subtreeSize(kid, p))
        return startSend(call, absolute(kid, root, p), shareable(c, pack(subtree)))
      }))
    }
    return mine[0]!
  })
