/**
 * All-to-all by pairwise exchange: in step k (1..p-1) every rank sends its
 * item for rank + k and receives the item of rank - k, so each step is a
 * permutation and no rank is a hot spot.
 *
 * Cost: (p-1)·(α + β·n) (n: bytes per pair).
 */
import { Effect } from "effect"
import type { Encoded } from "../Message.ts"
import { type Call, post, send, shareable, wait } from "./link.ts"

/** Sends `items[j]` to rank j and returns the item each rank sent to this one, by rank. */
export const pairwise = (call: Call, items: ReadonlyArray<Encoded>) =>
  Effect.gen(function*() {
    const { c } = call
    const p = c.size
    const r = c.rank
    const byRank = new Array<Encoded>(p)
    byRank[r] = items[r]!
    for (let k = 1; k < p; k++) {
      const source = (r - k + p) % p
      const incoming = post(call, source)
      yield* send(call, (r + k) % p, shareable(c, items[(r + k) % p]!))
      byRank[source] = yield* wait(incoming)
    }
    return byRank
  })
