/**
 * The launcher's view of what its ranks are doing: it asks them in rounds
 * (`StatusQuery`), and from their answers it finds deadlocks, reports stalls
 * and prints the per-rank picture (on SIGINT, SIGQUIT, a stall or a deadlock).
 *
 * A deadlock is decided, not guessed, where the launcher runs the whole job in
 * one process (shm): every rank whose program is still running is quiet (its
 * event loop idle, no timer or I/O of its own pending), every packet sent has
 * arrived, and nothing changed between two rounds. Such ranks wait for each
 * other and nothing can wake them. A rank that computes, sleeps or reads a
 * file is not quiet, so a slow job is never called deadlocked.
 */
import { Deadlock } from "../errors.ts"
import { ANY_SOURCE } from "../messaging/Matching.ts"
import type * as Protocol from "./RunnerProtocol.ts"
import { describeWait } from "../messaging/waits.ts"

/** How often the launcher asks its ranks (milliseconds). */
export const ROUND_MILLIS = 200
/** How long a round may wait for ranks that do not answer (they compute without yielding). */
const ROUND_PATIENCE_MILLIS = 1000

export class JobWatch {
  private round = 0
  private started = 0
  private replies = new Map<number, Protocol.Status>()
  /** The last round every rank answered. */
  private complete: Map<number, Protocol.Status> | undefined
  private pictures: Array<(picture: string) => void> = []
  /**
   * Given every round's answers while set (a dashboard watches): rounds then
   * run every ROUND_MILLIS, and a round some rank did not answer in time is
   * given as far as it got.
   */
  observer: ((replies: ReadonlyMap<number, Protocol.Status>) => void) | undefined
  /** Whether the observer wants rounds now (default: always, while one is set). */
  observing: () => boolean = () => true

  /** The ranks this launcher runs. */
  private readonly ranks: ReadonlyArray<number>
  /** Whether the launcher sees the whole job (deadlocks can be decided). */
  private readonly decides: boolean

  constructor(ranks: ReadonlyArray<number>, decides: boolean) {
    this.ranks = ranks
    this.decides = decides
  }

  /** Whether a round is due now: when watching for deadlocks, or when a picture is wanted. */
  due(now: number): boolean {
    return this.wait(now) === 0
  }

  /**
   * Milliseconds until the next round is due (infinite when none is wanted):
   * a round every ROUND_MILLIS, at once for a picture, and a round that some
   * rank has not answered is given up after ROUND_PATIENCE_MILLIS.
   */
  wait(now: number): number {
    if (!this.decides && this.pictures.length === 0 && (this.observer === undefined || !this.observing())) return Number.POSITIVE_INFINITY
    const outstanding = this.round > 0 && this.replies.size < this.ranks.length
    if (outstanding) return Math.max(0, this.started + ROUND_PATIENCE_MILLIS - now)
    return this.pictures.length > 0 ? 0 : Math.max(0, this.started + ROUND_MILLIS - now)
  }

  /** Starts a round: the query to post to every rank. */
  next(now: number): Protocol.StatusQuery {
    if (this.replies.size < this.ranks.length && this.round > 0) {
      if (this.pictures.length > 0) this.deliver()
      this.observer?.(this.replies)
    }
    this.round++
    this.started = now
    this.replies = new Map()
    return this.observer !== undefined && this.observing() ? { _tag: "Status", round: this.round, watched: true } : { _tag: "Status", round: this.round }
  }

  /** Asks for the picture at the end of the next round. */
  picture(deliver: (picture: string) => void): void {
    this.pictures.push(deliver)
  }

  /** Takes a rank's answer; returns the deadlock when this answer completes a round that proves one. */
  reply(rank: number, status: Protocol.Status): Deadlock | undefined {
    if (status.round !== this.round) return undefined
    this.replies.set(rank, status)
    if (this.replies.size < this.ranks.length) return undefined
    const previous = this.complete
    this.complete = this.replies
    if (this.pictures.length > 0) this.deliver()
    this.observer?.(this.replies)
    return this.decides && previous !== undefined ? deadlock(previous, this.replies) : undefined
  }

