/**
 * Checking the op argument, and the op that reduces arrays of values item by
 * item (the object form of the reduce-scatters).
 */
import { InvalidArgument } from "../errors.ts"
import { isOp, type Op } from "../op/Op.ts"

/** Throws unless `op` is an `Op`. */
export const checkOp = (name: string, op: unknown): Op => {
  if (isOp(op)) return op
  throw new InvalidArgument({ argument: "op", message: `${name}: the op must be one of Op.SUM, Op.MAX, … or made with Op.make(fn)` })
}

/** `op` applied item by item to arrays of one length. */
export const itemwise = (op: Op): Op =>
  Object.freeze({
    _tag: "Op" as const,
    name: op.name,
    commutative: op.commutative,
    combine: (left: unknown, right: unknown) => {
      if (!Array.isArray(left) || !Array.isArray(right) || left.length !== right.length) {
        throw new InvalidArgument({ argument: "values", message: `every rank must pass an array of the same number of values to combine item by item` })
      }
      return left.map((x, i) => op.combine(x, right[i]))
    },
    kernel: () => undefined,
    grain: 0
  })
