/**
 * Tags of collective calls. Collectives run on their communicator's second
 * context (`context + 1`), so they never match point-to-point traffic, and
 * each call takes the next tag of the communicator: as every rank makes its
 * collective calls in the same order (MPI's rule), the tags agree across
 * ranks, and consecutive or concurrent non-blocking collectives never match
 * each other's messages. Within one call, messages between a pair of ranks
 * keep their order (non-overtaking), which the algorithms rely on.
 */
import type { CommState } from "../comm/CommState.ts"

/** The tag of the next collective call on `c`: consecutive collectives never match each other. */
export const nextCollectiveTag = (c: CommState): number => {
  const seq = c.collectiveSeq
  c.collectiveSeq = (seq + 1) & 0x7fffffff
  return seq
}
