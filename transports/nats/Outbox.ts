/**
 * The outbox: DATA frames a rank publishes to a peer within one turn of the
 * event loop go out together as one BUNDLE (Frame.ts), at the end of the turn
 * or as soon as the bundle is full. A stream of small messages then costs one
 * NATS message, one authentication tag (an HMAC, 2–3 µs) and one parse at the
 * receiver per bundle instead of per message.
 *
 * Order is kept: frames to a peer leave in the order they were added, a
 * frame too large to bundle flushes those before it, and the transport
 * flushes the outbox before it publishes anything else (an ACK, a LEAVE), so
 * nothing overtakes a frame added earlier. A turn with one frame for a peer
 * publishes that frame as it is, so a lone message's bytes do not change.
 *
 * @example
 * ```ts
 * const outbox = new Outbox(size, (rank) => maxPayload, trailer, (rank, frame) => publishTo(rank, frame), (rank, frames, bytes) => publishTo(rank, Frame.encodeBundle(sender, frames, bytes)))
 * outbox.add(1, frame)   // published with the other frames for rank 1 at the end of this turn
 * ```
 */
import { bundleEntryBytes, BUNDLE_HEADER_BYTES } from "./Frame.ts"

/** Frames larger than this are published alone (a copy into a bundle would cost more than it saves). */
export const MAX_BUNDLED_FRAME = 16 * 1024
/** The most bytes of one bundle. */
export const MAX_BUNDLE = 64 * 1024

class Pending {
  readonly frames: Array<Uint8Array> = []
  /** Bytes of the bundle's entries so far. */
  bytes = 0
}

export class Outbox {
  private readonly pending: Array<Pending>
  private readonly limit: (rank: number) => number
  private readonly trailer: number
  private readonly publishFrame: (rank: number, frame: Uint8Array) => void
  private readonly publishBundle: (rank: number, frames: ReadonlyArray<Uint8Array>, bytes: number) => void
  private readonly waiting: Array<number> = []
  private scheduled = false
  /** Bundles published, and the frames they carried. */
  bundles = 0
  bundledFrames = 0

  /**
   * @param size ranks of the job
   * @param limit the most bytes of one NATS message to `rank` (the server's max_payload, the peer's frame limit)
   * @param trailer bytes of room for a tag that each frame ends with and a bundle leaves out
   * @param publishFrame publishes one frame as it is
   * @param publishBundle publishes `frames` as one bundle of `bytes` entry bytes
   */
  constructor(
    size: number,
    limit: (rank: number) => number,
    trailer: number,
    publishFrame: (rank: number, frame: Uint8Array) => void,
    publishBundle: (rank: number, frames: ReadonlyArray<Uint8Array>, bytes: number) => void
  ) {
    this.limit = limit
    this.trailer = trailer
    this.publishFrame = publishFrame
    this.publishBundle = publishBundle
    this.pending = Array.from({ length: size }, () => new Pending())
  }

  /** Whether frames wait to be published. */
  get busy(): boolean {
    return this.waiting.length > 0
  }

  /** Publishes `frame` to `rank` with the others of this turn. */
  add(rank: number, frame: Uint8Array): void {
    const p = this.pending[rank]!
    const length = frame.length - this.trailer
    if (length > MAX_BUNDLED_FRAME) {
      this.flushRank(rank)
      this.publishFrame(rank, frame)
      return
    }
    const entry = bundleEntryBytes(length)
    if (p.frames.length > 0 && BUNDLE_HEADER_BYTES + p.bytes + entry + this.trailer > Math.min(MAX_BUNDLE, this.limit(rank))) this.flushRank(rank)
    if (p.frames.length === 0) this.waiting.push(rank)
    p.frames.push(frame)
    p.bytes += entry
    if (!this.scheduled) {
      this.scheduled = true
      queueMicrotask(this.flushScheduled)
    }
  }

  private readonly flushScheduled = (): void => {
    this.scheduled = false
    this.flush()
  }

  /** Publishes every waiting frame now (publishing never adds to the outbox). */
  flush(): void {
    const waiting = this.waiting
    for (let i = 0; i < waiting.length; i++) this.publishPending(waiting[i]!)
    waiting.length = 0
  }

  private flushRank(rank: number): void {
    const p = this.pending[rank]!
    if (p.frames.length === 0) return
    const at = this.waiting.indexOf(rank)
    if (at >= 0) this.waiting.splice(at, 1)
    this.publishPending(rank)
  }

  private publishPending(rank: number): void {
    const p = this.pending[rank]!
    const count = p.frames.length
    if (count === 0) return
    if (count === 1) {
      const frame = p.frames[0]!
      p.frames.length = 0
      p.bytes = 0
      this.publishFrame(rank, frame)
      return
    }
    const frames = p.frames.splice(0)
    const bytes = p.bytes
    p.bytes = 0
    this.bundles++
    this.bundledFrames += count
    this.publishBundle(rank, frames, bytes)
  }
}
