/**
 * Reduce along a binomial tree: each rank combines its children's partial
 * results (smallest subtree first) and sends its own to its parent, so the
 * root has the result after ceil(log2 p) rounds.
 *
 * A commutative op uses the tree rooted at the root itself. A
 * non-commutative one uses the tree rooted at rank 0, where every subtree
 * is a contiguous range of ranks above its root, so contributions combine
 * in rank order; rank 0 then sends the result to the root (one more
 * message when the root is not 0).
 *
 * Cost: ceil(log2 p)·(α + β·n + γ·n) (γ: time per byte of the op).
 */
import { Effect } from "effect"
import type { TypedArray } from "../../codecs/Datatype.ts"
import * as Datatypes from "../../codecs/Datatype.ts"
import type { CommState } from "../CommState.ts"
import type { Op } from "../Op.ts"
import { attempt, checkComm, checkInto, checkRoot } from "./checks.ts"
import type { CollectiveFailure } from "./errors.ts"
import { type Call, open, post, recv, send, wait } from "./link.ts"
import { checkOp } from "./ops.ts"
import type { ReduceOptions } from "./options.ts"
import { asTypedArray, intoOption, isBufferForm, noInto } from "./payload.ts"
import { ofBuffers, ofValues, type Reduction } from "./reduction.ts"
import { absolute, children, parentMask, relative } from "./tree.ts"

/** The reduction of every rank's `value` at the root (undefined elsewhere); `count`: elements per buffer. */
export const binomial = <T>(call: Call, root: number, red: Reduction<T>, value: T, count: number) =>
  Effect.gen(function*() {
    const { c } = call
    const p = c.size
    const top = red.op.commutative ? root : 0
    const rel = relative(c.rank, top, p)
    const kids = children(rel, p).reverse()
    const incoming = kids.map((kid) => post(call, absolute(kid, top, p)))
    let acc = value
    let owned = false
    for (let i = 0; i < kids.length; i++) {
      const source = absolute(kids[i]!, top, p)
      const message = yield* wait(incoming[i]!)
      const v = yield* attempt(() => red.decode(message, source, count))
      const before = acc
      acc = yield* attempt(() => red.combine(before, v, owned ? before : v))
      owned = true
      if (acc !== v) red.done(v)
    }
    if (rel !== 0) {
      yield* send(call, absolute(rel - parentMask(rel, p), top, p), red.encode(acc))
    } else if (top !== root) {
      yield* send(call, root, red.encode(acc))
    }
    if (c.rank !== root) return undefined
    if (top !== root) {
      const message = yield* recv(call, top)
      return yield* attempt(() => red.decode(message, top, count))
    }
    return acc
  })

/**
 * `reduce(value, op, { root, codec, into })`: the root gets
 * `x0 op x1 op … op x(p-1)` (typed arrays: elementwise); the others get
 * undefined.
 */
export const start = (c: CommState, value: unknown, opArg: Op, options: ReduceOptions | undefined): Effect.Effect<unknown, CollectiveFailure> => {
  const name = "reduce"
  const root = options?.root ?? 0
  checkComm(c)
  checkRoot(c, name, root)
  const op = checkOp(name, opArg)
  const into = c.rank === root ? intoOption(name, options?.into) : undefined
  if (isBufferForm(value, options?.codec)) {
    const buffer = asTypedArray(value)
    const red = ofBuffers(c, name, op, buffer)
    if (into !== undefined) checkInto(name, into, Datatypes.of(buffer), buffer.length)
    const call = open(c, name)
    return Effect.map(binomial(call, root, red, buffer, buffer.length), (result) => result === undefined ? undefined : bufferResult(result, buffer, into))
  }
  noInto(name, into)
  const call = open(c, name)
  return binomial(call, root, ofValues(c, op, call.tag, options?.codec), value, 0)
}

/** A buffer result as the caller gets it: in `into` if given, and never the caller's own input array. */
export const bufferResult = (result: TypedArray, input: TypedArray, into: TypedArray | undefined): TypedArray => {
  if (into !== undefined) {
    if (result !== into) into.set(result as any)
    return into
  }
  return result === input ? input.slice() : result
}
