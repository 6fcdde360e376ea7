/**
 * A communicator's board: the shared segment through which its collectives
 * meet on a transport with shared memory (Open MPI's `coll/sm` approach),
 * instead of exchanging point-to-point messages through the matching engine.
 *
 * Layout, for p ranks and slots of S bytes:
 *
 *   p flag lines (64 bytes each): rank r's `arrive`, `leave` and `watching` words
 *   2·p slots of S bytes: rank r's slot for even and for odd phases
 *
 * Every collective is a sequence of phases, numbered alike on every rank
 * (each rank runs the same phases in the same order). In phase v a rank may
 * write the slots of parity v % 2 (its own, or at the root another's), then
 * stores v in its `arrive` word; a reader waits until the writers' `arrive`
 * words reach v, reads, and stores v in its `leave` word once it no longer
 * needs the data of phase v. Before writing in phase v a rank waits until
 * every rank left phase v − 2, the last phase that used the same slots
 * ("the guard"); it rarely waits. Flag comparisons are modulo 2^32, so the
 * counters may wrap.
 *
 * The board runs one collective at a time per communicator and rank, in
 * call order (non-blocking ones queue): each is a generator that yields
 * whenever it must wait. The board advances it when the call is made, while
 * the caller spins on the transport, and whenever the transport handles a
 * signal (a flag store rings the doorbell of a member that waits on it and
 * may be asleep). A rank that fails or finishes while another waits on
 * its flag fails the wait (`RankFailed`, `Deadlock`), as a receive would.
 * A flag store signals only the members that announced they wait on this
 * rank (their `watching` word; see `block`), so that with more ranks than
 * cores a rank is woken for its own wait, not for every arrival.
 *
 * Interrupting a caller does not cancel its part: the other ranks need its
 * contributions, so the collective runs on in the background and the
 * communicator stays usable for the next collective; nothing is written to
 * the caller's arrays after the interruption.
 */
import { type Effect, Exit } from "effect"
import type { TypedArray, TypedArrayConstructor } from "../../../codecs/Datatype.ts"
import type { SharedSegment } from "../../../transports/Transport.ts"
import type { CommState } from "../../comm/CommState.ts"
import { completion, type Settle, type Spin } from "../../messaging/completion.ts"
import type { Waiter } from "../../messaging/Engine.ts"
import { Deadlock, RankFailed } from "../../errors.ts"
import { ANY_TAG } from "../../messaging/Matching.ts"
import { rankFailed } from "../../messaging/PointToPoint.ts"
import * as Waits from "../../messaging/waits.ts"
import { isTypedError } from "../checks.ts"
import type { CollectiveFailure } from "../errors.ts"

/** Bytes of a flag line; a rank's words sit on a line of their own. */
const LINE = 64
const LINE_WORDS = LINE / 4
/** A rank's words in its line: `arrive` (0), `leave` (1), and `watching` (2): 1 + the comm rank it waits on, or 0. */
const WATCHING = 2
/** How long a rank spins on a board before it sleeps, where ranks spin (not more of them than cores). */
const COLLECTIVE_SPIN_MICROS = 300
/** Bytes at the head of every slot for a descriptor of what follows. */
export const DESCRIPTOR = 16
/** Slots of all ranks together take about this much (per parity pair), within the bounds below. */
const SLOTS_BUDGET = 4 * 1024 * 1024
const MIN_SLOT = 16 * 1024
const MAX_SLOT = 1024 * 1024

/** The slot size for `p` ranks. */
export const slotBytesFor = (p: number): number =>
  Math.min(MAX_SLOT, Math.max(MIN_SLOT, Math.floor(SLOTS_BUDGET / (2 * p) / 4096) * 4096))

/** Bytes of the segment of a board for `p` ranks with slots of `slot` bytes. */
export const segmentBytes = (p: number, slot: number): number => p * LINE + 2 * p * slot

/** What a collective's steps may consult about their caller. */
export interface Caller {
  /** Set once the caller was interrupted: write nothing more to its arrays. */
  readonly abandoned: boolean
}

