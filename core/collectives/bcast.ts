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
import type { TypedArray } from "../../codecs/Datatype.ts"
import * as Datatypes from "../../codecs/Datatype.ts"
import type { CommState } from "../comm/CommState.ts"
import { flatMapNow, mapNow } from "../messaging/completion.ts"
import type { Encoded } from "../messaging/Message.ts"
import { attempt, checkComm, checkInto, checkRoot } from "./checks.ts"
import type { CollectiveFailure } from "./errors.ts"
import { type Call, open } from "./link.ts"
import type { BcastOptions } from "./options.ts"
import { asTypedArray, encodeBuffer, encodeValue, finishItem, intoOption, isBufferForm, noInto } from "./payload.ts"
import * as Shared from "./shared/calls.ts"
import { radixFor } from "./tree.ts"
import { bcastTree } from "./treeCollectives.ts"

/** The broadcast on the communicator's board where it has one, else along a tree. */
const broadcast = (call: Call, root: number, message: Encoded | undefined): Effect.Effect<Encoded, CollectiveFailure> =>
  call.c.shared !== undefined ? Shared.bcast(call.c.shared, root, message) : bcastTree(call, root, message, radixFor(call.c))

/**
 * `bcast(value, { root, codec, into })`: the root's value on every rank
 * (the root gets its own value back). A typed array travels as a buffer; with
 * `into`, a rank receives it into its own array.
 */
/** The root's result: its own value, or `into` holding a copy of it. (Bound per call, not a closure: see messaging/completion.ts.) */
function rootResult(value: unknown, buffer: TypedArray, into: TypedArray | undefined): unknown {
  if (into === undefined) return value
  if (into !== buffer) into.set(buffer as any)
  return into
}

/** Another rank's result on a board: `into`, written straight from the slot, or the root's message taken into it. */
function receivedInto(c: CommState, root: number, tag: number, into: TypedArray, m: Encoded | undefined): Effect.Effect<unknown, CollectiveFailure> {
  return m === undefined ? Effect.succeed(into) : attempt(() => finishItem(c, "bcast", m, root, tag, into, false))
}

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
      const sent = c.shared !== undefined ? Shared.bcastBuffer(c.shared, root, buffer, undefined) : broadcast(call, root, encodeBuffer(buffer))
      return mapNow(sent, rootResult.bind(undefined, value, buffer, into))
    }
    noInto(name, into)
    const message = encodeValue(c, value, options?.codec)
    return Effect.as(broadcast(open(c, name), root, message), value)
  }
  const call = open(c, name)
  if (c.shared !== undefined && into !== undefined) {
    // On a board, a buffer the root sends goes straight from its slot into `into`.
    return flatMapNow(Shared.bcastBuffer(c.shared, root, undefined, into), receivedInto.bind(undefined, c, root, call.tag, into))
  }
  return Effect.flatMap(broadcast(call, root, undefined), (m) => attempt(() => finishItem(c, name, m, root, call.tag, into, false)))
}
