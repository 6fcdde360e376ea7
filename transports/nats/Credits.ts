/**
 * Credit-based flow control, per ordered pair of ranks, in bytes of DATA
 * frames. The receiver grants a cumulative limit: "you may have sent up to L
 * bytes in all". It keeps L = consumed + window, where consumed counts the
 * bytes of messages its core has taken or discarded (and of frames that
 * arrive for such messages). So the bytes a receiver holds for messages
 * nobody has taken never exceed its window, and the bytes in flight towards
 * it never exceed the sum of its windows: with the window sized from the
 * server's slow-consumer limit, no rank is cut off, and memory stays bounded.
 *
 * Limits are cumulative, so a lost or repeated grant does no harm: the larger
 * one wins.
 *
 * Each frame counts its bytes plus FRAME_CHARGE (1024): what a held frame costs a
 * receiver beyond its bytes (the arrival, its place in the matching queue).
 * Without it, a stream of 8-byte messages could park a quarter of a million
 * of them on a receiver inside a 32 MiB window, and its garbage collector
 * would spend a third of its time walking them.
 */

/** Bytes each DATA frame counts against the credit beyond its own. */
export const FRAME_CHARGE = 1024

/** What a DATA frame of `frameBytes` bytes (its trailer included) counts against the credit. */
export const chargeOf = (frameBytes: number): number => frameBytes + FRAME_CHARGE

const GRANT_STEP_MAX = 4 * 1024 * 1024

/** The sending side towards one peer. */
export class SendCredit {
  /** Bytes the peer allows in all (0 until it joined and announced its window). */
  limit = 0
  /** Bytes sent in all. */
  sent = 0

  /** Whether `bytes` more may be sent now. */
  allows(bytes: number): boolean {
    return this.sent + bytes <= this.limit
  }

  spend(bytes: number): void {
    this.sent += bytes
  }

  /** Applies a grant; returns whether it raised the limit. */
  grant(limit: number): boolean {
    if (limit <= this.limit) return false
    this.limit = limit
    return true
  }

  /** Bytes that may be sent now. */
  get available(): number {
    return this.limit - this.sent
  }
}

/** The receiving side from one peer. */
export class ReceiveCredit {
  readonly window: number
  /** Bytes consumed in all (taken, discarded, or arrived for a message already taken). */
  consumed = 0
  /** Bytes held for messages not yet taken. */
  held = 0
  /** The limit last announced to the peer. */
  granted: number

  constructor(window: number) {
    this.window = window
    this.granted = window
  }

  /** A frame for a message not yet taken arrived. */
  hold(bytes: number): void {
    this.held += bytes
  }

  /** Held bytes were taken or discarded. */
  release(bytes: number): void {
    this.held -= bytes
    this.consumed += bytes
  }

  /** A frame for a message already taken or discarded arrived: consumed at once. */
  pass(bytes: number): void {
    this.consumed += bytes
  }

  /** The limit to announce now. */
  get limit(): number {
    return this.consumed + this.window
  }

  /**
   * Whether enough was consumed since the last grant that the peer should hear
   * of it now: a quarter of the window, at most 4 MiB (large windows are
   * refilled in steps, not in one late lump).
   */
  get grantDue(): boolean {
    return this.limit - this.granted >= Math.min(this.window / 4, GRANT_STEP_MAX)
  }

  /** Records that `limit` was announced. */
  granting(): number {
    this.granted = this.limit
    return this.granted
  }
}
