/**
 * The shm `Transport` of one rank (a worker thread): rings to and from every
 * other rank in shared memory, the shared arena, and the progress engine that
 * drives them.
 *
 * Progress happens in `progress()`: it reads every incoming ring, handles
 * rendezvous replies and writes what waits in outgoing queues. It runs when
 * the rank's doorbell rings (an `Atomics.waitAsync` is always armed on it while
 * the transport is open, so requests progress without anyone polling), when
 * core calls `poll()` while spinning, and after local events (a self-send, a
 * freed budget). A pending `waitAsync` does not keep the thread alive, so a
 * ref'd timer does, only while operations are pending.
 */
import type { Arrival, Packet, SendDone, Transport } from "../Transport.ts"
import { PeerFailure, TransportError } from "../Transport.ts"
import { Arena } from "./Arena.ts"
import { Doorbells, OwnBell } from "./Doorbell.ts"
import { Budget, Inbox, type ReceiveContext, selfArrival, type ShmArrival } from "./Inbox.ts"
import { type Geometry, pairLayout, type SharedRegions, YIELD_AFTER_MICROS } from "./Layout.ts"
import { Outbox } from "./Outbox.ts"
import { ShmSegments } from "./Segments.ts"
import { Recycler, Slab } from "../Slab.ts"
import { yieldThread } from "../yieldThread.ts"
import { DataReader, DataWriter, ReplyReader, ReplyWriter, type RingViews, ringViews } from "./Ring.ts"

/** Envelopes are at most this long (the MSG record keeps their length in a byte). */
const MAX_ENVELOPE = 255

/**
 * Rank `rank`'s transport over a job's shared regions (the worker builds it; tests may build several in one thread).
 *
 * @example
 * ```ts
 * // Inside a rank of an shm job, the transport a runner's serve() receives:
 * export const serve = (t: Transport) => console.log(t.kind, t.rank, t.size)   // "shm" 0 4
 * ```
 */
export class ShmTransport implements Transport {
  readonly kind = "shm"
  readonly rank: number
  readonly size: number
  readonly spinMicros: number
  readonly sleepMicros: number
  readonly yieldingSpinMicros: number
  readonly alloc: Arena
  readonly segments: ShmSegments
  readonly geometry: Geometry

  private handler: ((arrival: Arrival) => void) | undefined
  private failureHandler: ((failure: PeerFailure) => void) | undefined
  private readonly outboxes: Array<Outbox | undefined>
  private readonly inboxes: Array<Inbox | undefined>
  private readonly selfQueue: Array<ShmArrival> = []
  private selfHead = 0
  private readonly bell: OwnBell
  private readonly doorbells: Doorbells
  private readonly budget: Budget
  private readonly receive: ReceiveContext
  private readonly failed = new Map<number, PeerFailure>()
  private readonly keepAlive: ReturnType<typeof setInterval>
  private pendingOps = 0
  private completions = 0
  private progressRuns = 0
  private polls = 0
  private progressing = false
  private scheduled = false
  private deferred = false
  private forced = false
  private closed = false
  /** Where ranks outnumber cores: who counts as running, and the budget while no more run than cores. */
  private readonly idleCore: { readonly size: number; readonly cores: number; readonly micros: number } | undefined

  constructor(regions: SharedRegions, rank: number) {
    const g = regions.geometry
    if (!Number.isInteger(rank) || rank < 0 || rank >= g.size) throw new RangeError(`rank ${rank} is not in a job of ${g.size}`)
    this.geometry = g
    this.rank = rank
    this.size = g.size
    this.spinMicros = g.spinMicros
    this.sleepMicros = g.sleepMicros
    this.yieldingSpinMicros = g.yieldingSpinMicros
    this.alloc = new Arena(regions)
    this.doorbells = new Doorbells(regions.control)
    this.segments = new ShmSegments(this.alloc, this.doorbells)
    this.budget = new Budget(g.unexpectedBudget, () => this.force())
    const views: RingViews = ringViews(regions.rings)
    this.receive = {
      views,
      arena: this.alloc,
      budget: this.budget,
      slab: new Slab(),
      bounce: new Recycler(),
      pending: this.pending,
      completed: this.completed,
      deliver: (arrival) => this.deliver(arrival),
      notify: (r) => this.doorbells.ring(r),
      defect: (error) => this.defect(error)
    }
    this.outboxes = new Array(g.size)
    this.inboxes = new Array(g.size)
    for (let peer = 0; peer < g.size; peer++) {
      if (peer === rank) continue
      const out = pairLayout(g, rank, peer)
      const inn = pairLayout(g, peer, rank)
      this.outboxes[peer] = new Outbox(peer, new DataWriter(views, out, g.ringBytes), new ReplyReader(views, out), {
        views,
        arena: this.alloc,
        eagerLimit: g.eagerLimit,
        maxRecord: g.ringBytes / 4,
        notify: () => this.doorbells.ring(peer),
        pending: this.pending,
        completed: this.completed
      })
      this.inboxes[peer] = new Inbox(peer, new DataReader(views, inn, g.ringBytes), new ReplyWriter(views, inn), this.receive)
    }
    this.keepAlive = setInterval(() => {}, 2 ** 30)
    this.keepAlive.unref()
    this.bell = new OwnBell(regions.control, rank, this.onNews)
    this.bell.arm()
    this.idleCore = g.idleCoreSpinMicros > 0 ? { size: g.size, cores: g.cores, micros: g.idleCoreSpinMicros } : undefined
  }