  private deliver(): void {
    const text = pictureOf(this.ranks, this.replies)
    const waiting = this.pictures
    this.pictures = []
    for (const w of waiting) w(text)
  }
}

/** One line per rank: what it is doing, as far as its answer (or its silence) tells. */
export const pictureOf = (ranks: ReadonlyArray<number>, replies: ReadonlyMap<number, Protocol.Status>): string =>
  ranks.map((rank) => `rank ${rank}: ${doing(replies.get(rank))}`).join("\n")

const doing = (s: Protocol.Status | undefined): string => {
  if (s === undefined) return "running (busy: it did not answer, so it computes without yielding)"
  if (s.run === 0) return "finished"
  if (s.waits.length > 0) return s.waits.map((w) => describeWait(w)).join("; ") + (s.pending.length === 0 ? "" : `; also pending: ${s.pending.join(", ")}`)
  return s.quiet ? "waiting, on nothing rankflow knows of (an Effect that never completes?)" : `running${pendingText(s)}`
}

const pendingText = (s: Protocol.Status): string => s.pending.length === 0 ? "" : ` (pending: ${s.pending.join(", ")})`

/** The deadlock two consecutive complete rounds prove, if they do. */
const deadlock = (before: ReadonlyMap<number, Protocol.Status>, now: ReadonlyMap<number, Protocol.Status>): Deadlock | undefined => {
  let sent = 0
  let arrived = 0
  let live = 0
  for (const [rank, s] of now) {
    const b = before.get(rank)
    if (b === undefined || b.run !== s.run || b.sent !== s.sent || b.arrived !== s.arrived || b.activity !== s.activity) return undefined
    if (s.run !== 0) {
      if (!s.quiet || !b.quiet) return undefined
      live++
    }
    sent += s.sent
    arrived += s.arrived
  }
  if (live === 0 || sent !== arrived) return undefined
  const ranks = [...now.keys()].sort((a, b) => a - b)
  const cycle = findCycle(now)
  const waits = ranks.filter((r) => now.get(r)!.run !== 0).map((r) => `rank ${r}: ${doing(now.get(r))}`)
  for (const r of ranks) if (now.get(r)!.run === 0) waits.push(`rank ${r}: finished`)
  return new Deadlock({
    message: `deadlock: every running rank waits and no message is in flight\n${waits.map((w) => `  ${w}`).join("\n")}` +
      (cycle === undefined ? "" : `\n  cycle: ${[...cycle, cycle[0]].map((r) => `rank ${r}`).join(" → ")}`),
    waits,
    cycle
  })
}

/** A cycle of running ranks, each waiting on the next (world ranks), if there is one. */
const findCycle = (statuses: ReadonlyMap<number, Protocol.Status>): Array<number> | undefined => {
  const edges = new Map<number, Array<number>>()
  for (const [rank, s] of statuses) {
    if (s.run === 0) continue
    edges.set(rank, s.waits.map((w) => w.worldPeer).filter((p) => p !== ANY_SOURCE && p !== rank && statuses.get(p)?.run !== 0))
  }
  const state = new Map<number, "open" | "done">()
  const path: Array<number> = []
  const visit = (r: number): Array<number> | undefined => {
    state.set(r, "open")
    path.push(r)
    for (const next of edges.get(r) ?? []) {
      if (state.get(next) === "open") return path.slice(path.indexOf(next))
      if (state.get(next) === undefined && edges.has(next)) {
        const found = visit(next)
        if (found !== undefined) return found
      }
    }
    path.pop()
    state.set(r, "done")
    return undefined
  }
  for (const r of [...edges.keys()].sort((a, b) => a - b)) {
    if (state.get(r) !== undefined) continue
    const found = visit(r)
    if (found !== undefined) return found
  }
  return undefined
}