/** A collective's steps: yields while it waits, returns its result. */
export type Steps<A> = Generator<void, A, void>

interface Pending {
  readonly name: string
  steps: Steps<unknown> | undefined
  abandoned: boolean
  since: number
  exit: Exit.Exit<unknown, CollectiveFailure> | undefined
  settle: Settle<unknown, CollectiveFailure> | undefined
}

const isFatal = (e: unknown): e is RankFailed | Deadlock => e instanceof RankFailed || e instanceof Deadlock

const NOTHING: IteratorReturnResult<void> = Object.freeze({ value: undefined, done: true as const })

/**
 * What a wait gives back when its flags already say go: a finished iterator
 * that `yield*` runs through at once. A wait made as a generator is an
 * object of ~160 bytes per call even when it never waits, and a collective
 * waits two or three times (the guard, the others' arrival); the guard
 * nearly never has to, and the last rank to arrive does not either.
 */
const NO_WAIT: Steps<void> = {
  next: () => NOTHING,
  return: () => NOTHING,
  throw: (e: unknown) => {
    throw e
  },
  [Symbol.iterator]() {
    return this
  },
  [Symbol.dispose]() {}
}

/** The caller waits for its collective: settled now if it is done, else when it is; interrupting the caller abandons it. */
function awaitPending<A>(pending: Pending, settle: Settle<A, CollectiveFailure>): (() => void) | void {
  if (pending.exit !== undefined) return settle(pending.exit as Exit.Exit<A, CollectiveFailure>)
  pending.settle = settle as Settle<unknown, CollectiveFailure>
  return abandon.bind(undefined, pending)
}

function abandon(pending: Pending): void {
  pending.abandoned = true
  pending.settle = undefined
}

export class Board implements Waiter {
  readonly p: number
  readonly rank: number
  /** Bytes of one slot. */
  readonly slot: number
  /** The segment's memory, and a view of it for descriptors. */
  readonly bytes: Uint8Array
  readonly view: DataView
  private readonly segment: SharedSegment
  private readonly c: CommState
  private readonly dataStart: number
  private readonly runBase: number
  private readonly unwatch: () => void
  private readonly spin: Spin
  /** The last phase number handed out. */
  private phase = 0
  private readonly queue: Array<Pending> = []
  /** Views handed out by `viewAt`, by byte offset. */
  private readonly views = new Map<number, TypedArray>()
  private head = 0
  private advancing = false
  /** Flag stores so far: a spinning caller keeps spinning while they move. */
  private moves = 0
  /**
   * The flag word the head collective waits on and its value then, or -1:
   * `advance` resumes the collective only once the word moved (or a member
   * failed or finished), so that a spinning caller's polls cost a load each
   * and no generator results.
   */
  private parkedWord = -1
  private parkedValue = 0
  private missingSeen = 0
  /** The comm rank whose signals this rank wants (mirrored in its `watching` word), or -1: the one the head collective waits on. */
  private watching = -1
  private readonly failed = new Map<number, string>()
  private readonly finished = new Set<number>()
  private broken: RankFailed | Deadlock | undefined
  private closing = false
  private closed = false

