/**
 * Reduce along a k-nomial tree (binomial when ranks spin, see tree.ts): each
 * rank combines its children's partial results in ascending order of rank
 * and sends its own to its parent, so the root has the result after
 * ceil(log_k p) rounds.
 *
 * A commutative op uses the tree rooted at the root itself. A
 * non-commutative one uses the tree rooted at rank 0, where every subtree
 * is a contiguous range of ranks above its root, so contributions combine
 * in rank order; rank 0 then sends the result to the root (one more
 * message when the root is not 0).
 *
 * Cost (binomial): ceil(log2 p)·(α + β·n + γ·n) (γ: time per byte of the op).
 */
import { Effect } from "effect"
import type { CommState } from "../comm/CommState.ts"
import type { Op } from "../op/Op.ts"
import { checkComm, checkRoot } from "./checks.ts"
import type { CollectiveFailure } from "./errors.ts"
import type { ReduceOptions } from "./options.ts"
import { bufferReduction, bufferResult, foldOnBoard, prepare, reduceOnBoard } from "./reduction.ts"
import { radixFor } from "./tree.ts"
import { reduceTree } from "./treeCollectives.ts"

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
  const p = prepare(c, name, value, opArg, options, c.rank === root)
  if (p.form === "value") return c.shared !== undefined ? foldOnBoard(c.shared, p.call, p.red, value, root) : reduceTree(p.call, root, p.red, value, 0, radixFor(c))
  const onBoard = reduceOnBoard(c, p, root)
  if (onBoard !== undefined) return onBoard
  const { buffer, into } = p
  return Effect.map(reduceTree(p.call, root, bufferReduction(p), buffer, buffer.length, radixFor(c)), (result) => result === undefined ? undefined : bufferResult(result, buffer, into))
}
