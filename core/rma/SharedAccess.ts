/**
 * The direct path of a window whose memory every rank can address (the shm
 * transport): operations are done by the origin itself on the target's
 * memory, and synchronisation lives in a control segment, so that passive
 * target needs nothing from the target's program or progress fiber (Open
 * MPI's `osc/sm` approach).
 *
 * The control segment has, per target rank t, a 64-byte line:
 *
 *   word 0: the lock: 0 free, n > 0 held shared by n origins, −(1 + r) held exclusive by rank r
 *   word 1: the accumulate mutex: 0 free, 1 + r held by rank r (only inside one synchronous step)
 *   word 2: how many origins wait for the lock (a release signals the ranks only when some do)
 *
 * and after the lines, p·p words: holder[t·p + r] is 1 while rank r holds t's
 * lock shared, 2 exclusive. A rank that fails or finishes while holding a
 * lock has its hold released by the next rank that waits for the lock (what
 * it wrote stays), as the message path's target does.
 *
 * Accumulates, getAccumulate, fetchAndOp and compareAndSwap run under the
 * target's mutex, which makes them element-wise atomic with respect to each
 * other. The mutex is held only for one synchronous step, never across a
 * wait, so a contender spins a few iterations at most (ranks on one thread
 * never see it held). A lock waiter sleeps until a release signals it (the
 * transport's doorbell), looking again every tick, which also keeps the
 * thread alive while it waits. Operations on a rank known to have failed
 * fail with its `RankFailed` as their cause.
 *
 * Internal to core/rma.
 */
import { Effect } from "effect"
import type { SharedSegment, SharedSegments } from "../../transports/Transport.ts"
import type { Comm } from "../comm/Comm.ts"
import type { CommState } from "../comm/CommState.ts"
import type { Waiter } from "../messaging/Engine.ts"
import type { Wait } from "../messaging/waits.ts"
import { rankFailed } from "../messaging/PointToPoint.ts"
import type { RankFailed } from "../errors.ts"

const LINE_WORDS = 16
const LOCK = 0
const MUTEX = 1
const WAITERS = 2
/** How often a lock waiter looks again without a signal (and checks the holder is alive). */
const TICK_MS = 20

/** Why a lock wait or an atomic step cannot go on: in words, with the `RankFailed` behind it where a rank failed. */
export interface Refusal {
  readonly message: string
  readonly cause?: RankFailed
}

/** The direct path of one window (see the module comment). */
export class SharedAccess {
  private readonly words: Int32Array
  /** World ranks that failed or finished, and why. */
  private readonly gone = new Map<number, Refusal>()
  private readonly lockWaits = new Set<{ readonly target: number; readonly since: number; readonly retry: () => void }>()
  private readonly waiter: Waiter
  private closed = false

  private readonly state: CommState
  private readonly segment: SharedSegment
  private readonly segments: SharedSegments
  /** Each rank's window memory, as bytes, by rank. */
  readonly memories: ReadonlyArray<Uint8Array>

