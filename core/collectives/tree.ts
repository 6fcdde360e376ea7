/**
 * Binomial trees over ranks relative to a root (`rel = (rank - root) mod p`):
 * rank `rel`'s parent is `rel` without its lowest set bit, and its children
 * are `rel + 2^k` for every `2^k` below that bit (all powers of two below
 * `p` for the root). The subtree of child `rel + 2^k` holds the relative
 * ranks `[rel + 2^k, min(rel + 2^(k+1), p))`. Depth: ceil(log2 p).
 */

/** This rank's number relative to `root`. */
export const relative = (rank: number, root: number, size: number): number => (rank - root + size) % size

/** The absolute rank of relative rank `rel`. */
export const absolute = (rel: number, root: number, size: number): number => (rel + root) % size

/** The lowest set bit of `rel` (the edge to its parent), or the first power of two >= size for the root. */
export const parentMask = (rel: number, size: number): number => {
  let mask = 1
  while (mask < size && (rel & mask) === 0) mask <<= 1
  return mask
}

/** Children of `rel` as relative ranks, largest subtree first. */
export const children = (rel: number, size: number): Array<number> => {
  const out: Array<number> = []
  for (let mask = parentMask(rel, size) >> 1; mask > 0; mask >>= 1) {
    if (rel + mask < size) out.push(rel + mask)
  }
  return out
}

/** How many ranks the subtree rooted at relative rank `rel` holds. */
export const subtreeSize = (rel: number, size: number): number => Math.min(parentMask(rel, size), size - rel)
