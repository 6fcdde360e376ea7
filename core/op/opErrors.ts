/**
 * The errors of an op applied to a buffer it cannot combine, shared by
 * `Op.reduceLocal` and the collectives' reductions (not public).
 */
import type * as Datatype from "../../codecs/Datatype.ts"
import { InvalidArgument } from "../errors.ts"

/** Just what an op needs to be named in an error. */
interface Named {
  readonly name: string
}

/** The error for MAXLOC/MINLOC on a buffer that does not hold whole (value, index) pairs. */
export const oddPairs = (op: Named, length: number): InvalidArgument =>
  new InvalidArgument({ argument: "buffer", message: `Op.${op.name} reads a buffer as (value, index) pairs, but it has ${length} elements (an odd number)` })

/** The error for an op used on a datatype it does not apply to. */
export const notForDatatype = (op: Named, datatype: Datatype.Datatype): InvalidArgument =>
  new InvalidArgument({
    argument: "op",
    message: `Op.${op.name} does not apply to ${datatype.name} buffers${
      ["BAND", "BOR", "BXOR"].includes(op.name) ? " (bitwise ops need integer datatypes)" : ""
    }`
  })
