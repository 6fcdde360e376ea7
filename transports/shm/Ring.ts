/**
 * Single-producer single-consumer rings in shared memory, and the record
 * format that travels through them.
 *
 * A data ring carries variable-length records from one sender to one
 * receiver. `head` and `tail` are byte counters (int32, wrapping) on lines of
 * their own; a record never wraps around the end: the writer fills the rest of
 * the ring with a PAD record instead. Records are 8-byte aligned and at most a
 * quarter of the ring, so a record always fits once the ring drains.
 *
 * Data records (i32 words, little-endian):
 *   MSG   [len, MSG | envLen << 8 | flags << 16, headerLen, nbufs, streamId, blobLen]
 *         then the blob: nbufs descriptors [mode, aux, f64 size, f64 offset],
 *         the envelope, the header, the inline buffer bytes. With
 *         FLAG_STREAMED the blob does not follow: FRAG records of `streamId`
 *         carry it, right behind.
 *   FRAG  [len, FRAG, streamId, 0, f64 offset] then bytes: part of a stream.
 *   FIN   [16, FIN, rdvId, 0]: the sender finished writing a rendezvous buffer into the arena.
 *   PAD   [len, PAD]: skip to the start of the ring.
 *
 * Reply ring records (receiver to sender, 16 bytes): [kind, rdvId, f64 arena offset].
 */
import type { PairLayout } from "./Layout.ts"
import { REPLY_RECORD_BYTES, REPLY_RECORDS } from "./Layout.ts"

export const PAD = 1
export const MSG = 2
export const FRAG = 3
export const FIN = 4

/** MSG flag: the blob is streamed in FRAG records. */
export const FLAG_STREAMED = 1

export const MSG_FIXED = 24
export const FRAG_FIXED = 24
export const FIN_BYTES = 16
export const DESCRIPTOR_BYTES = 24

/** Buffer modes in a descriptor. */
export const INLINE = 1
/** Rendezvous: `aux` is the id the receiver answers in its reply. */
export const RDV = 2
/** Zero copy: `aux` is the arena block (divided by 64), `offset` the view's byte offset; one reference travels with it. */
export const ZERO_COPY = 3

/** Reply kinds. */
export const CTS_ARENA = 1
export const CTS_STREAM = 2
export const CTS_CANCEL = 3


/** Typed views over the whole rings buffer, created once per rank (views cost 40–60 ns each to make). */
export interface RingViews {
  readonly i32: Int32Array
  readonly f64: Float64Array
  readonly u8: Uint8Array
}

export const ringViews = (rings: SharedArrayBuffer): RingViews => ({
  i32: new Int32Array(rings),
  f64: new Float64Array(rings),
  u8: new Uint8Array(rings)
})

/** The sending end of a data ring. */
export class DataWriter {
  private head = 0
  private tail = 0
  private readonly base: number
  private readonly mask: number
  private readonly headIdx: number
  private readonly tailIdx: number
  private readonly waitingIdx: number
  readonly i32: Int32Array
  readonly size: number

  constructor(views: RingViews, layout: PairLayout, size: number) {
    this.size = size
    this.i32 = views.i32
    this.base = layout.data
    this.mask = size - 1
    this.headIdx = layout.dataHead >> 2
    this.tailIdx = layout.dataTail >> 2
    this.waitingIdx = layout.dataWaiting >> 2
  }

  /**
   * Reserves `len` bytes (8-aligned, at most size / 4) and returns their byte
   * offset in the rings buffer, or -1 when the ring has no room now. The
   * record becomes visible at the next `publish`.
   */
  reserve(len: number): number {
    let off = this.head & this.mask
    const toEnd = this.size - off
    const need = len <= toEnd ? len : toEnd + len
    if (this.size - ((this.head - this.tail) | 0) < need) {
      this.tail = Atomics.load(this.i32, this.tailIdx)
      if (this.size - ((this.head - this.tail) | 0) < need) return -1
    }
    if (len > toEnd) {
      const p = (this.base + off) >> 2
      this.i32[p] = toEnd
      this.i32[p + 1] = PAD
      this.head = (this.head + toEnd) | 0
      off = 0
    }
    this.head = (this.head + len) | 0
    return this.base + off
  }

  /** Makes every reserved record visible to the receiver. */
  publish(): void {
    Atomics.store(this.i32, this.headIdx, this.head)
  }

