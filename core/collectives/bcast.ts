/**
 * Broadcast along a k-nomial tree (binomial when ranks spin, see tree.ts):
 * the root's message reaches every rank in ceil(log_k p) rounds; each rank
 * forwards it as received (an object is encoded once at the root and decoded
 * once at each rank).
 *
 * Cost (α latency, β time per byte, o per-message overhead):
 * ceil(log_k p)·(α + (k-1)·(o + β·n)); binomial: ceil(log2 p)·(α + β·n).
 */
import { Effect } from "effect"
import * as Datatypes from "../../codecs/Datatype.ts"
import type { CommState } from "../comm/CommState.ts"
import type { Encoded } from "../messaging/Message.ts"
import type { SendFailure } from "../messaging/PointToPoint.ts"
import { attempt, checkComm, checkInto, checkRoot } from "./checks.ts"
import type { CollectiveFailure } from "./errors.ts"
import { type Call, open, recv, shareable, startSend, waitEach } from "./link.ts"
import type { BcastOptions } from "./options.ts"
import { asTypedArray, encodeBuffer, encodeValue, finishItem, intoOption, isBufferForm, noInto } from "./payload.ts"
import * as Shared from "./shared/calls.ts"
import { absolute, knomial, radixFor, relative, sendOrder } from "./tree.ts"

/** Broadcasts `message` (given at the root) along a k-nomial tree and returns it on every rank. */
export const tree = (call: Call, root: number, message: Encoded | undefined, k: number): Effect.Effect<Encoded, SendFailure> =>
  Effect.gen(function*() {
    const { c } = call
    const p = c.size
    const node = knomial(relative(c.rank, root, p), p, k)
    const m = node.parent < 0 ? message! : yield* recv(call, absolute(node.parent, root, p))
    if (node.children.length > 0) {
      const out = shareable(c, m)
      const sends = []
      for (const child of sendOrder(node)) sends.push(startSend(call, absolute(child.rel, root, p), out))
      yield* waitEach(sends)
    }
    return m
  })

/**
 * `bcast(value, { root, codec, into })`: the root's value on every rank
 * (the root gets its own value back). A typed array travels as a buffer; with
 * `into`, a rank receives it into its own array.
 */
/** The broadcast on the communicator's board where it has one, else along a tree. */
const broadcast = (call: Call, root: number, message: Encoded | undefined): Effect.Effect<Encoded, CollectiveFailure> =>
  call.c.shared !== undefined ? Shared.bcast(call.c.shared, root, message) : tree(call, root, message, radixFor(call.c))

export const start = (c: CommState, value: unknown, options: BcastOptions | undefined): Effect.Effect<unknown, CollectiveFailure> => {
  const name = "bcast"
  const root = options?.root ?? 0
  checkComm(c)
  checkRoot(c, name, root)
  const into = intoOption(name, options?.into)
  if (c.rank === root) {
    if (isBufferForm(value, options?.codec)) {
      const buffer = asTypedArray(value)
      if (into !== undefined) checkInto(name, into, Datatypes.of(buffer), buffer.length)
      const call = open(c, name)
      return Effect.map(broadcast(call, root, encodeBuffer(buffer)), () => {
        if (into === undefined) return value
        if (into !== buffer) into.set(buffer as any)
        return into
      })
    }
    noInto(name, into)
    const message = encodeValue(c, value, options?.codec)
    return Effect.as(broadcast(open(c, name), root, message), value)
  }
  const call = open(c, name)
  return Effect.flatMap(broadcast(call, root, undefined), (m) => attempt(() => finishItem(c, name, m, root, call.tag, into, false)))
}
