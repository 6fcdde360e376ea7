/**
 * How the reduction algorithms (reduce, allreduce, scan, reduce-scatter)
 * treat contributions, for the object form and the buffer form alike: how
 * one is sent, how a received one is read and checked, and how two combine.
 *
 * `combine(left, right, out)` computes `left op right` with `left` from the
 * lower ranks. For buffers, `out` says which array the algorithm lets it
 * overwrite (`left`, `right`, or undefined for a fresh one); values ignore it.
 * An algorithm only passes an array it owns (one it allocated or received)
 * and never one whose send has not completed.
 */
import type { TypedArray } from "../../codecs/Datatype.ts"
import * as Datatypes from "../../codecs/Datatype.ts"
import type { CommState } from "../CommState.ts"
import type * as Message from "../Message.ts"
import { notForDatatype, oddPairs, type Op } from "../Op.ts"
import { release, shareable } from "./link.ts"
import { decodeBuffer, decodeValue, encodeBuffer, encodeValue } from "./payload.ts"

export interface Reduction<T> {
  readonly op: Op
  /** The message carrying a contribution. */
  encode(x: T): Message.Encoded
  /** A received contribution of `count` elements (buffers); throws a typed error when it does not fit. */
  decode(message: Message.Encoded, source: number, count: number): T
  /** `left op right`, written into `out` where given (buffers). */
  combine(left: T, right: T, out: T | undefined): T
  /** Called when a received contribution is no longer needed. */
  done(x: T): void
}

/** Values through the codec, combined with `op.combine`. */
export const ofValues = (c: CommState, op: Op, tag: number, codec: Message.CodecChoice | undefined): Reduction<unknown> => ({
  op,
  encode: (x) => encodeValue(c, x, codec),
  decode: (m, source) => decodeValue(m, source, tag),
  combine: (left, right) => op.combine(left, right),
  done: () => {}
})

/**
 * Typed arrays of one datatype, combined elementwise by the op's kernel.
 * Throws `InvalidArgument` at once when the op does not apply to the
 * datatype (the same on every rank).
 */
export const ofBuffers = (c: CommState, name: string, op: Op, sample: TypedArray): Reduction<TypedArray> => {
  const datatype = Datatypes.of(sample)
  const kernel = op.kernel(datatype)
  if (kernel === undefined) throw notForDatatype(op, datatype)
  if (op.grain === 2 && sample.length % 2 !== 0) throw oddPairs(op, sample.length)
  return {
    op,
    encode: (x) => shareable(c, encodeBuffer(x)),
    decode: (m, source, count) => decodeBuffer(name, m, source, datatype, count),
    combine: (left, right, out) => {
      const target = out ?? new datatype.ctor(left.length)
      kernel(left, right, target)
      return target
    },
    done: (x) => release(c, x)
  }
}

/** The length a reduction's decode expects: the element count of buffers (values: unused). */
export const lengthOf = (x: unknown): number => (Datatypes.isTypedArray(x) ? x.length : 0)
