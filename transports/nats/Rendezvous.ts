/**
 * The job rendezvous: ranks announce themselves with JOIN frames on the job
 * subject, and agree on one run of the job before any of them starts.
 *
 * 1. Each rank records every process that claims each rank (its incarnation,
 *    a random id per process, with its pid and host), pinning the first, and
 *    every launcher with the ranks it starts (its `--ranks`): a JOIN names
 *    both, so a rank that hears from one process of another launcher whose
 *    ranks overlap its own launcher's knows at once that two runs collide,
 *    without waiting to hear from the duplicate process itself.
 * 2. Once it has seen all `size` ranks, it proposes a run: a digest of the
 *    job, its size and the incarnation it pinned for each rank. Its COMPLETE
 *    JOINs carry that run id.
 * 3. It starts only once every peer proposed the same run: so every member
 *    pinned the same process for every rank, and frames of any other process
 *    or run are refused for the rest of the job.
 *
 * A second process claiming a rank, or a peer proposing another run (it
 * pinned another process for some rank), is a conflict: the join fails on
 * every rank that sees it, with an error that names the rank and both
 * processes, before any program code runs.
 */
import { FLAG_COMPLETE, type JoinFrame } from "./Frame.ts"

/** A launcher of some of the job's ranks: its random id, where it runs, and the ranks it starts. */
export interface LauncherInfo {
  readonly id: number
  readonly pid: number
  readonly host: string
  readonly ranks: ReadonlyArray<number>
}

const describeLauncher = (l: LauncherInfo): string =>
  `the launcher pid ${l.pid} on ${l.host.length > 0 ? l.host : "an unnamed host"} (ranks ${formatRanks(l.ranks)})`

/** A process that joined as a rank: its incarnation, its credit window, and where it runs. */
export interface Member {
  readonly incarnation: number
  /** The credit window it grants each peer (bytes). */
  readonly window: number
  readonly pid: number
  readonly host: string
}

export type JoinOutcome =
  | { readonly _tag: "New"; readonly member: Member }
  | { readonly _tag: "Known" }
  | { readonly _tag: "Refused"; readonly message: string }
  | { readonly _tag: "Conflict"; readonly rank: number; readonly message: string }

/** "pid 4242 on host-a". */
export const describeProcess = (m: { readonly pid: number; readonly host: string; readonly incarnation: number }): string =>
  m.pid > 0 ? `pid ${m.pid} on ${m.host.length > 0 ? m.host : "an unnamed host"}` : `the process with incarnation ${m.incarnation.toString(16)}`

const ADVICE = "check that the hosts' --ranks do not overlap, that no older run with the same --job is still alive, " +
  "and that no other job uses the same --job"

/** The run id of a job whose ranks are the processes `incarnations` (by rank): FNV-1a, never 0. */
export const runOf = (job: string, incarnations: ReadonlyArray<number>): number => {
  let h = 0x811c9dc5
  const mix = (byte: number) => {
    h ^= byte & 255
    h = Math.imul(h, 0x01000193) >>> 0
  }
  for (let i = 0; i < job.length; i++) {
    const c = job.charCodeAt(i)
    mix(c)
    mix(c >>> 8)
  }
  const word = (w: number) => {
    mix(w)
    mix(w >>> 8)
    mix(w >>> 16)
    mix(w >>> 24)
  }
  word(incarnations.length)
  for (const x of incarnations) word(x)
  return h === 0 ? 1 : h
}

export class Rendezvous {
  readonly job: string
  readonly rank: number
  readonly size: number
  /** The pinned process of each rank seen so far (this rank's own included). */
  readonly members = new Map<number, Member>()
  /** Every process seen claiming each rank, by incarnation. */
  private readonly claimants = new Map<number, Map<number, Member>>()
  /** The run each peer proposed in its COMPLETE JOIN. */
  private readonly proposals = new Map<number, number>()
  /** Peers known to run this rank's run (a heartbeat or frame carrying it): announcing can stop. */
  private readonly running = new Set<number>()
  private proposed = 0
  /** Launchers heard of, by id, and which launcher starts each rank. */
  private readonly launchers = new Map<number, LauncherInfo>()
  private readonly owners: Array<number | undefined>

  constructor(job: string, rank: number, size: number, self: Member, launcher?: LauncherInfo) {
    this.job = job
    this.rank = rank
    this.size = size
    this.owners = new Array(size).fill(undefined)
    this.members.set(rank, self)
    this.claimants.set(rank, new Map([[self.incarnation, self]]))
    const own = launcher ?? { id: self.incarnation, pid: self.pid, host: self.host, ranks: [rank] }
    this.launchers.set(own.id, own)
    for (const r of own.ranks) this.owners[r] = own.id
  }

  /** Whether every rank has joined. */
  get complete(): boolean {
    return this.members.size === this.size
  }

  /** The run this rank proposes: 0 until every rank joined. */
  get run(): number {
    if (this.proposed === 0 && this.complete) {
      this.proposed = runOf(this.job, Array.from({ length: this.size }, (_, r) => this.members.get(r)!.incarnation))
    }
    return this.proposed
  }