  constructor(c: CommState, segment: SharedSegment, slot: number) {
    this.c = c
    this.p = c.size
    this.rank = c.rank
    this.slot = slot
    this.segment = segment
    this.bytes = segment.bytes
    this.view = new DataView(segment.bytes.buffer, segment.bytes.byteOffset, segment.bytes.byteLength)
    this.dataStart = this.p * LINE
    this.runBase = c.engine.runBase
    const transport = c.engine.transport
    this.spin = {
      // Where ranks spin at all, longer than for a message: every rank of a
      // collective waits on the others at once, and a wake-up (20–120 µs)
      // costs far more than spinning through a peer's garbage collection.
      // Where ranks outnumber cores, every rank of a collective waits for the others to get a core:
      // it spins yielding its own (the transport's `yieldingSpinMicros`), as Open MPI's ranks do.
      spinMicros: (transport.yieldingSpinMicros ?? 0) > 0 ? transport.yieldingSpinMicros! : transport.spinMicros > 0 ? Math.max(transport.spinMicros, COLLECTIVE_SPIN_MICROS) : 0,
      // The flags first (a load each); the transport's news only when they did not move.
      poll: () => this.advance() || transport.poll(),
      sleepMicros: transport.sleepMicros ?? 0,
      ...(transport.pause !== undefined ? { pause: (spun: number) => transport.pause!(spun) } : {}),
      ...(transport.park !== undefined ? { park: transport.park } : {}),
      ...(transport.sleep !== undefined ? { sleep: (micros: number, idle: () => boolean) => transport.sleep!(micros, idle) } : {})
    }
    this.unwatch = transport.segments!.watch(() => {
      this.advance()
    })
    c.engine.waiters.add(this)
  }

  // ---- phases and flags --------------------------------------------------------

  /** The next phase's number. */
  next(): number {
    this.phase = (this.phase + 1) | 0
    return this.phase
  }

  /**
   * A typed view of `n` elements at byte `at` of the board, kept and handed
   * out again while calls ask for the same constructor and length there (a
   * reduction of a few elements made one per rank and call).
   */
  viewAt(ctor: TypedArrayConstructor, at: number, n: number): TypedArray {
    const kept = this.views.get(at)
    if (kept !== undefined && kept.constructor === ctor && kept.length === n) return kept
    const view = new ctor(this.bytes.buffer, this.bytes.byteOffset + at, n)
    this.views.set(at, view)
    return view
  }

  /** Byte offset in `bytes` of rank `r`'s slot for phase `v`. */
  slotOf(r: number, v: number): number {
    return this.dataStart + (2 * r + (v & 1)) * this.slot
  }

  /**
   * This rank wrote what it writes in phase `v`. Every flag store signals
   * the members waiting on this rank, in this collective or (the guard) in
   * the next.
   */
  arrive(v: number): void {
    this.segment.store(this.rank * LINE_WORDS, v)
    this.signal()
  }

  /** This rank no longer needs the data of phase `v` (nor of earlier ones). */
  leave(v: number): void {
    this.segment.store(this.rank * LINE_WORDS + 1, v)
    this.signal()
  }

  /** Leaves phase `left` and arrives at phase `v` with one signal. */
  step(v: number, left: number): void {
    this.segment.store(this.rank * LINE_WORDS + 1, left)
    this.segment.store(this.rank * LINE_WORDS, v)
    this.signal()
  }

  /** `arrive(v)` and `leave(v)` at once: for a phase whose data this rank no longer needs (or never reads). */
  pass(v: number): void {
    this.step(v, v)
  }

  /** Waits until rank `q` arrived at phase `v` (nothing to wait for where it has: `NO_WAIT`). */
  arrived(q: number, v: number): Steps<void> {
    return ((this.segment.load(q * LINE_WORDS) - v) | 0) < 0 ? this.arriving(q, v) : NO_WAIT
  }

  private *arriving(q: number, v: number): Steps<void> {
    const word = q * LINE_WORDS
    let seen: number
    while ((((seen = this.segment.load(word)) - v) | 0) < 0) if (this.blocks(q, word, seen)) yield
  }

  /** The first rank that has not arrived at phase `v`, or -1; `missingSeen` is its arrive word as read. */
  private missing(v: number): number {
    for (let q = 0; q < this.p; q++) {
      if (q === this.rank) continue
      const seen = this.segment.load(q * LINE_WORDS)
      if (((seen - v) | 0) < 0) {
        this.missingSeen = seen
        return q
      }
    }
    return -1
  }

  /** Waits until every rank arrived at phase `v` (`NO_WAIT` where all have). */
  arrivedAll(v: number): Steps<void> {
    return this.missing(v) < 0 ? NO_WAIT : this.arrivingAll(v)
  }

