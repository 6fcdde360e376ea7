/**
 * The job rendezvous: ranks announce themselves with JOIN frames on the job
 * subject until every one of the job's `size` ranks has been seen (and has
 * said it saw everyone). A rank starts once it has seen all `size` JOINs, or
 * fails after the join timeout naming the ranks still missing.
 *
 * A JOIN pins the rank's incarnation (a random id per process): frames from
 * another process claiming the same rank are refused, and a second claimant
 * during the join is an error that names the overlap.
 */
import type { JoinFrame } from "./Frame.ts"

export interface Member {
  readonly incarnation: number
  /** The credit window it grants each peer (bytes). */
  readonly window: number
}

export type JoinOutcome =
  | { readonly _tag: "New"; readonly member: Member }
  | { readonly _tag: "Known" }
  | { readonly _tag: "Refused"; readonly message: string }

export class Rendezvous {
  readonly rank: number
  readonly size: number
  readonly members = new Map<number, Member>()
  /** Ranks known to have seen every rank join. */
  private readonly completed = new Set<number>()

  constructor(rank: number, size: number, self: Member) {
    this.rank = rank
    this.size = size
    this.members.set(rank, self)
  }

  /** Whether every rank has joined. */
  get complete(): boolean {
    return this.members.size === this.size
  }

  /** Whether every rank has joined and every peer said so too: announcing can stop. */
  get settled(): boolean {
    return this.complete && this.completed.size >= this.size - 1
  }

  /** Records a JOIN frame (its source is in range). */
  join(frame: JoinFrame): JoinOutcome {
    if (frame.size !== this.size) {
      return {
        _tag: "Refused",
        message: `rank ${frame.source} was started for a job of ${frame.size} ranks, this rank for ${this.size}: give every host the same --size`
      }
    }
    if (frame.flags & 1) this.completed.add(frame.source)
    const known = this.members.get(frame.source)
    if (known !== undefined) {
      if (known.incarnation === frame.incarnation) return { _tag: "Known" }
      return {
        _tag: "Refused",
        message: `two processes claim rank ${frame.source} of this job: check that the hosts' --ranks do not overlap, and that no older run with the same --job is still alive`
      }
    }
    const member = { incarnation: frame.incarnation, window: frame.window }
    this.members.set(frame.source, member)
    return { _tag: "New", member }
  }

  /** A peer showed, by a heartbeat, that it has seen everyone. */
  peerCompleted(rank: number): void {
    if (this.members.has(rank)) this.completed.add(rank)
  }

  /** Ranks not yet joined, ascending. */
  missing(): Array<number> {
    const out: Array<number> = []
    for (let r = 0; r < this.size; r++) if (!this.members.has(r)) out.push(r)
    return out
  }
}

/** Ranks as compact ranges: [0, 1, 2, 3, 5] → "0-3, 5". */
export const formatRanks = (ranks: ReadonlyArray<number>): string => {
  const parts: Array<string> = []
  let i = 0
  while (i < ranks.length) {
    let j = i
    while (j + 1 < ranks.length && ranks[j + 1] === ranks[j]! + 1) j++
    parts.push(j === i ? `${ranks[i]}` : `${ranks[i]}-${ranks[j]}`)
    i = j + 1
  }
  return parts.join(", ")
}

/**
 * Parses a ranks spec (`"0-3"`, `"0-3,6,8-9"`) for a job of `size` ranks into
 * ascending ranks; a string says what is wrong with it.
 */
export const parseRanks = (spec: string, size: number): Array<number> | string => {
  const out = new Set<number>()
  for (const raw of spec.split(",")) {
    const part = raw.trim()
    const m = /^(\d+)(?:-(\d+))?$/.exec(part)
    if (m === null) return `--ranks ${JSON.stringify(spec)}: "${part}" is not a rank or a range like 0-3`
    const a = Number(m[1])
    const b = m[2] === undefined ? a : Number(m[2])
    if (b < a) return `--ranks ${JSON.stringify(spec)}: the range ${part} is backwards`
    if (b >= size) return `--ranks ${JSON.stringify(spec)}: rank ${b} does not exist in a job of ${size} ranks (0-${size - 1})`
    for (let r = a; r <= b; r++) out.add(r)
  }
  return [...out].sort((x, y) => x - y)
}