  /** Whether every peer proposed this rank's run: the job may start. */
  get agreed(): boolean {
    const run = this.run
    if (run === 0) return false
    for (let r = 0; r < this.size; r++) if (r !== this.rank && this.proposals.get(r) !== run) return false
    return true
  }

  /** Whether every peer is known to run the agreed run: announcing can stop. */
  get settled(): boolean {
    return this.agreed && this.running.size >= this.size - 1
  }

  /** Records a JOIN frame (its source is in range). */
  join(frame: JoinFrame): JoinOutcome {
    if (frame.size !== this.size) {
      // A conflict, not a private refusal: the notice reaches the other host's ranks too, so both stop at once.
      return {
        _tag: "Conflict",
        rank: frame.source,
        message: `rank ${frame.source} (${describeProcess(frame)}) was started for a job of ${frame.size} ranks, this rank for ${this.size}: give every host the same --size`
      }
    }
    const byLauncher = this.launcherClaims(frame)
    if (byLauncher !== undefined) return byLauncher
    const claimant: Member = { incarnation: frame.incarnation, window: frame.window, pid: frame.pid, host: frame.host }
    let seen = this.claimants.get(frame.source)
    if (seen === undefined) this.claimants.set(frame.source, (seen = new Map()))
    if (!seen.has(frame.incarnation)) seen.set(frame.incarnation, claimant)
    const conflict = this.conflictOn(frame.source)
    if (conflict !== undefined) return conflict
    if (frame.run !== 0 && (frame.flags & FLAG_COMPLETE) !== 0) this.proposals.set(frame.source, frame.run)
    const disagreement = this.disagreement()
    if (disagreement !== undefined) return disagreement
    if (this.members.has(frame.source)) return { _tag: "Known" }
    this.members.set(frame.source, claimant)
    return { _tag: "New", member: claimant }
  }

  /** A peer showed (a heartbeat, a frame of the run) that it runs `run`. */
  peerRunning(rank: number, run: number): void {
    if (run !== 0 && run === this.proposed) this.running.add(rank)
  }

  /** The claimant of `rank` with `incarnation`, if one announced itself. */
  claimant(rank: number, incarnation: number): Member | undefined {
    return this.claimants.get(rank)?.get(incarnation)
  }

  /** Records the sender's launcher and the ranks it starts; two launchers starting one rank are a conflict. */
  private launcherClaims(frame: JoinFrame): JoinOutcome | undefined {
    if (this.launchers.has(frame.launcher)) return undefined
    const ranks = parseRanks(frame.ranks, this.size)
    if (typeof ranks === "string" || !ranks.includes(frame.source)) {
      return {
        _tag: "Refused",
        message: `rank ${frame.source} (${describeProcess(frame)}) announced a launcher whose ranks "${frame.ranks}" do not include it` +
          `${typeof ranks === "string" ? ` (${ranks})` : ""}: a client that does not speak rankflow's protocol`
      }
    }
    const launcher: LauncherInfo = { id: frame.launcher, pid: frame.launcherPid, host: frame.host, ranks }
    for (const r of ranks) {
      const owner = this.owners[r]
      if (owner !== undefined && owner !== launcher.id) {
        return {
          _tag: "Conflict",
          rank: r,
          message: `two processes claim rank ${r} of job ${this.job}: ${describeLauncher(this.launchers.get(owner)!)} and ${describeLauncher(launcher)} ` +
            `both start it; ${ADVICE}`
        }
      }
    }
    this.launchers.set(launcher.id, launcher)
    for (const r of ranks) this.owners[r] = launcher.id
    return undefined
  }

  /** The conflict of two processes claiming `rank`, if there is one. */
  private conflictOn(rank: number): JoinOutcome | undefined {
    const seen = this.claimants.get(rank)
    if (seen === undefined || seen.size < 2) return undefined
    const [a, b] = [...seen.values()]
    return {
      _tag: "Conflict",
      rank,
      message: `two processes claim rank ${rank} of job ${this.job}: ${describeProcess(a!)} and ${describeProcess(b!)}; ${ADVICE}`
    }
  }

  /** A peer that proposed another run than this rank's: the two pinned different processes for some rank. */
  private disagreement(): JoinOutcome | undefined {
    const run = this.run
    if (run === 0) return undefined
    for (const [peer, proposal] of this.proposals) {
      if (proposal === run) continue
      const self = this.members.get(peer)
      return {
        _tag: "Conflict",
        rank: peer,
        message: `rank ${peer} of job ${this.job}${self === undefined ? "" : ` (${describeProcess(self)})`} agreed on another set of processes ` +
          `than this rank: some rank of the job was claimed by two processes; ${ADVICE}`
      }
    }
    return undefined
  }

  /** Peers that joined but have not proposed this rank's run (yet), ascending. */
  unconfirmed(): Array<number> {
    const out: Array<number> = []
    for (let r = 0; r < this.size; r++) if (r !== this.rank && this.members.has(r) && this.proposals.get(r) !== this.proposed) out.push(r)
    return out
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
