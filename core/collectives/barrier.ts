/**
 * The dissemination barrier: ceil(log2 p) rounds; in round k each rank
 * signals rank + 2^k and waits for rank - 2^k. Works for any p, and no rank
 * leaves before every rank has entered.
 *
 * Cost: ceil(log2 p)·α.
 */
import { Effect } from "effect"
import { raw } from "../../codecs/buffer.ts"
import type { CommState } from "../CommState.ts"
import type { Encoded } from "../Message.ts"
import type { SendFailure } from "../PointToPoint.ts"
import { checkComm } from "./checks.ts"
import { type Call, exchange, open } from "./link.ts"

const SIGNAL: Encoded = { codec: raw.id, frames: raw.encodeSync(new Uint8Array(0)) }

/** The rounds of the dissemination barrier. */
export const dissemination = (call: Call): Effect.Effect<void, SendFailure> =>
  Effect.gen(function*() {
    const { c } = call
    for (let dist = 1; dist < c.size; dist *= 2) {
      yield* exchange(call, (c.rank + dist) % c.size, SIGNAL, (c.rank - dist + c.size) % c.size)
    }
  })

/** `barrier()`: waits until every rank of the communicator has called it. */
export const start = (c: CommState): Effect.Effect<void, SendFailure> => {
  checkComm(c)
  return dissemination(open(c, "barrier"))
}
