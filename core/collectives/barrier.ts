/**
 * The dissemination barrier: ceil(log2 p) rounds; in round k each rank
 * signals rank + 2^k and waits for rank - 2^k. Works for any p.
 */
import { Effect } from "effect"
import type { CommState } from "../CommState.ts"
import { completion } from "../completion.ts"
import { raw } from "../../codecs/buffer.ts"
import * as P2P from "../PointToPoint.ts"
import { Request } from "../Request.ts"
import * as Requests from "../Request.ts"

const EMPTY = raw.encodeSync(new Uint8Array(0))
const SIGNAL = { codec: raw.id, frames: EMPTY }

/** Waits until every rank of the communicator has entered the barrier. */
export const barrier = (c: CommState): Effect.Effect<void, P2P.SendFailure | P2P.InvalidCall> =>
  Effect.gen(function*() {
    const tag = nextCollectiveTag(c)
    const context = c.context + 1
    for (let dist = 1; dist < c.size; dist *= 2) {
      const to = (c.rank + dist) % c.size
      const from = (c.rank - dist + c.size) % c.size
      const incoming = new Request<unknown, any>(c.engine.transport)
      P2P.startReceive(c, context, from, tag, { schema: undefined, into: undefined }, incoming, (r) => r.value)
      yield* completion<void, P2P.SendFailure>((settle) => P2P.transmit(c, context, to, tag, SIGNAL, settle))
      yield* Effect.mapError(Requests.wait(incoming), (e) => e as P2P.SendFailure)
    }
  })

/** The tag of the next collective call on `c`: consecutive collectives never match each other. */
export const nextCollectiveTag = (c: CommState): number => {
  const seq = c.collectiveSeq
  c.collectiveSeq = (seq + 1) & 0x7fffffff
  return seq
}
