/**
 * The matching engine: posted receives against arrived messages, as MPI
 * defines it.
 *
 * A receive matches on (context, source, tag), with ANY_SOURCE and ANY_TAG as
 * wildcards. Both queues are kept in order, so that messages from one sender on
 * one context and tag never overtake each other: an arrival matches the
 * earliest posted receive that accepts it, and a new receive takes the
 * earliest arrived message it accepts. Arrivals that match nothing wait in the
 * unexpected queue (their bytes stay with the transport, which bounds them).
 *
 * Plain synchronous code: it runs once per message.
 */
import type { Arrival } from "../../transports/Transport.ts"
import { OrderedList } from "../internal/OrderedList.ts"

/**
 * A receive's `source` that matches a message from any rank (MPI_ANY_SOURCE); the status says which.
 *
 * @example
 * ```ts
 * const { value, status } = yield* world.recvWithStatus({ source: ANY_SOURCE, tag: 1 })
 * yield* Effect.log(`${value} came from rank ${status.source}`)
 * ```
 */
export const ANY_SOURCE = -1
/**
 * A receive's `tag` that matches a message with any tag (MPI_ANY_TAG); the status says which.
 *
 * @example
 * ```ts
 * const { status } = yield* world.recvWithStatus({ source: 0, tag: ANY_TAG })
 * ```
 */
export const ANY_TAG = -1
/**
 * A rank that is no rank (MPI_PROC_NULL): a send to it or a receive from it completes at once and moves nothing, which spares the edges of a grid their special cases.
 *
 * @example
 * ```ts
 * const left = world.rank > 0 ? world.rank - 1 : PROC_NULL
 * yield* world.sendrecv(edge, { dest: left, source: left })   // a no-op on rank 0
 * ```
 */
export const PROC_NULL = -2

/** A message that arrived, matched or waiting. */
export interface Incoming {
  /** Arrival order on this rank; keeps requeued messages in their place. */
  readonly order: number
  /** World rank of the sender. */
  readonly source: number
  readonly context: number
  readonly tag: number
  readonly arrival: Arrival
}

/** A posted receive (or a probe): settled once, by a match or a failure. */
export interface Posted {
  readonly context: number
  /** World rank, or ANY_SOURCE. */
  readonly source: number
  readonly tag: number
  /** A probe sees a message without taking it. */
  readonly peek: boolean
  matched: Incoming | undefined
  failed: string | undefined
  failedRank: number
  /** Set with `failed` when the source finished its program instead of failing: a deadlock, not a failure. */
  finished: boolean
  /** The collective this receive belongs to (for reports of what a rank waits for). */
  label: string | undefined
  /** When it was queued to wait (`Date.now()`); 0 while not queued. */
  since: number
  /**
   * Called once when settled after posting (not when settled at `post`), after
   * the engine's state is consistent. It runs inside the transport's progress,
   * so it must not run user code: a wake that resumes a fiber defers it (defer.ts).
   */
  wake: (() => void) | undefined
  queued: boolean
}

interface Queues {
  readonly posted: OrderedList<Posted>
  readonly unexpected: OrderedList<Incoming>
}

/** Runs the wake-ups of receives settled by a failure, once each (after the engine's state is consistent). */
const wakeAll = (settled: ReadonlyArray<Posted>): void => {
  for (const p of settled) {
    const wake = p.wake
    p.wake = undefined
    wake?.()
  }
}

const accepts = (p: Posted, source: number, tag: number): boolean =>
  (p.source === source || p.source === ANY_SOURCE) && (p.tag === tag || p.tag === ANY_TAG)