  /**
   * Asks the receiver to ring our doorbell when it frees space. Returns true
   * when `len` bytes fit already (space was freed meanwhile): try again now.
   */
  askForSpace(len: number): boolean {
    Atomics.store(this.i32, this.waitingIdx, 1)
    this.tail = Atomics.load(this.i32, this.tailIdx)
    const off = this.head & this.mask
    const toEnd = this.size - off
    return this.size - ((this.head - this.tail) | 0) >= (len <= toEnd ? len : toEnd + len)
  }
}

/** The receiving end of a data ring. */
export class DataReader {
  private tail = 0
  private readonly base: number
  private readonly mask: number
  private readonly headIdx: number
  private readonly tailIdx: number
  private readonly waitingIdx: number
  readonly i32: Int32Array

  constructor(views: RingViews, layout: PairLayout, size: number) {
    this.i32 = views.i32
    this.base = layout.data
    this.mask = size - 1
    this.headIdx = layout.dataHead >> 2
    this.tailIdx = layout.dataTail >> 2
    this.waitingIdx = layout.dataWaiting >> 2
  }

  /** Whether a record is waiting. */
  ready(): boolean {
    return Atomics.load(this.i32, this.headIdx) !== this.tail
  }

  /** Byte offset (in the rings buffer) of the oldest record. Only after `ready()`. */
  position(): number {
    return this.base + (this.tail & this.mask)
  }

  /** Frees the oldest record (`len` bytes) for the writer. */
  consume(len: number): void {
    this.tail = (this.tail + len) | 0
    Atomics.store(this.i32, this.tailIdx, this.tail)
  }

  /** Whether the writer asked to be told about freed space (clears the request). */
  writerWaiting(): boolean {
    if (Atomics.load(this.i32, this.waitingIdx) === 0) return false
    Atomics.store(this.i32, this.waitingIdx, 0)
    return true
  }
}

/**
 * The writing end of a reply ring (a data receiver answering rendezvous
 * requests). The word after the tail is the writer's "tell me when there is
 * room" flag.
 */
export class ReplyWriter {
  private head = 0
  private tail = 0
  private readonly headIdx: number
  private readonly tailIdx: number
  private readonly base: number

  private readonly views: RingViews

  constructor(views: RingViews, layout: PairLayout) {
    this.views = views
    this.headIdx = layout.replyHead >> 2
    this.tailIdx = layout.replyTail >> 2
    this.base = layout.reply
  }

  /** Writes a reply; false when the ring is full (the caller keeps it and is told when there is room). */
  write(kind: number, id: number, offset: number): boolean {
    if (((this.head - this.tail) | 0) >= REPLY_RECORDS) {
      this.tail = Atomics.load(this.views.i32, this.tailIdx)
      if (((this.head - this.tail) | 0) >= REPLY_RECORDS) {
        Atomics.store(this.views.i32, this.tailIdx + 1, 1)
        this.tail = Atomics.load(this.views.i32, this.tailIdx)
        if (((this.head - this.tail) | 0) >= REPLY_RECORDS) return false
      }
    }
    const p = this.base + (this.head & (REPLY_RECORDS - 1)) * REPLY_RECORD_BYTES
    this.views.i32[p >> 2] = kind
    this.views.i32[(p >> 2) + 1] = id
    this.views.f64[(p >> 3) + 1] = offset
    this.head = (this.head + 1) | 0
    Atomics.store(this.views.i32, this.headIdx, this.head)
    return true
  }
}

/** The reading end of a reply ring. */
export class ReplyReader {
  private tail = 0
  private readonly headIdx: number
  private readonly tailIdx: number
  private readonly base: number

  private readonly views: RingViews

  constructor(views: RingViews, layout: PairLayout) {
    this.views = views
    this.headIdx = layout.replyHead >> 2
    this.tailIdx = layout.replyTail >> 2
    this.base = layout.reply
  }

  /**
   * Calls `f` for every waiting reply, oldest first. Returns true when the
   * writer asked to be told about room (its doorbell should ring).
   */
  drain(f: (kind: number, id: number, offset: number) => void): boolean {
    const head = Atomics.load(this.views.i32, this.headIdx)
    if (this.tail === head) return false
    while (this.tail !== head) {
      const p = this.base + (this.tail & (REPLY_RECORDS - 1)) * REPLY_RECORD_BYTES
      const kind = this.views.i32[p >> 2]!
      const id = this.views.i32[(p >> 2) + 1]!
      const offset = this.views.f64[(p >> 3) + 1]!
      this.tail = (this.tail + 1) | 0
      Atomics.store(this.views.i32, this.tailIdx, this.tail)
      f(kind, id, offset)
    }
    if (Atomics.load(this.views.i32, this.tailIdx + 1) === 0) return false
    Atomics.store(this.views.i32, this.tailIdx + 1, 0)
    return true
  }
}
