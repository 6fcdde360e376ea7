/**
 * How the reduction algorithms (reduce, allreduce, scan, reduce-scatter)
 * treat contributions, for the object form and the buffer form alike: how
 * one is sent and received, and how two combine.
 *
 * `combine(left, right, out)` computes `left op right` with `left` from the
 * lower ranks; for buffers it writes into `out` (an array the algorithm owns
 * and whose send has completed: `left` or `right` itself) or, when `out` is
 * undefined, into a fresh array; values ignore `out`. A received buffer sits
 * in a borrowed scratch array (see scratch.ts) unless `keep` asked for one
 * the algorithm may hand to its caller; `done` gives scratch back.
 */
import { Effect } from "effect"
import type { TypedArray } from "../../codecs/Datatype.ts"
import * as Datatypes from "../../codecs/Datatype.ts"
import type * as Message from "../messaging/Message.ts"
import { asNow } from "../messaging/completion.ts"
import type { Op } from "../op/Op.ts"
import { notForDatatype, oddPairs } from "../op/opErrors.ts"
import type { CommState } from "../comm/CommState.ts"
import { attempt, checkComm, checkInto } from "./checks.ts"
import type { CollectiveFailure } from "./errors.ts"
import { type Call, open, post, postInto, shareable, wait } from "./link.ts"
import { checkOp } from "./ops.ts"
import { asTypedArray, decodeValue, encodeBuffer, encodeValue, intoOption, isBufferForm, noInto } from "./payload.ts"
import { borrow, giveBack } from "./scratch.ts"
import type { Board } from "./shared/Board.ts"
import * as Shared from "./shared/calls.ts"

/** A receive posted for a contribution; `wait` gives it once it arrived. */
export interface Incoming<T> {
  readonly wait: Effect.Effect<T, CollectiveFailure>
}

export interface Reduction<T> {
  readonly op: Op
  /** The message carrying a contribution. */
  encode(x: T): Message.Encoded
  /** Posts the receive of a contribution of `count` elements (buffers) from `source`; `keep` for one that may become the result. */
  post(source: number, count: number, keep: boolean): Incoming<T>
  /** `left op right`, written into `out` where given (buffers); throws a typed error for values the op does not take. */
  combine(left: T, right: T, out: T | undefined): T
  /** Called when a received contribution is no longer needed. */
  done(x: T): void
}

/** Values through the codec, combined with `op.combine`. */
export const ofValues = (call: Call, op: Op, codec: Message.CodecChoice | undefined): Reduction<unknown> => ({
  op,
  encode: (x) => encodeValue(call.c, x, codec),
  post: (source) => {
    const request = post(call, source)
    return { wait: Effect.flatMap(wait(request), (m) => attempt(() => decodeValue(call.c, m, source, call.tag))) }
  },
  combine: (left, right) => op.combine(left, right),
  done: () => {}
})

/** Throws at the call when the op cannot reduce this buffer (the same on every rank that passes the same kind of buffer). */
export const checkBufferOp = (op: Op, sample: TypedArray): void => {
  const datatype = Datatypes.of(sample)
  if (op.kernel(datatype) === undefined) throw notForDatatype(op, datatype)
  if (op.grain === 2 && sample.length % 2 !== 0) throw oddPairs(op, sample.length)
}

/** Typed arrays of one datatype, combined elementwise by the op's kernel (`checkBufferOp` first). */
export const ofBuffers = (call: Call, op: Op, sample: TypedArray): Reduction<TypedArray> => {
  const datatype = Datatypes.of(sample)
  const kernel = op.kernel(datatype)!
  return {
    op,
    encode: (x) => shareable(call.c, encodeBuffer(x)),
    post: (source, count, keep) => ({ wait: wait(postInto(call, source, keep ? new datatype.ctor(count) : borrow(datatype, count))) }),
    combine: (left, right, out) => {
      const target = out ?? new datatype.ctor(left.length)
      kernel(left, right, target)
      return target
    },
    done: giveBack
  }
}