  constructor(state: CommState, segment: SharedSegment, segments: SharedSegments, memories: ReadonlyArray<Uint8Array>) {
    this.state = state
    this.segment = segment
    this.segments = segments
    this.memories = memories
    const bytes = segment.bytes
    this.words = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 2)
    const self = this
    this.waiter = {
      peerFailed(rank, reason) {
        const cause = rankFailed(state, rank, reason)
        self.gone.set(rank, { message: cause.message, cause })
        self.retryAll()
      },
      peerFinished(rank) {
        if (!self.gone.has(rank)) self.gone.set(rank, { message: `rank ${self.commRank(rank)} finished` })
        self.retryAll()
      },
      waits: () => [...self.lockWaits].map((w): Wait => ({
        op: "window lock", comm: state.engine.comms.get(state.context)?.name ?? "a window", rank: state.rank,
        peer: w.target, worldPeer: state.group[w.target]!, tag: -1, since: w.since
      })),
      end: () => self.retryAll()
    }
    state.engine.waiters.add(this.waiter)
  }

  private commRank(worldRank: number): number {
    return this.state.group.indexOf(worldRank)
  }

  /** Why rank `t` (of the window's communicator) can no longer take part, if it cannot. */
  goneReason(t: number): Refusal | undefined {
    return this.gone.get(this.state.group[t]!)
  }

  private retryAll(): void {
    for (const w of this.lockWaits) w.retry()
  }

  private holder(t: number, r: number): number {
    return this.state.size * LINE_WORDS + t * this.state.size + r
  }

  private tryLock(t: number, shared: boolean): boolean {
    const at = t * LINE_WORDS + LOCK
    const me = this.state.rank
    if (shared) {
      for (;;) {
        const v = Atomics.load(this.words, at)
        if (v < 0) return false
        if (Atomics.compareExchange(this.words, at, v, v + 1) === v) break
      }
    } else if (Atomics.compareExchange(this.words, at, 0, -(1 + me)) !== 0) return false
    Atomics.store(this.words, this.holder(t, me), shared ? 1 : 2)
    return true
  }

  /**
   * Releases the holds on `t`'s lock of ranks that are gone (failed or
   * finished): what they wrote stays. Returns whether any was released.
   */
  private releaseGone(t: number): boolean {
    let released = false
    for (let r = 0; r < this.state.size; r++) {
      if (!this.gone.has(this.state.group[r]!)) continue
      const kind = Atomics.exchange(this.words, this.holder(t, r), 0)
      if (kind === 2) Atomics.compareExchange(this.words, t * LINE_WORDS + LOCK, -(1 + r), 0)
      else if (kind === 1) Atomics.sub(this.words, t * LINE_WORDS + LOCK, 1)
      released ||= kind !== 0
    }
    return released
  }

  /** Takes `t`'s lock (shared or exclusive), waiting while a conflicting one is held. */
  lock(t: number, shared: boolean): Effect.Effect<void, Refusal> {
    if (this.tryLock(t, shared)) return Effect.void
    return Effect.callback<void, Refusal>((resume) => {
      const waitersAt = t * LINE_WORDS + WAITERS
      Atomics.add(this.words, waitersAt, 1)
      let done = false
      /** Stops waiting (once: a grant, a refusal or an interruption). */
      const stop = () => {
        if (done) return false
        done = true
        Atomics.sub(this.words, waitersAt, 1)
        this.lockWaits.delete(entry)
        stopWatching()
        clearInterval(timer)
        return true
      }
      const retry = () => {
        if (done) return
        if (this.tryLock(t, shared) || (this.releaseGone(t) && this.tryLock(t, shared))) {
          if (stop()) resume(Effect.void)
        } else if (this.closed && stop()) resume(Effect.fail({ message: "the window was freed" }))
      }
      const entry = { target: t, since: Date.now(), retry }
      this.lockWaits.add(entry)
      const stopWatching = this.segments.watch(retry)
      // The tick also keeps the thread alive while it waits (a pending waitAsync does not).
      const timer = setInterval(retry, TICK_MS)
      retry()
      return Effect.sync(() => void stop())
    })
  }

  /** Lets go of `t`'s lock and wakes the origins that wait for it. */
  unlock(t: number): void {
    const at = t * LINE_WORDS + LOCK
    const me = this.state.rank
    const kind = Atomics.exchange(this.words, this.holder(t, me), 0)
    if (kind === 0) return // not held (the window checks before it calls)
    if (kind === 2) Atomics.store(this.words, at, 0)
    else Atomics.sub(this.words, at, 1)
    if (Atomics.load(this.words, t * LINE_WORDS + WAITERS) > 0) {
      for (const worldRank of this.state.group) if (worldRank !== this.state.engine.rank) this.segment.signal(worldRank)
      this.retryAll()
    }
  }

  /**
   * Runs `step` (synchronous) holding `t`'s accumulate mutex: atomic with
   * respect to every other such step on `t`. What it throws is thrown (the
   * mutex is released either way).
   */
  atomically<A>(t: number, step: () => A): { readonly value: A; readonly refused?: undefined } | { readonly refused: Refusal } {
    const at = t * LINE_WORDS + MUTEX
    const mine = 1 + this.state.rank
    let spins = 0
    for (;;) {
      const held = Atomics.compareExchange(this.words, at, 0, mine)
      if (held === 0) break
      // The holder is inside one synchronous step on another thread; it can only be stuck if it died there.
      if (++spins % 4096 === 0) {
        const why = this.gone.get(this.state.group[held - 1]!)
        if (why !== undefined) return { refused: { ...why, message: `${why.message} inside an accumulate on rank ${t}'s window` } }
      }
    }
    try {
      return { value: step() }
    } finally {
      Atomics.store(this.words, at, 0)
    }
  }

  /** Stops tracking failures and lets go of the control segment. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.retryAll()
    this.state.engine.waiters.delete(this.waiter)
    this.segment.detach()
  }
}

/** The control segment's bytes for `size` ranks (a multiple of 64). */
const controlBytes = (size: number) => Math.ceil((size * LINE_WORDS * 4 + size * size * 4) / 64) * 64

/**
 * A window's direct path over every rank's memory (`memories`, by rank), or
 * undefined where the transport has no shared segments (collective over
 * `comm`: every rank gets one, or none does).
 */
export const open = (
  comm: Comm, state: CommState, memories: ReadonlyArray<Uint8Array>
): Effect.Effect<SharedAccess | undefined> =>
  Effect.gen(function*() {
    const segments = state.engine.transport.segments
    const bytes = controlBytes(comm.size)
    const made = comm.rank === 0 && segments !== undefined ? segments.create(bytes, comm.size) : undefined
    const handle = yield* comm.bcast(made?.handle ?? -1, { root: 0 }).pipe(Effect.orDie)
    if (handle < 0 || segments === undefined) return undefined
    const segment = made ?? segments.attach(handle, bytes)
    return new SharedAccess(state, segment, segments, memories)
  })
