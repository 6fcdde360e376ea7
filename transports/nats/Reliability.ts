/**
 * Reliability over at-most-once core NATS, per ordered pair of ranks:
 * sequence numbers, cumulative acknowledgements, retransmission of what was
 * not acknowledged (go-back-N), duplicate drop, order kept.
 *
 * Sequence numbers are u32 and start at 1; they compare with serial-number
 * arithmetic (RFC 1982), so they may wrap as long as fewer than 2^31 frames
 * are unacknowledged (the credit window keeps that many orders of magnitude
 * away). An acknowledgement names the last frame received in order (0: none).
 */

/** The sequence number after `seq` (0 is never used). */
export const nextSeq = (seq: number): number => ((seq + 1) >>> 0) || 1

/** `a - b` in serial-number arithmetic: positive when `a` comes after `b`. */
export const seqDiff = (a: number, b: number): number => (a - b) | 0

/**
 * The sending side towards one peer: numbers frames and keeps those not yet
 * acknowledged, for retransmission.
 */
export class SendWindow {
  private next = 1
  private readonly frames: Array<Uint8Array> = []
  private readonly seqs: Array<number> = []
  private head = 0
  /** Bytes of frames kept until acknowledged. */
  unackedBytes = 0
  /** Highest acknowledgement received. */
  acked = 0

  /** Whether frames are kept (false for benchmarks only: nothing can be retransmitted). */
  readonly retain: boolean
  /** Called with each frame dropped from the window (acknowledged or cleared), e.g. to reuse its memory. */
  private readonly freed: ((frame: Uint8Array) => void) | undefined

  constructor(retain = true, freed?: (frame: Uint8Array) => void) {
    this.retain = retain
    this.freed = freed
  }

  /** The sequence number the next frame will get. */
  get nextSeq(): number {
    return this.next
  }

  /** Gives `frame` the next sequence number, keeping it until acknowledged. */
  assign(frame: Uint8Array): number {
    const seq = this.next
    this.next = nextSeq(seq)
    if (this.retain) {
      this.frames.push(frame)
      this.seqs.push(seq)
      this.unackedBytes += frame.length
    }
    return seq
  }

  /** Frames kept and not acknowledged. */
  get unacked(): number {
    return this.frames.length - this.head
  }

  /**
   * Applies a cumulative acknowledgement; returns how many frames it freed.
   * Stale or duplicate acknowledgements free nothing.
   */
  ack(ack: number): number {
    if (ack === 0 || seqDiff(ack, this.acked) <= 0 && this.acked !== 0) return 0
    // An acknowledgement of a frame never sent is from a confused or foreign peer: ignore it.
    if (seqDiff(ack, this.next) >= 0) return 0
    this.acked = ack
    let freed = 0
    while (this.head < this.frames.length && seqDiff(this.seqs[this.head]!, ack) <= 0) {
      const frame = this.frames[this.head]!
      this.unackedBytes -= frame.length
      this.freed?.(frame)
      this.frames[this.head] = EMPTY
      this.head++
      freed++
    }
    if (this.head > 1024 && this.head * 2 > this.frames.length) {
      this.frames.splice(0, this.head)
      this.seqs.splice(0, this.head)
      this.head = 0
    }
    return freed
  }

  /** Calls `f` on every unacknowledged frame, oldest first. */
  forEachUnacked(f: (frame: Uint8Array, seq: number) => void): void {
    for (let i = this.head; i < this.frames.length; i++) f(this.frames[i]!, this.seqs[i]!)
  }

  /** Drops every kept frame (the peer failed). */
  clear(): void {
    if (this.freed !== undefined) this.forEachUnacked(this.freed)
    this.frames.length = 0
    this.seqs.length = 0
    this.head = 0
    this.unackedBytes = 0
  }
}

const EMPTY = new Uint8Array(0)

/** What to do with an arriving frame. */
export const NEXT = 0
/** Already received: drop it (and acknowledge again, so that the sender stops resending). */
export const DUPLICATE = 1
/** Frames before it were lost: drop it and ask for a resend. */
export const GAP = 2
export type Verdict = typeof NEXT | typeof DUPLICATE | typeof GAP

/** The receiving side from one peer: accepts frames in order only. */
export class ReceiveSequence {
  private expected = 1
  /** The last frame received in order: what an acknowledgement names (0: none yet). */
  last = 0
  /** Frames and bytes accepted since the last acknowledgement went out. */
  unackedFrames = 0
  unackedBytes = 0

  /** Classifies an arriving frame's sequence number. */
  classify(seq: number): Verdict {
    if (seq === this.expected) return NEXT
    return seqDiff(seq, this.expected) < 0 ? DUPLICATE : GAP
  }

  /** Accepts the expected frame (of `bytes` bytes). */
  accept(bytes: number): void {
    this.last = this.expected
    this.expected = nextSeq(this.expected)
    this.unackedFrames++
    this.unackedBytes += bytes
  }

  /** Jumps over a gap (benchmarks without acknowledgements only: nothing will be resent). */
  resync(seq: number): void {
    this.expected = seq
  }

  /** Whether an acknowledgement should go out now rather than at the next tick. */
  ackDue(maxFrames: number, maxBytes: number): boolean {
    return this.unackedFrames >= maxFrames || this.unackedBytes >= maxBytes
  }

  /** Records that an acknowledgement of `last` went out (alone or piggybacked). */
  acknowledged(): void {
    this.unackedFrames = 0
    this.unackedBytes = 0
  }
}