/**
 * A reduction's call, checked and opened: of typed arrays (elementwise), or
 * of values. The buffer form's `Reduction` is made by the point-to-point
 * algorithms only (`bufferReduction`): the board reduces without it.
 */
export type Prepared =
  | {
    readonly form: "buffer"
    readonly op: Op
    readonly call: Call
    readonly buffer: TypedArray
    /** The caller's array for the result, checked against the buffer. */
    readonly into: TypedArray | undefined
  }
  | { readonly form: "value"; readonly op: Op; readonly call: Call; readonly red: Reduction<unknown> }

/**
 * What reduce, allreduce, scan and exscan do first: check the communicator,
 * the op and `into` (where this rank gets a result: `intoHere`), take the
 * call's tag, and pick the buffer or the value form. Throws the typed error
 * of a bad argument (see run.ts).
 */
export const prepare = (
  c: CommState,
  name: string,
  value: unknown,
  opArg: unknown,
  options: { readonly codec?: Message.CodecChoice | undefined; readonly into?: TypedArray | undefined } | undefined,
  intoHere = true
): Prepared => {
  checkComm(c)
  const op = checkOp(name, opArg)
  const into = intoHere ? intoOption(name, options?.into) : undefined
  if (isBufferForm(value, options?.codec)) {
    const buffer = asTypedArray(value)
    checkBufferOp(op, buffer)
    if (into !== undefined) checkInto(name, into, Datatypes.of(buffer), buffer.length)
    const call = open(c, name)
    return { form: "buffer", op, call, buffer, into }
  }
  noInto(name, into)
  const call = open(c, name)
  return { form: "value", op, call, red: ofValues(call, op, options?.codec) }
}

/** The point-to-point algorithms' view of a buffer reduction. */
export const bufferReduction = (p: Prepared & { readonly form: "buffer" }): Reduction<TypedArray> => ofBuffers(p.call, p.op, p.buffer)

/**
 * The reduction of values on the communicator's board: every reader (the
 * root, or every rank when `root` is -1) decodes every rank's value and
 * folds them in rank order; undefined elsewhere.
 */
export const foldOnBoard = (board: Board, call: Call, red: Reduction<unknown>, value: unknown, root: number): Effect.Effect<unknown, CollectiveFailure> =>
  Effect.suspend(() =>
    Effect.flatMap(Shared.gather(board, call.name, red.encode(value), root), (items) =>
      items === undefined ? Effect.succeed(undefined) : attempt(() => {
        let acc = decodeValue(call.c, items[0]!, 0, call.tag)
        for (let q = 1; q < items.length; q++) acc = red.combine(acc, decodeValue(call.c, items[q]!, q, call.tag), undefined)
        return acc
      })))

/**
 * The reduction of buffers on the communicator's board, where it takes them
 * (see shared/reduce.ts): the result at the readers, as `bufferResult` gives
 * it; undefined elsewhere. Undefined instead of an Effect where the board
 * does not take them.
 */
export const reduceOnBoard = (
  c: CommState,
  prepared: Prepared & { readonly form: "buffer" },
  root: number
): Effect.Effect<TypedArray | undefined, CollectiveFailure> | undefined => {
  const { op, buffer, into, call } = prepared
  if (!Shared.reduces(c.shared, op, buffer.byteLength)) return undefined
  const reader = root < 0 || root === c.rank
  const out = reader ? into ?? new (Datatypes.of(buffer).ctor)(buffer.length) : undefined
  return asNow(Shared.reduceInto(c.shared, call.name, op, op.kernel(Datatypes.of(buffer))!, buffer, root, out), out)
}

/** A buffer result as the caller gets it: in `into` if given, and never the caller's own input array. */
export const bufferResult = (result: TypedArray, input: TypedArray, into: TypedArray | undefined): TypedArray => {
  if (into !== undefined) {
    if (result !== into) into.set(result as any)
    return into
  }
  return result === input ? input.slice() : result
}
