/**
 * k-nomial trees over ranks relative to a root (`rel = (rank - root) mod p`).
 * Write `rel` in base k: its parent is `rel` with its lowest non-zero digit
 * cleared, and its children are `rel + j·k^i` (j = 1..k-1) for every digit
 * position i below that digit (every position, for the root). The subtree of
 * child `rel + j·k^i` holds the relative ranks `[rel + j·k^i, … + k^i)`
 * within p: children are contiguous ranges above their parent, in ascending
 * order, which keeps non-commutative reductions in rank order. Depth:
 * ceil(log_k p); k = 2 is the binomial tree, k >= p the flat one.
 *
 * Why a radix: a round of the tree costs the latency α of one hop, and a
 * rank with c children spends c times the per-message overhead o. When ranks
 * spin (no more ranks than cores), α ≈ o ≈ 1 µs and the binomial tree is
 * best; when they sleep (more ranks than cores), every hop pays a thread
 * wake-up (α ≈ 60–120 µs, o ≈ 5 µs) and flatter trees win up to k ≈ α/o.
 */
import type { CommState } from "../comm/CommState.ts"

/** This rank's number relative to `root`. */
export const relative = (rank: number, root: number, size: number): number => (rank - root + size) % size

/** The absolute rank of relative rank `rel`. */
export const absolute = (rel: number, root: number, size: number): number => (rel + root) % size

export interface Child {
  /** The child's relative rank. */
  readonly rel: number
  /** How many ranks its subtree holds (itself included). */
  readonly size: number
}

export interface Tree {
  /** The parent's relative rank, or -1 at the root. */
  readonly parent: number
  /** The children, in ascending order of rank. */
  readonly children: ReadonlyArray<Child>
}

/** The node of relative rank `rel` in the k-nomial tree over `size` ranks. */
export const knomial = (rel: number, size: number, k: number): Tree => {
  let weight = 1
  let parent = -1
  if (rel === 0) {
    while (weight < size) weight *= k
  } else {
    while (Math.floor(rel / weight) % k === 0) weight *= k
    parent = rel - (Math.floor(rel / weight) % k) * weight
  }
  const children: Array<Child> = []
  for (let w = 1; w < weight; w *= k) {
    for (let j = 1; j < k; j++) {
      const child = rel + j * w
      if (child < size) children.push({ rel: child, size: Math.min(w, size - child) })
    }
  }
  return { parent, children }
}

/**
 * The order in which a node sends to its children: the largest subtree first
 * (it has the longest way to go), children of equal subtrees in ascending
 * rank, the order in which the ranks left the previous collective's release.
 */
export const sendOrder = (node: Tree): ReadonlyArray<Child> => {
  // `children` ascend by rank and the sort is stable: equal subtrees keep that order.
  return node.children.slice().sort((a, b) => b.size - a.size)
}

/** The radix when ranks sleep while they wait (NATS; shm with `spinMicros: 0`): measured in bench/collectives.ts. */
export const SLEEPING_RADIX = 16

const forcedRadix = Number(globalThis.process?.env?.RANKFLOW_COLL_RADIX ?? "")

/**
 * The tree radix for `c`: 2 (binomial) when the transport spins while
 * waiting, `SLEEPING_RADIX` when every hop pays a wake-up. The same on
 * every rank. `RANKFLOW_COLL_RADIX` overrides it (for measurements).
 */
export const radixFor = (c: CommState): number =>
  Number.isInteger(forcedRadix) && forcedRadix >= 2 ? forcedRadix : c.engine.transport.spinMicros > 0 ? 2 : SLEEPING_RADIX

/** Rounds of a k-nomial tree over `size` ranks: ceil(log_k size). */
export const depth = (size: number, k: number): number => {
  let rounds = 0
  for (let reach = 1; reach < size; reach *= k) rounds++
  return rounds
}

/** The largest power of two not above `p`. */
export const floorPow2 = (p: number): number => {
  let pof2 = 1
  while (pof2 * 2 <= p) pof2 *= 2
  return pof2
}
