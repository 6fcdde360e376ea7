/**
 * Scatter along a k-nomial tree (binomial when ranks spin, see tree.ts): the
 * root sends each child one bundle with the items of its whole subtree,
 * which passes them on the same way; items are encoded once at the root and
 * decoded once where they end.
 *
 * Cost (binomial): ceil(log2 p)·α + β·n·(p-1) at the root (n: bytes per rank).
 */
import { Effect } from "effect"
import type { Encoded } from "../messaging/Message.ts"
import type { TypedArray } from "../../codecs/Datatype.ts"
import type { CommState } from "../comm/CommState.ts"
import { InvalidArgument } from "../errors.ts"
import { attempt, blockLength, checkComm, checkCounts, checkDispls, checkList, checkRoot } from "./checks.ts"
import type { CollectiveFailure } from "./errors.ts"
import { open } from "./link.ts"
import type { ScatterOptions, ScattervOptions } from "./options.ts"
import { asTypedArray, blocks, checkFits, encodeValue, finishItem, intoOption, isBufferForm, noInto } from "./payload.ts"
import * as Shared from "./shared/calls.ts"
import { radixFor } from "./tree.ts"
import { scatterTree } from "./treeCollectives.ts"

const scatterItems = (c: CommState, name: string, root: number, items: ReadonlyArray<Encoded> | undefined, into: TypedArray | undefined) => {
  const call = open(c, name)
  const scattered = c.shared !== undefined ? Shared.scatter(c.shared, root, items) : scatterTree(call, root, items, radixFor(c))
  return Effect.flatMap(scattered, (mine) => attempt(() => finishItem(c, name, mine, root, call.tag, into, c.rank === root)))
}

/**
 * `scatter(values, { root, codec, into })`: the root passes one value per
 * rank (or a typed array of `size` equal blocks); each rank gets its own.
 */
export const start = (c: CommState, values: unknown, options: ScatterOptions | undefined): Effect.Effect<unknown, CollectiveFailure> => {
  const name = "scatter"
  const root = options?.root ?? 0
  checkComm(c)
  checkRoot(c, name, root)
  const into = intoOption(name, options?.into)
  if (c.rank !== root) return scatterItems(c, name, root, undefined, into)
  const p = c.size
  if (isBufferForm(values, options?.codec)) {
    const buffer = asTypedArray(values)
    const n = blockLength(name, buffer.length, p)
    const counts = new Array<number>(p).fill(n)
    return scatterItems(c, name, root, blocks(buffer, counts, counts.map((_, i) => i * n)), into)
  }
  noInto(name, into)
  const list = checkList(name, "values", values, p)
  return scatterItems(c, name, root, list.map((v) => encodeValue(c, v, options?.codec)), into)
}

/**
 * `scatterv(values, { counts, displs, root, codec, into })`: rank i gets
 * `counts[i]` elements of the root's buffer from `displs[i]` (a typed array),
 * or `counts[i]` of the root's values (an array).
 */
export const startV = (c: CommState, values: unknown, options: ScattervOptions | undefined): Effect.Effect<unknown, CollectiveFailure> => {
  const name = "scatterv"
  const root = options?.root ?? 0
  checkComm(c)
  checkRoot(c, name, root)
  const into = intoOption(name, options?.into)
  if (c.rank !== root) return scatterItems(c, name, root, undefined, into)
  const counts = checkCounts(name, "counts", options?.counts, c.size)
  const displs = checkDispls(name, "displs", options?.displs, counts)
  if (isBufferForm(values, options?.codec)) {
    const buffer = asTypedArray(values)
    checkFits(name, "counts and displs", buffer.length, counts, displs)
    return scatterItems(c, name, root, blocks(buffer, counts, displs), into)
  }
  noInto(name, into)
  if (!Array.isArray(values)) throw new InvalidArgument({ argument: "values", message: `${name}: the root passes an array of values (or a typed array)` })
  checkFits(name, "counts and displs", values.length, counts, displs)
  return scatterItems(c, name, root, counts.map((n, i) => encodeValue(c, values.slice(displs[i]!, displs[i]! + n), options?.codec)), into)
}