export class Matching {
  private readonly queues = new Map<number, Queues>()
  private order = 0
  /** Ranks that failed, with why. */
  private readonly failedRanks = new Map<number, string>()
  /** Ranks whose program finished, with the first context of that run. */
  private readonly finishedRanks = new Map<number, number>()
  private finishSpan = 0
  private otherRanks = Number.POSITIVE_INFINITY
  /**
   * Whether `rank` can send on `context` (is in the group its receives take
   * from): a receive from any source fails only for a failed rank that could
   * have sent to it. Every rank may, unless the engine says otherwise.
   */
  canSend: (context: number, rank: number) => boolean = () => true

  private queuesOf(context: number): Queues {
    let q = this.queues.get(context)
    if (q === undefined) {
      q = { posted: new OrderedList(), unexpected: new OrderedList() }
      this.queues.set(context, q)
    }
    return q
  }

  /** Hands an arrived message to the earliest posted receive that accepts it, or queues it. */
  arrive(source: number, context: number, tag: number, arrival: Arrival): void {
    this.handOut({ order: this.order++, source, context, tag, arrival }, false)
  }

  /**
   * Gives `m` to the earliest posted receive that accepts it, else queues it
   * as unexpected (appended, or put back in its arrival order when
   * `requeued`). Probes met on the way see it, once it is in place.
   */
  private handOut(m: Incoming, requeued: boolean): void {
    const q = this.queuesOf(m.context)
    const posted = q.posted
    let probes: Array<Posted> | undefined
    let taken = false
    for (let i = posted.start; i < posted.end; i++) {
      const p = posted.at(i)
      if (p === undefined || !accepts(p, m.source, m.tag)) continue
      posted.removeAt(i)
      if (p.peek) {
        // A probe sees the message but leaves it for a receive: keep looking for one.
        ;(probes ??= []).push(p)
        continue
      }
      this.settle(p, m)
      taken = true
      break
    }
    if (!taken) {
      if (requeued) q.unexpected.insertBefore(m, (later) => later.order > m.order)
      else q.unexpected.push(m)
    }
    if (probes !== undefined) for (const probe of probes) this.settle(probe, m)
  }

  /**
   * Posts a receive (or a probe when `peek`). It is settled at once when an
   * arrived message matches or the source has failed; otherwise `wake` is
   * called when it is.
   */
  post(context: number, source: number, tag: number, peek: boolean): Posted {
    const p: Posted = {
      context,
      source,
      tag,
      peek,
      matched: undefined,
      failed: undefined,
      failedRank: -1,
      finished: false,
      label: undefined,
      since: 0,
      wake: undefined,
      queued: false
    }
    const q = this.queuesOf(context)
    const unexpected = q.unexpected
    for (let i = unexpected.start; i < unexpected.end; i++) {
      const m = unexpected.at(i)
      if (m !== undefined && accepts(p, m.source, m.tag)) {
        if (!peek) unexpected.removeAt(i)
        p.matched = m
        return p
      }
    }
    const failure = this.failureFor(source, context)
    if (failure !== undefined) {
      p.failed = failure[1]
      p.failedRank = failure[0]
      return p
    }
    const finished = this.finishedRanks.size > 0 ? this.finishedFor(p) : undefined
    if (finished !== undefined) {
      this.settleFinished(p, finished)
      return p
    }
    p.queued = true
    p.since = Date.now()
    q.posted.push(p)
    return p
  }

  /** Looks for a matching arrived message without taking it or waiting. */
  find(context: number, source: number, tag: number): Incoming | undefined {
    const q = this.queues.get(context)
    if (q === undefined) return undefined
    for (const m of q.unexpected) {
      if ((source === ANY_SOURCE || source === m.source) && (tag === ANY_TAG || tag === m.tag)) return m
    }
    return undefined
  }

  /**
   * Withdraws a posted receive (interrupted or cancelled). If it had already
   * matched a message that was not taken, the message goes back in its place.
   * Returns whether the receive was still waiting.
   */
  withdraw(p: Posted): boolean {
    if (p.queued) {
      this.queuesOf(p.context).posted.remove(p)
      p.queued = false
      p.wake = undefined
      return true
    }
    if (p.matched !== undefined && !p.peek) {
      this.requeue(p.matched)
      p.matched = undefined
    }
    return false
  }