  // ---- Transport -------------------------------------------------------------

  send(dest: number, packet: Packet, done: SendDone): void {
    if (this.closed) return done(closedError())
    this.bell.unpark()
    if (!Number.isInteger(dest) || dest < 0 || dest >= this.size) {
      return done(new TransportError({ transport: "shm", message: `cannot send to rank ${dest}: the job has ranks 0..${this.size - 1}` }))
    }
    if (packet.envelope.byteLength > MAX_ENVELOPE) {
      return done(new TransportError({ transport: "shm", message: `the envelope has ${packet.envelope.byteLength} bytes; at most ${MAX_ENVELOPE} are allowed` }))
    }
    const failure = this.failed.get(dest)
    if (failure !== undefined) return done(failure)
    if (dest === this.rank) return this.sendSelf(packet, done)
    this.outboxes[dest]!.send(packet, done)
  }

  onArrival(handler: (arrival: Arrival) => void): void {
    this.handler = handler
    this.force()
  }

  onPeerFailure(handler: (failure: PeerFailure) => void): void {
    this.failureHandler = handler
    const known = [...this.failed.values()]
    if (known.length > 0) queueMicrotask(() => { for (const f of known) if (this.failureHandler === handler) handler(f) })
  }

  poll(): boolean {
    this.polls++
    if (this.closed) return false
    this.bell.unpark()
    this.bell.spin()
    if (!this.forced && this.selfHead === this.selfQueue.length && !this.bell.rang()) return false
    // Something moved (a record, a fragment, a reply): a spinning caller keeps spinning while data flows.
    this.progress()
    return true
  }

  /**
   * The spin budget of a wait that begins now: `spinMicros`; where ranks
   * outnumber cores, `idleCoreSpinMicros` while no more ranks run than cores
   * (0 otherwise).
   */
  readonly spinBudget = (): number => {
    this.bell.unpark()
    const ic = this.idleCore
    return ic === undefined ? this.spinMicros : this.doorbells.running(ic.size, ic.cores) <= ic.cores ? ic.micros : 0
  }

  /** A wait gave up waiting in place and suspends: the rank parks (its "running" word cleared) until it polls, sends or begins a wait. */
  readonly park = (): void => this.bell.park()

  /**
   * Between polls that found nothing: yields the core once the spin found
   * nothing for `YIELD_AFTER_MICROS`, and from the first poll where more
   * ranks run than cores.
   */
  pause(spun: number): void {
    const ic = this.idleCore
    if (spun >= YIELD_AFTER_MICROS || (this.yieldingSpinMicros > 0 && (ic === undefined || this.doorbells.running(ic.size, ic.cores) > ic.cores))) yieldThread()
  }

  sleep(micros: number, idle: () => boolean): void {
    if (!this.closed) this.bell.sleep(micros, idle)
  }

  close(): void {
    if (this.closed) return
    const error = closedError()
    for (const o of this.outboxes) o?.fail(error)
    for (const i of this.inboxes) i?.fail(error)
    for (const a of this.selfQueue.splice(this.selfHead)) a.discard()
    this.closed = true
    this.bell.stop()
    clearInterval(this.keepAlive)
    this.handler = undefined
    this.failureHandler = undefined
  }

  // ---- beyond the contract -----------------------------------------------------

