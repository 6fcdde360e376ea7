/**
 * What a collective checks at the call, before it communicates (the same
 * outcome on every rank that passes the same arguments), and the errors of
 * contributions that do not fit together, found while it runs.
 */
import { Effect } from "effect"
import type { Datatype, TypedArray } from "../../codecs/Datatype.ts"
import * as Datatypes from "../../codecs/Datatype.ts"
import { DatatypeMismatch, DecodeError, EncodeError, Truncated } from "../../codecs/errors.ts"
import type { CommState } from "../comm/CommState.ts"
import { InvalidArgument, InvalidCommunicator, InvalidRoot, MessageInvalid, UnknownCodec } from "../errors.ts"

/**
 * Errors a collective reports at the call (synchronously), before any message.
 *
 * @example
 * ```ts
 * yield* world.bcast(x, { root: world.size }).pipe(Effect.catchTag("InvalidRoot", (e) => Effect.logError(e.message)))
 * ```
 */
export type CollectiveInvalid = InvalidRoot | InvalidArgument | InvalidCommunicator | EncodeError | UnknownCodec | DatatypeMismatch

/** Typed errors the synchronous parts of collectives throw; anything else thrown is a defect. */
export const isTypedError = (e: unknown): e is CollectiveInvalid | DecodeError | MessageInvalid | Truncated =>
  e instanceof InvalidArgument || e instanceof InvalidRoot || e instanceof InvalidCommunicator || e instanceof EncodeError ||
  e instanceof UnknownCodec || e instanceof DatatypeMismatch || e instanceof DecodeError || e instanceof MessageInvalid ||
  e instanceof Truncated

/** Runs synchronous work that may throw a typed error (a failure) or anything else (a defect, e.g. from a user op). */
export const attempt = <A>(f: () => A): Effect.Effect<A, InvalidArgument | DatatypeMismatch | DecodeError | MessageInvalid> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(f())
    } catch (e) {
      return isTypedError(e) ? Effect.fail(e as InvalidArgument) : Effect.die(e)
    }
  })

/** Throws unless the communicator is usable. */
export const checkComm = (c: CommState): void => {
  if (c.freed) throw new InvalidCommunicator({ message: "this communicator was freed; use it before free(), or dup() it to keep one" })
}

/** Throws `InvalidRoot` unless `root` is a rank of the communicator. */
export const checkRoot = (c: CommState, name: string, root: number): void => {
  if (Number.isInteger(root) && root >= 0 && root < c.size) return
  throw new InvalidRoot({
    root,
    size: c.size,
    message: `${name}: root ${String(root)} is not a rank of this communicator of ${c.size} rank${c.size === 1 ? "" : "s"} (0..${c.size - 1})`
  })
}

const argument = (argument: string, message: string) => new InvalidArgument({ argument, message })

/** Checks per-rank counts (length `size`, non-negative integers) and returns them. */
export const checkCounts = (name: string, what: string, counts: ReadonlyArray<number> | undefined, size: number): ReadonlyArray<number> => {
  if (counts === undefined) throw argument(what, `${name} needs ${what}: one element count per rank (${size})`)
  if (counts.length !== size) throw argument(what, `${name}: ${what} has ${counts.length} entries but the communicator has ${size} ranks`)
  for (let i = 0; i < size; i++) {
    const n = counts[i]!
    if (!Number.isInteger(n) || n < 0) throw argument(what, `${name}: ${what}[${i}] is ${String(n)}; counts are non-negative integers`)
  }
  return counts
}

/** Checks displacements against counts, or makes the packed ones (prefix sums) when none are given. */
export const checkDispls = (
  name: string,
  what: string,
  displs: ReadonlyArray<number> | undefined,
  counts: ReadonlyArray<number>
): ReadonlyArray<number> => {
  if (displs === undefined) {
    const packed = new Array<number>(counts.length)
    let at = 0
    for (let i = 0; i < counts.length; i++) {
      packed[i] = at
      at += counts[i]!
    }
    return packed
  }
  if (displs.length !== counts.length) throw argument(what, `${name}: ${what} has ${displs.length} entries but counts has ${counts.length}`)
  for (let i = 0; i < displs.length; i++) {
    const d = displs[i]!
    if (!Number.isInteger(d) || d < 0) throw argument(what, `${name}: ${what}[${i}] is ${String(d)}; displacements are non-negative integers`)
  }
  return displs
}

/** The extent the blocks `(displs[i], counts[i])` span: max of displs[i] + counts[i]. */
export const extent = (counts: ReadonlyArray<number>, displs: ReadonlyArray<number>): number => {
  let end = 0
  for (let i = 0; i < counts.length; i++) if (counts[i]! > 0) end = Math.max(end, displs[i]! + counts[i]!)
  return end
}

/** Checks a caller's `into` buffer: the datatype of the data and room for `needed` elements. */
export const checkInto = (name: string, into: TypedArray, datatype: Datatype, needed: number): void => {
  const own = Datatypes.of(into)
  if (own !== datatype) {
    throw new DatatypeMismatch({ expected: own.name, received: datatype.name, message: `${name}: the data is ${datatype.name} but into is a ${own.ctor.name}` })
  }
  if (into.length < needed) {
    throw argument("into", `${name}: into holds ${into.length} ${own.name} but the result has ${needed}`)
  }
}

/** Checks that a list argument has one entry per rank (or `expected` entries). */
export const checkList = (name: string, what: string, list: unknown, expected: number): ReadonlyArray<unknown> => {
  if (!Array.isArray(list)) throw argument(what, `${name}: ${what} must be an array of ${expected} values, got ${list === null ? "null" : typeof list}`)
  if (list.length !== expected) throw argument(what, `${name}: ${what} has ${list.length} values but ${expected} are needed`)
  return list
}

/** Checks that a buffer of `length` splits into `parts` equal blocks and returns the block length. */
export const blockLength = (name: string, length: number, parts: number): number => {
  if (length % parts !== 0) throw argument("buffer", `${name}: a buffer of ${length} elements does not split into ${parts} equal blocks`)
  return length / parts
}

/** The error for a received contribution that does not match this rank's. */
export const mismatch = (name: string, source: number, what: string): InvalidArgument =>
  argument("buffer", `${name}: rank ${source} contributed ${what}; every rank must pass buffers of the same datatype and length`)
