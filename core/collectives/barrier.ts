/**
 * Barriers. Dissemination: ceil(log2 p) rounds; in round k each rank signals
 * rank + 2^k and waits for rank - 2^k; works for any p. When ranks sleep
 * while waiting (more ranks than cores: every round pays a wake-up), a
 * fan-in to rank 0 and fan-out along a k-nomial tree takes 2·ceil(log_k p)
 * rounds instead, fewer for p > 4 with k = 16. No rank leaves before every
 * rank has entered.
 *
 * Cost: ceil(log2 p)·α (dissemination), 2·ceil(log_k p)·(α + (k-1)·o) (tree).
 */
import { Effect } from "effect"
import { raw } from "../../codecs/buffer.ts"
import type { CommState } from "../comm/CommState.ts"
import type { Encoded } from "../messaging/Message.ts"
import type { SendFailure } from "../messaging/PointToPoint.ts"
import { checkComm } from "./checks.ts"
import type { CollectiveFailure } from "./errors.ts"
import { type Call, exchange, open, post, startSend, waitEach } from "./link.ts"
import * as Shared from "./shared/calls.ts"
import { depth, knomial, radixFor } from "./tree.ts"

const SIGNAL: Encoded = { codec: raw.id, frames: raw.encodeSync(new Uint8Array(0)) }

/** The rounds of the dissemination barrier. */
export const dissemination = (call: Call): Effect.Effect<void, SendFailure> =>
  Effect.gen(function*() {
    const { c } = call
    for (let dist = 1; dist < c.size; dist *= 2) {
      yield* exchange(call, (c.rank + dist) % c.size, SIGNAL, (c.rank - dist + c.size) % c.size)
    }
  })

/** Every rank signals its parent once its subtree has arrived; the root's release goes back down. */
export const fanInOut = (call: Call, k: number): Effect.Effect<void, SendFailure> =>
  Effect.gen(function*() {
    const { c } = call
    const node = knomial(c.rank, c.size, k)
    yield* waitEach(node.children.map((child) => post(call, child.rel)))
    if (node.parent >= 0) yield* exchange(call, node.parent, SIGNAL, node.parent)
    yield* waitEach(node.children.map((child) => startSend(call, child.rel, SIGNAL)))
  })

/** `barrier()`: waits until every rank of the communicator has called it. */
export const start = (c: CommState): Effect.Effect<void, SendFailure | CollectiveFailure> => {
  checkComm(c)
  if (c.shared !== undefined) return Shared.barrier(c.shared)
  const k = radixFor(c)
  const call = open(c, "barrier")
  return k > 2 && 2 * depth(c.size, k) < depth(c.size, 2) ? fanInOut(call, k) : dissemination(call)
}