  /** Marks `rank` failed: pending and later operations with it fail, its ring is no longer read. */
  peerFailed(rank: number, reason: string): void {
    if (this.closed || rank === this.rank || this.failed.has(rank) || !(rank >= 0 && rank < this.size)) return
    const failure = new PeerFailure({ rank, reason })
    this.failed.set(rank, failure)
    this.outboxes[rank]!.fail(failure)
    this.inboxes[rank]!.fail(
      new TransportError({ transport: "shm", message: `rank ${rank} failed before its message was transferred: ${reason}`, cause: failure })
    )
    this.failureHandler?.(failure)
  }

  /**
   * Counters for diagnostics: notifications sent, wake-ups of this rank's
   * armed wait, sleeps in `sleep` (and those that ran to their end unwoken),
   * runs of the progress engine, calls of `poll`.
   */
  get stats(): {
    readonly notifies: number
    readonly wakes: number
    readonly sleeps: number
    readonly sleepTimeouts: number
    readonly progressRuns: number
    readonly polls: number
  } {
    const { wakes, sleeps, sleepTimeouts } = this.bell
    return { notifies: this.doorbells.notifies, wakes, sleeps, sleepTimeouts, progressRuns: this.progressRuns, polls: this.polls }
  }

  activity(): number {
    return this.progressRuns + this.completions
  }

  /** Operations that keep the thread alive now (for tests and diagnostics). */
  get pendingOperations(): number {
    return this.pendingOps
  }

  // ---- progress ------------------------------------------------------------------

  private readonly onNews = (): void => {
    this.progress()
    this.bell.arm()
  }

  private progress(): void {
    if (this.closed || this.progressing) return
    this.progressing = true
    this.progressRuns++
    try {
      this.forced = false
      this.bell.acknowledge()
      if (this.handler !== undefined) {
        this.deliverSelf()
        let more = false
        const limit = this.geometry.ringBytes
        for (let i = 0; i < this.inboxes.length; i++) {
          const inbox = this.inboxes[i]
          if (inbox !== undefined && !inbox.drain(limit)) more = true
        }
        if (more) this.later()
      }
      for (let i = 0; i < this.outboxes.length; i++) {
        const o = this.outboxes[i]
        if (o !== undefined && o.busy) o.progress()
      }
    } finally {
      this.progressing = false
    }
    this.segments.notify()
  }

  /** Runs `progress` after the event loop's other work (a ring had more than a ring's worth waiting). */
  private later(): void {
    this.forced = true // so that a spinning `poll` carries on draining too
    if (this.deferred || this.closed) return
    this.deferred = true
    setImmediate(() => {
      this.deferred = false
      this.progress()
    })
  }

  /** Runs `progress` soon, whatever the doorbell says. */
  private force(): void {
    this.forced = true
    if (this.scheduled || this.closed) return
    this.scheduled = true
    queueMicrotask(() => {
      this.scheduled = false
      if (this.forced) this.progress()
    })
  }

  private deliverSelf(): void {
    const q = this.selfQueue
    while (this.selfHead < q.length && this.handler !== undefined) {
      const a = q[this.selfHead]!
      q[this.selfHead++] = undefined as never
      this.deliver(a)
    }
    if (this.selfHead === q.length) {
      q.length = 0
      this.selfHead = 0
    }
  }

  private deliver(arrival: ShmArrival): void {
    this.completions++
    const handler = this.handler
    if (handler === undefined) return arrival.discard()
    try {
      handler(arrival)
    } catch (e) {
      this.defect(e instanceof Error ? e : new Error(String(e)))
    }
  }

  private sendSelf(packet: Packet, done: SendDone): void {
    const arrival = selfArrival(this.rank, this.receive, packet.envelope, packet.frames, this.geometry.eagerLimit, done)
    this.selfQueue.push(arrival)
    // After queueing: `done` may send again, and that message must come after this one.
    if (arrival.holdsSender) this.pending(1)
    else {
      this.completed()
      done()
    }
    this.force()
  }

  private readonly pending = (delta: number): void => {
    const before = this.pendingOps
    this.pendingOps += delta
    if (before === 0 && this.pendingOps > 0) this.keepAlive.ref()
    else if (before > 0 && this.pendingOps === 0) this.keepAlive.unref()
  }

  private readonly completed = (): void => {
    this.completions++
  }

  /** A broken invariant: rethrown outside the progress loop so that it crashes the rank visibly. */
  private defect(error: Error): void {
    queueMicrotask(() => {
      throw error
    })
  }
}

const closedError = (): TransportError => new TransportError({ transport: "shm", message: "the shm transport is closed" })
