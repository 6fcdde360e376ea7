/**
 * Broadcast along a binomial tree: the root's message reaches every rank in
 * ceil(log2 p) rounds; each rank forwards it as received (an object is
 * encoded once at the root and decoded once at each rank).
 *
 * Cost (α latency, β time per byte): ceil(log2 p)·(α + β·n).
 */
import { Effect } from "effect"
import * as Datatypes from "../../codecs/Datatype.ts"
import type { CommState } from "../CommState.ts"
import type { Encoded } from "../Message.ts"
import type { SendFailure } from "../PointToPoint.ts"
import { attempt, checkComm, checkInto, checkRoot } from "./checks.ts"
import type { CollectiveFailure } from "./errors.ts"
import { type Call, open, recv, shareable, startSend, waitEach } from "./link.ts"
import type { BcastOptions } from "./options.ts"
import { asTypedArray, encodeBuffer, encodeValue, finishItem, intoOption, isBufferForm, noInto } from "./payload.ts"
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

/**
 * `bcast(value, { root, codec, into })`: the root's value on every rank
 * (the root gets its own value back). A typed array travels as a buffer; with
 * `into`, a rank receives it into its own array.
 */
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
      return Effect.map(binomial(call, root, encodeBuffer(buffer)), () => {
        if (into === undefined) return value
        if (into !== buffer) into.set(buffer as any)
        return into
      })
    }
    noInto(name, into)
    const message = encodeValue(c, value, options?.codec)
    return Effect.as(binomial(open(c, name), root, message), value)
  }
  const call = open(c, name)
  return Effect.flatMap(binomial(call, root, undefined), (m) => attempt(() => finishItem(c, name, m, root, call.tag, into, false)))
}
