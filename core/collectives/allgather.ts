/**
 * Allgather by Bruck's algorithm: in round k every rank sends the items it
 * has so far (up to 2^k) to rank - 2^k and receives as many from rank + 2^k,
 * so after ceil(log2 p) rounds each rank holds all p items, starting with its
 * own; a final rotation puts them in rank order. Works for any p; items are
 * forwarded without being decoded.
 *
 * Cost: ceil(log2 p)·α + β·n·(p-1) (n: bytes per rank).
 */
import { Effect } from "effect"
import { decodeError } from "../../codecs/errors.ts"
import type { Encoded } from "../Message.ts"
import { pack, unpack } from "./bundle.ts"
import { attempt } from "./checks.ts"
import { type Call, post, send, shareable, wait } from "./link.ts"

/** Every rank's item on every rank, by rank. */
export const bruck = (call: Call, item: Encoded) =>
  Effect.gen(function*() {
    const { c } = call
    const p = c.size
    const r = c.rank
    // items[k] is the item of rank (r + k) mod p.
    const items: Array<Encoded> = [item]
    for (let dist = 1; dist < p; dist *= 2) {
      const count = Math.min(dist, p - dist)
      const source = (r + dist) % p
      const incoming = post(call, source)
      yield* send(call, (r - dist + p) % p, shareable(c, pack(items.slice(0, count))))
      const message = yield* wait(incoming)
      const received = yield* attempt(() => unpack(message))
      if (received.length !== count) {
        return yield* Effect.fail(decodeError("bundle", 0, `${call.name}: rank ${source} sent ${received.length} items instead of ${count}`))
      }
      for (const x of received) items.push(x)
    }
    const byRank = new Array<Encoded>(p)
    for (let k = 0; k < p; k++) byRank[(r + k) % p] = items[k]!
    return byRank
  })