  private *arrivingAll(v: number): Steps<void> {
    let q: number
    while ((q = this.missing(v)) >= 0) if (this.blocks(q, q * LINE_WORDS, this.missingSeen)) yield
  }

  /** The guard before writing in phase `v`: every rank left phase `v - 2` (`NO_WAIT` where all have, as they mostly have). */
  guard(v: number): Steps<void> {
    const old = (v - 2) | 0
    for (let q = 0; q < this.p; q++) {
      if (q !== this.rank && ((this.segment.load(q * LINE_WORDS + 1) - old) | 0) < 0) return this.guarding(v)
    }
    return NO_WAIT
  }

  private *guarding(v: number): Steps<void> {
    const old = (v - 2) | 0
    for (let q = 0; q < this.p; q++) {
      if (q === this.rank) continue
      const word = q * LINE_WORDS + 1
      let seen: number
      while ((((seen = this.segment.load(word)) - old) | 0) < 0) if (this.blocks(q, word, seen)) yield
    }
  }

  /** Tells the members that wait on this rank (their `watching` word) that its flags moved. */
  private signal(): void {
    this.moves++
    const me = this.rank + 1
    for (let q = 0; q < this.p; q++) {
      if (q !== this.rank && this.segment.load(q * LINE_WORDS + WATCHING) === me) this.segment.signal(this.c.group[q]!)
    }
  }

  /**
   * Whether the caller, waiting on comm rank `q` (its flag `word`, read as
   * `seen`), should yield once; throws
   * where `q` will never come. (A plain function, not a generator: the wait
   * loops call it on every poll of a spin, and a generator object each time
   * was most of a collective's garbage.) Before the first wait on `q` it
   * stores `q` in its `watching` word and returns false, so that the caller
   * looks at `q`'s flag once more: `q` stores its flag before it reads
   * `watching`, and this rank stores `watching` before it reads the flag
   * (all sequentially consistent), so one of the two sees the other and no
   * signal is lost.
   */
  private blocks(q: number, word: number, seen: number): boolean {
    const world = this.c.group[q]!
    const reason = this.failed.get(world)
    if (reason !== undefined) throw rankFailed(this.c, world, reason)
    if (this.finished.has(world)) throw Waits.finished(this.waitOn(q, this.queue[this.head]!))
    if (this.watching !== q) {
      this.watching = q
      this.segment.store(this.rank * LINE_WORDS + WATCHING, q + 1)
      return false
    }
    const op = this.queue[this.head]!
    if (op.since === 0) op.since = Date.now()
    // The value the caller's check read, not a fresh one: a flag that moved since must resume it.
    this.parkedWord = word
    this.parkedValue = seen
    return true
  }

  // ---- running collectives ---------------------------------------------------------

  /**
   * A new collective's record, which its steps consult (`abandoned`): make
   * the steps with it, then hand both to `start`.
   */
  call(name: string): Caller {
    const pending: Pending = { name, steps: undefined, abandoned: false, since: 0, exit: undefined, settle: undefined }
    return pending
  }

  /**
   * Queues a collective (at the call, so that calls keep their order) and
   * returns the Effect that waits for it. `caller` comes from `call`.
   */
  start<A>(caller: Caller, steps: Steps<A>): Effect.Effect<A, CollectiveFailure> {
    const pending = caller as Pending
    pending.steps = steps
    if (this.broken !== undefined) pending.exit = Exit.fail(this.broken)
    else if (this.closed) pending.exit = Exit.die(new Error("rankflow: a collective was started on a communicator whose board was closed"))
    else {
      this.queue.push(pending)
      this.advance()
    }
    // Done at the call (the other ranks were there first): no waiting at all.
    if (pending.exit !== undefined) return pending.exit as Exit.Exit<A, CollectiveFailure>
    return completion<A, CollectiveFailure>((awaitPending<A>).bind(undefined, pending), this.spin)
  }

