/**
 * Doorbells: one word per rank, bumped by every rank that has news for it
 * (a record in one of its rings, a rendezvous reply, freed ring space).
 *
 * `Atomics.wait` watches one address, so one word per receiver serves all its
 * incoming rings (and ANY_SOURCE). Waking a sleeping thread costs 2–20 µs
 * (60–120 µs through the event loop on some VMs), and `Atomics.notify`
 * itself is not free, so a sender
 * notifies only when the receiver's "notify me" word is set: the receiver
 * clears it while it spins on `poll` and sets it again before it stops
 * spinning, then re-reads the doorbell (store-then-load on both sides, all
 * sequentially consistent: one of the two always sees the other, so no
 * wake-up is lost).
 */
import { doorbellIndex, runningIndex, sleepingIndex } from "./Layout.ts"

/** Rings other ranks' doorbells. */
export class Doorbells {
  private readonly ctl: Int32Array
  /** `Atomics.notify` calls made (a sleeping receiver was woken). */
  notifies = 0
  constructor(control: SharedArrayBuffer) {
    this.ctl = new Int32Array(control)
  }

  /** Tells rank `r` that there is news for it. */
  ring(r: number): void {
    const i = doorbellIndex(r)
    Atomics.add(this.ctl, i, 1)
    if (Atomics.load(this.ctl, i + 1) !== 0) {
      this.notifies++
      // Every waiter: the rank's armed `waitAsync` and, while it sleeps in `OwnBell.sleep`, its thread
      // (a count of 1 wakes the one that waited first, the armed wait, and leaves the thread asleep).
      Atomics.notify(this.ctl, i)
    }
  }

  /**
   * Wakes rank `r` only if it may sleep: for news it also finds by itself
   * while it spins (flags in a shared segment). A rank that stops spinning
   * looks for news after announcing that it may sleep (see `OwnBell.spin`),
   * so nothing is lost when its doorbell is not bumped.
   */
  nudge(r: number): void {
    if (Atomics.load(this.ctl, sleepingIndex(r)) !== 0) this.ring(r)
  }

  /** How many of ranks `0..size-1` are running (not parked), counting up to `limit + 1` at most. */
  running(size: number, limit: number): number {
    let n = 0
    for (let r = 0; r < size && n <= limit; r++) if (Atomics.load(this.ctl, runningIndex(r)) !== 0) n++
    return n
  }
}

/**
 * A rank's own doorbell: remembers the last value it acted on and keeps an
 * `Atomics.waitAsync` armed on it, so news is handled without anyone polling.
 * (A pending `waitAsync` does not keep the thread alive: nodejs/node#61941.)
 */
export class OwnBell {
  private readonly ctl: Int32Array
  private readonly index: number
  private seen = 0
  private armed = false
  private spinning = false
  private sleeping = false
  private stopped = false
  private parked = false
  private readonly runningWord: number
  /** Times the armed wait fired (each one a thread wake-up when the rank was idle). */
  wakes = 0
  /** Times the thread slept in `sleep`, and how many of those sleeps ran to their end unwoken. */
  sleeps = 0
  sleepTimeouts = 0

  private readonly onNews: () => void

  constructor(control: SharedArrayBuffer, rank: number, onNews: () => void) {
    this.onNews = onNews
    this.ctl = new Int32Array(control)
    this.index = doorbellIndex(rank)
    this.runningWord = runningIndex(rank)
    Atomics.store(this.ctl, sleepingIndex(rank), 1)
    Atomics.store(this.ctl, this.runningWord, 1)
  }

  /**
   * The rank waits with nothing left to do (a wait gave up spinning and
   * suspends): its "running" word says so until `unpark`, so that others
   * may spin on the core it leaves.
   */
  park(): void {
    if (this.parked || this.stopped) return
    this.parked = true
    Atomics.store(this.ctl, this.runningWord, 0)
  }

  /** The rank runs again: it polls or sends (a wake-up alone does not count: the news may not be for a wait of its own). */
  unpark(): void {
    if (!this.parked || this.stopped) return
    this.parked = false
    Atomics.store(this.ctl, this.runningWord, 1)
  }

  /** Whether the doorbell moved since `acknowledge`. */
  rang(): boolean {
    return Atomics.load(this.ctl, this.index) !== this.seen
  }

  /** Records the current value as handled; call before handling, so later news is seen. */
  acknowledge(): void {
    this.seen = Atomics.load(this.ctl, this.index)
  }

  /**
   * Called while the rank spins on `poll`: senders stop notifying until the
   * event loop gets round to its check phase, i.e. until the rank has handled
   * what it was spinning for and has nothing left to run (a microtask would
   * turn notifications back on between the receive and the next spin, and
   * the peer's reply, coming in that gap, would pay a notify and a wake-up).
   */
  spin(): void {
    if (this.spinning || this.sleeping || this.stopped) return
    this.spinning = true
    Atomics.store(this.ctl, this.index + 1, 0)
    setImmediate(this.endSpin)
  }

  private readonly endSpin = (): void => {
    this.spinning = false
    if (this.stopped) return
    Atomics.store(this.ctl, this.index + 1, 1)
    // Always: news that only nudges (see `Doorbells.nudge`) was not rung while this rank spun.
    this.onNews()
  }

  /**
   * Sleeps in `Atomics.wait` on the doorbell for up to `micros`, or until
   * news rings it: senders are asked to notify first, then `idle()` looks for
   * news once more (what was sent before they were asked), and the thread
   * sleeps only if there is none. A woken thread costs a few microseconds,
   * where a wake-up through the event loop (the armed `waitAsync`) costs
   * several times that. While spinning, senders stop notifying again after.
   */
  sleep(micros: number, idle: () => boolean): void {
    if (this.stopped) return
    this.sleeping = true
    try {
      Atomics.store(this.ctl, this.index + 1, 1)
      if (!this.rang() && idle()) {
        this.sleeps++
        if (Atomics.wait(this.ctl, this.index, this.seen, micros / 1000) === "timed-out") this.sleepTimeouts++
      }
    } finally {
      this.sleeping = false
    }
    if (this.spinning && !this.stopped) Atomics.store(this.ctl, this.index + 1, 0)
  }

  /** Arms the asynchronous wait (no-op when armed already); news calls `onNews`. */
  arm(): void {
    if (this.armed || this.stopped) return
    const r = Atomics.waitAsync(this.ctl, this.index, this.seen)
    if (!r.async) {
      queueMicrotask(this.wake)
      return
    }
    this.armed = true
    r.value.then(this.woken)
  }

  private readonly woken = (): void => {
    this.armed = false
    this.wakes++
    this.wake()
  }

  private readonly wake = (): void => {
    if (!this.stopped) this.onNews()
  }

  /** Stops waiting for good: settles the pending wait so nothing refers to this rank any more. */
  stop(): void {
    if (this.stopped) return
    this.stopped = true
    Atomics.store(this.ctl, this.index + 1, 0)
    Atomics.store(this.ctl, this.runningWord, 0)
    Atomics.add(this.ctl, this.index, 1)
    Atomics.notify(this.ctl, this.index)
  }
}