  /** Puts a matched but untaken message back, before every later arrival. */
  requeue(m: Incoming): void {
    // A posted receive may be waiting for exactly this message now.
    this.handOut(m, true)
  }

  /**
   * Records that `rank` failed: receives waiting on it (or on ANY_SOURCE)
   * fail now, and later ones fail unless a message from it already arrived.
   */
  peerFailed(rank: number, reason: string): void {
    if (this.failedRanks.has(rank)) return
    this.failedRanks.set(rank, reason)
    let failed: Array<Posted> | undefined
    for (const q of this.queues.values()) {
      q.posted.retain((p) => {
        if (p.source !== rank && (p.source !== ANY_SOURCE || !this.canSend(p.context, rank))) return true
        p.queued = false
        p.failed = reason
        p.failedRank = rank
        ;(failed ??= []).push(p)
        return false
      })
    }
    if (failed !== undefined) wakeAll(failed)
  }

  /**
   * Records that `rank`'s program finished the run whose contexts are
   * `[base, base + span)`: receives of that run still waiting on it fail now
   * (as do receives from any source once all `others` ranks have finished),
   * and later ones fail unless a message from it already arrived.
   */
  peerFinished(rank: number, base: number, span: number, others: number): void {
    this.finishedRanks.set(rank, base)
    this.finishSpan = span
    this.otherRanks = others
    let finished: Array<Posted> | undefined
    for (const [context, q] of this.queues) {
      if (context < base || context >= base + span) continue
      q.posted.retain((p) => {
        const on = this.finishedFor(p)
        if (on === undefined) return true
        p.queued = false
        this.settleFinished(p, on)
        ;(finished ??= []).push(p)
        return false
      })
    }
    if (finished !== undefined) wakeAll(finished)
  }

  /** The finished rank that a receive waits on in vain, if any. */
  private finishedFor(p: Posted): number | undefined {
    if (p.source !== ANY_SOURCE) {
      const base = this.finishedRanks.get(p.source)
      return base !== undefined && p.context >= base && p.context < base + this.finishSpan ? p.source : undefined
    }
    // From any source: only once every other rank finished this run.
    let count = 0
    let last = -1
    for (const [rank, base] of this.finishedRanks) {
      if (p.context >= base && p.context < base + this.finishSpan) {
        count++
        last = rank
      }
    }
    return count >= this.otherRanks && last >= 0 ? last : undefined
  }

  private settleFinished(p: Posted, rank: number): void {
    p.failed = `rank ${rank} has finished`
    p.failedRank = rank
    p.finished = true
  }

  /** The receives and probes waiting now, in the order they were posted per context. */
  *waiting(): Iterable<Posted> {
    for (const q of this.queues.values()) yield* q.posted
  }

  failureOf(rank: number): string | undefined {
    return this.failedRanks.get(rank)
  }

  private failureFor(source: number, context: number): [number, string] | undefined {
    if (this.failedRanks.size === 0) return undefined
    if (source === ANY_SOURCE) {
      for (const [rank, reason] of this.failedRanks) if (this.canSend(context, rank)) return [rank, reason]
      return undefined
    }
    const reason = this.failedRanks.get(source)
    return reason === undefined ? undefined : [source, reason]
  }

  /** Drops every arrived message and posted receive of the contexts `drop` selects. */
  purge(drop: (context: number) => boolean): void {
    for (const [context, q] of this.queues) {
      if (!drop(context)) continue
      for (const m of q.unexpected) m.arrival.discard()
      this.queues.delete(context)
    }
  }

  /** Settles a posted receive and runs its wake-up; callers settle once their own state is consistent. */
  private settle(p: Posted, m: Incoming): void {
    p.queued = false
    p.matched = m
    const wake = p.wake
    p.wake = undefined
    wake?.()
  }
}