  /** `start` with the steps `make` builds for the call. */
  run<A>(name: string, make: (caller: Caller) => Steps<A>): Effect.Effect<A, CollectiveFailure> {
    const caller = this.call(name)
    return this.start(caller, make(caller))
  }

  /** Runs the queued collectives as far as they go; whether anything moved. */
  advance(): boolean {
    if (this.advancing || this.closed) return false
    this.advancing = true
    const before = this.moves
    let finished = false
    try {
      while (this.head < this.queue.length) {
        if (this.parkedWord >= 0) {
          if (this.segment.load(this.parkedWord) === this.parkedValue) break
          this.parkedWord = -1
        }
        const op = this.queue[this.head]!
        let exit: Exit.Exit<unknown, CollectiveFailure>
        try {
          const r = op.steps!.next()
          if (!r.done) break
          exit = Exit.succeed(r.value)
        } catch (e) {
          if (isFatal(e)) {
            this.broken = e
            exit = Exit.fail(e)
          } else exit = isTypedError(e) ? Exit.fail(e as CollectiveFailure) : Exit.die(e)
        }
        this.queue[this.head++] = undefined as never
        this.complete(op, exit)
        finished = true
        if (this.broken !== undefined) this.failAll(this.broken)
      }
      if (this.head === this.queue.length) {
        this.queue.length = 0
        this.head = 0
        if (this.watching >= 0) {
          this.watching = -1
          this.segment.store(this.rank * LINE_WORDS + WATCHING, 0)
        }
        if (this.closing) this.release()
      }
    } finally {
      this.advancing = false
    }
    return finished || this.moves !== before
  }

  private complete(op: Pending, exit: Exit.Exit<unknown, CollectiveFailure>): void {
    op.exit = exit
    const settle = op.settle
    op.settle = undefined
    settle?.(exit)
  }

  private failAll(error: RankFailed | Deadlock): void {
    while (this.head < this.queue.length) {
      const op = this.queue[this.head]!
      this.queue[this.head++] = undefined as never
      this.complete(op, Exit.fail(error))
    }
  }

  // ---- Waiter ------------------------------------------------------------------------

  peerFailed(rank: number, reason: string): void {
    if (!this.c.group.includes(rank)) return
    this.failed.set(rank, reason)
    this.parkedWord = -1
    this.advance()
  }

  peerFinished(rank: number, base: number): void {
    if (base !== this.runBase || !this.c.group.includes(rank)) return
    this.finished.add(rank)
    this.parkedWord = -1
    this.advance()
  }

  waits(): ReadonlyArray<Waits.Wait> {
    const op = this.queue[this.head]
    // Between calls of `advance` the head collective is blocked, on the rank it watches.
    if (op === undefined || this.watching < 0) return []
    return [this.waitOn(this.watching, op)]
  }

  private waitOn(q: number, op: Pending | undefined): Waits.Wait {
    const info = this.c.engine.comms.get(this.c.context)
    return {
      op: op?.name ?? "a collective",
      comm: info?.name ?? `context ${this.c.context}`,
      rank: this.rank,
      peer: q,
      worldPeer: this.c.group[q]!,
      tag: ANY_TAG,
      since: op?.since ?? Date.now()
    }
  }

  // ---- the end ------------------------------------------------------------------------

  /**
   * Lets the segment go once the queued collectives are done (`free`): the
   * last member to let go frees it.
   */
  close(): void {
    if (this.closing || this.closed) return
    this.closing = true
    if (this.head === this.queue.length) this.release()
  }

  /** The run ended: collectives still queued fail, and the segment is let go now. */
  end(): void {
    if (this.closed) return
    while (this.head < this.queue.length) {
      const op = this.queue[this.head]!
      this.queue[this.head++] = undefined as never
      this.complete(op, Exit.interrupt())
    }
    this.release()
  }

  private release(): void {
    if (this.closed) return
    this.closed = true
    this.unwatch()
    this.c.engine.waiters.delete(this)
    this.segment.detach()
  }
}

