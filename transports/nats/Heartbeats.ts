/**
 * Heartbeats: every rank publishes a HEARTBEAT on the job subject every
 * `interval`; a peer that has sent nothing at all (no heartbeat, no frame) for
 * `timeout` is declared failed. A SIGKILLed rank is thus noticed within
 * `timeout` plus one tick of the transport's timer.
 *
 * A rank that could not observe its peers — its own connection was down, or
 * its event loop was blocked — restarts every clock instead of blaming them.
 */

export interface HeartbeatSettings {
  /** How often a rank announces itself (ms). */
  readonly intervalMs: number
  /** How long a silent peer is given before it is declared failed (ms). */
  readonly timeoutMs: number
}

/**
 * One heartbeat a second; ten seconds of silence to be taken for dead. Ten,
 * not four: a rank process starved of CPU on a loaded host (eight ranks on two
 * cores, a garbage collection of a large heap) can go quiet for seconds while
 * alive, and taking it for dead fails the whole job (Ray's node health check
 * allows a similar margin).
 */
export const DEFAULT_HEARTBEAT: HeartbeatSettings = { intervalMs: 1000, timeoutMs: 10_000 }

/** Why `settings` cannot be used, or `undefined`. */
export const checkSettings = (s: HeartbeatSettings): string | undefined => {
  if (!(s.intervalMs > 0) || !(s.timeoutMs > 0)) return `heartbeat interval and timeout must be positive (got ${s.intervalMs} ms and ${s.timeoutMs} ms)`
  if (s.timeoutMs < 2 * s.intervalMs) return `the heartbeat timeout (${s.timeoutMs} ms) must be at least twice the interval (${s.intervalMs} ms), or one late heartbeat kills a rank`
  return undefined
}

/** When each peer was last heard from. */
export class Liveness {
  private readonly lastSeen: Float64Array
  readonly timeoutMs: number

  constructor(size: number, timeoutMs: number, now: number) {
    this.lastSeen = new Float64Array(size).fill(now)
    this.timeoutMs = timeoutMs
  }

  /** Something arrived from `rank`. */
  saw(rank: number, now: number): void {
    this.lastSeen[rank] = now
  }

  /** This rank could not hear anyone until `now`: give every peer a fresh timeout. */
  restart(now: number): void {
    this.lastSeen.fill(now)
  }

  /** How long `rank` has been silent. */
  silentFor(rank: number, now: number): number {
    return now - this.lastSeen[rank]!
  }

  /** The watched ranks silent for longer than the timeout. */
  expired(now: number, watched: (rank: number) => boolean): Array<number> {
    const out: Array<number> = []
    for (let r = 0; r < this.lastSeen.length; r++) {
      if (watched(r) && now - this.lastSeen[r]! > this.timeoutMs) out.push(r)
    }
    return out
  }
}

/** Paces a periodic action on a timer that ticks faster than its interval. */
export class Pacer {
  private last = -Infinity
  readonly intervalMs: number

  constructor(intervalMs: number) {
    this.intervalMs = intervalMs
  }

  /** Whether the action is due at `now`; if so, counts it as done. */
  due(now: number): boolean {
    if (now - this.last < this.intervalMs) return false
    this.last = now
    return true
  }

  /** Makes the action due at the next check. */
  hurry(): void {
    this.last = -Infinity
  }
}
