/**
 * Gather along a k-nomial tree (binomial when ranks spin, see tree.ts):
 * each rank sends its subtree's items to its parent as one bundle, so the
 * root receives ceil(log2 p) messages instead of p - 1, and items are
 * forwarded without being decoded on the way.
 *
 * Cost (binomial): ceil(log2 p)·α + β·n·(p-1) at the root (n: bytes per rank).
 */
import { Effect } from "effect"
import type { TypedArray } from "../../codecs/Datatype.ts"
import * as Datatypes from "../../codecs/Datatype.ts"
import type { CommState } from "../comm/CommState.ts"
import { InvalidArgument } from "../errors.ts"
import { attempt, checkComm, checkCounts, checkDispls, checkRoot, extent } from "./checks.ts"
import type { CollectiveFailure } from "./errors.ts"
import { open } from "./link.ts"
import type { GatherOptions, GathervOptions } from "./options.ts"
import { asTypedArray, assemble, decodeValue, encodeBuffer, encodeValue, intoOption, isBufferForm, joinLists, noInto, output } from "./payload.ts"
import * as Shared from "./shared/calls.ts"
import { radixFor } from "./tree.ts"
import { gatherTree } from "./treeCollectives.ts"

/**
 * `gather(value, { root, codec, into })`: the root gets every rank's value,
 * by rank (a typed array: their concatenation); the others get undefined.
 */
export const start = (c: CommState, value: unknown, options: GatherOptions | undefined): Effect.Effect<unknown, CollectiveFailure> => {
  const name = "gather"
  const root = options?.root ?? 0
  checkComm(c)
  checkRoot(c, name, root)
  const p = c.size
  const into = c.rank === root ? intoOption(name, options?.into) : undefined
  if (isBufferForm(value, options?.codec)) {
    const buffer = asTypedArray(value)
    const datatype = Datatypes.of(buffer)
    const n = buffer.length
    const out = c.rank === root ? output(name, into, datatype, p * n) : undefined
    if (c.shared !== undefined) return Effect.map(Shared.gatherInto(c.shared, name, buffer, root, out), () => out)
    const call = open(c, name)
    return Effect.flatMap(gatherTree(call, root, encodeBuffer(buffer), radixFor(c)), (items) =>
      items === undefined
        ? Effect.succeed(undefined)
        : attempt(() => assemble(c, name, items, datatype, new Array(p).fill(n), items.map((_, i) => i * n), out!)))
  }
  noInto(name, into)
  const message = encodeValue(c, value, options?.codec)
  const call = open(c, name)
  const gathered = c.shared !== undefined ? Shared.gather(c.shared, name, message, root) : gatherTree(call, root, message, radixFor(c))
  return Effect.flatMap(gathered, (items) =>
    items === undefined ? Effect.succeed(undefined) : attempt(() => items.map((m, i) => decodeValue(call.c, m, i, call.tag))))
}

/**
 * `gatherv(values, { counts, displs, root, codec, into })`: the root gets
 * `counts[i]` elements from rank i at `displs[i]` (typed arrays), or every
 * rank's array of values joined in rank order (placed at `displs` if given).
 */
export const startV = (c: CommState, value: unknown, options: GathervOptions | undefined): Effect.Effect<unknown, CollectiveFailure> => {
  const name = "gatherv"
  const root = options?.root ?? 0
  checkComm(c)
  checkRoot(c, name, root)
  const p = c.size
  const isRoot = c.rank === root
  const into = isRoot ? intoOption(name, options?.into) : undefined
  if (isBufferForm(value, options?.codec)) {
    const buffer = asTypedArray(value)
    const datatype = Datatypes.of(buffer)
    let counts: ReadonlyArray<number> = []
    let displs: ReadonlyArray<number> = []
    let out: TypedArray | undefined
    if (isRoot) {
      counts = checkCounts(name, "counts", options?.counts, p)
      displs = checkDispls(name, "displs", options?.displs, counts)
      out = output(name, into, datatype, extent(counts, displs))
    }
    const call = open(c, name)
    return Effect.flatMap(gatherTree(call, root, encodeBuffer(buffer), radixFor(c)), (items) =>
      items === undefined ? Effect.succeed(undefined) : attempt(() => assemble(c, name, items, datatype, counts, displs, out!)))
  }
  noInto(name, into)
  if (!Array.isArray(value)) throw new InvalidArgument({ argument: "values", message: `${name}: each rank passes an array of values (or a typed array)` })
  const counts = isRoot && options?.counts !== undefined ? checkCounts(name, "counts", options.counts, p) : undefined
  const displs = isRoot && options?.displs !== undefined ? checkDispls(name, "displs", options.displs, counts ?? new Array(p).fill(0)) : undefined
  const message = encodeValue(c, value, options?.codec)
  const call = open(c, name)
  return Effect.flatMap(gatherTree(call, root, message, radixFor(c)), (items) =>
    items === undefined ? Effect.succeed(undefined) : attempt(() => joinLists(name, items.map((m, i) => decodeValue(call.c, m, i, call.tag)), counts, displs)))
}
