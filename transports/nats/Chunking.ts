/**
 * Chunking: a message (envelope, codec header, out-of-band buffers) becomes a
 * run of DATA frames no larger than the server's max_payload, and the frames
 * become the message again on the other side.
 *
 * A message is its descriptor plus its body. The body lays out the codec
 * header at offset 0 and each out-of-band buffer at the next multiple of 8, so
 * that a receiver reassembling into one fresh ArrayBuffer can hand out every
 * buffer as an aligned view (a Float64Array over it needs no copy).
 *
 * Descriptor (starts the payload of a message's first frame; padded to 8 bytes):
 *   0 u8 envelope length | 1 u8 reserved | 2 u16 buffer count n |
 *   4 u32 codec header length | 8 f64 body length | 16 f64 × n buffer sizes |
 *   16 + 8n envelope bytes
 * Every frame carries the body offset of its body bytes, so chunks may be
 * written in any order.
 */
import type { Frames } from "../../codecs/Codec.ts"
import type { Packet, SendDone } from "../Transport.ts"
import * as Frame from "./Frame.ts"

import { align8 } from "../Slab.ts"

/** Where each part of a message lives in its body. */
export interface Layout {
  readonly headerLength: number
  readonly sizes: ReadonlyArray<number>
  /** Body offset of each out-of-band buffer (multiples of 8). */
  readonly offsets: ReadonlyArray<number>
  readonly bodyLength: number
}

/** The body layout of a codec header of `headerLength` bytes followed by buffers of `sizes` bytes. */
export const layoutOf = (headerLength: number, sizes: ReadonlyArray<number>): Layout => {
  const offsets: Array<number> = []
  let end = headerLength
  for (const size of sizes) {
    const start = align8(end)
    offsets.push(start)
    end = start + size
  }
  return { headerLength, sizes, offsets, bodyLength: end }
}

/** Bytes of a descriptor for an envelope of `envelopeLength` bytes and `count` buffers. */
export const descriptorLength = (envelopeLength: number, count: number): number => align8(16 + 8 * count + envelopeLength)

/** Writes the descriptor of a message at `at` in `target` (every byte of it, padding included). */
export const writeDescriptor = (target: Uint8Array, at: number, envelope: Uint8Array, layout: Layout): void => {
  const count = layout.sizes.length
  target[at] = envelope.length
  target[at + 1] = 0
  target[at + 2] = count
  target[at + 3] = count >>> 8
  Frame.putU32(target, at + 4, layout.headerLength)
  Frame.putF64(target, at + 8, layout.bodyLength)
  for (let i = 0; i < count; i++) Frame.putF64(target, at + 16 + 8 * i, layout.sizes[i]!)
  const envelopeAt = at + 16 + 8 * count
  for (let i = 0; i < envelope.length; i++) target[envelopeAt + i] = envelope[i]!
  target.fill(0, envelopeAt + envelope.length, at + descriptorLength(envelope.length, count))
}

export interface Descriptor {
  /** A copy of the sender's envelope. */
  readonly envelope: Uint8Array
  readonly layout: Layout
  /** Bytes the descriptor takes at the start of the payload (the body follows). */
  readonly length: number
}

/**
 * Reads a descriptor at the start of `payload`; a string says why it is
 * malformed. `copy` makes the envelope's stable copy (default: a fresh array).
 */
export const readDescriptor = (
  payload: Uint8Array,
  maxBodyBytes: number,
  copy: (bytes: Uint8Array) => Uint8Array = (b) => b.slice()
): Descriptor | string => {
  if (payload.length < 16) return `a message descriptor needs 16 bytes, the first frame has ${payload.length}`
  const envelopeLength = payload[0]!
  const count = payload[2]! | (payload[3]! << 8)
  const length = descriptorLength(envelopeLength, count)
  if (payload.length < length) return `the descriptor of ${count} buffers and a ${envelopeLength}-byte envelope needs ${length} bytes, the frame has ${payload.length}`
  const headerLength = Frame.getU32(payload, 4)
  const bodyLength = Frame.getF64(payload, 8)
  const sizes: Array<number> = []
  for (let i = 0; i < count; i++) {
    const size = Frame.getF64(payload, 16 + 8 * i)
    if (!Number.isSafeInteger(size) || size < 0) return `buffer ${i} has a bad size ${size}`
    sizes.push(size)
  }
  const layout = layoutOf(headerLength, sizes)
  if (layout.bodyLength !== bodyLength) return `the body length ${bodyLength} does not match the sizes it lists (${layout.bodyLength})`
  if (bodyLength > maxBodyBytes) return `a ${bodyLength}-byte message exceeds this rank's limit of ${maxBodyBytes} bytes`
  const start = 16 + 8 * count
  return { envelope: copy(payload.subarray(start, start + envelopeLength)), layout, length }
}

/** Fields the sender fills in per frame (its identity and trailer, and the pair's counters). */
export interface FrameFields extends Frame.Sender {
  readonly seq: number
  readonly ack: number
  readonly credit: number
}

/**
 * The length of the single frame that would carry `frames` with `envelope`
 * whole, its `trailer` (authentication tag) included (the fast path of small
 * messages; `OutgoingMessage` is the general one).
 */
export const singleFrameLength = (envelope: Uint8Array, frames: Frames, trailer: number): number => {
  const buffers = frames.buffers
  let end = frames.header.length
  for (let i = 0; i < buffers.length; i++) end = align8(end) + buffers[i]!.byteLength
  return Frame.DATA_HEADER_BYTES + descriptorLength(envelope.length, buffers.length) + end + trailer
}

/**
 * Writes a whole message as one frame of `length` bytes (from
 * `singleFrameLength`) into `frame`, which must be zeroed: the padding is not
 * written, nor the trailer (signed when published). A small message then
 * costs no layout arrays, no chunker and one copy per part.
 */
export const writeSingleFrame = (frame: Uint8Array, envelope: Uint8Array, frames: Frames, message: number, fields: FrameFields): void => {
  const { header, buffers } = frames
  const count = buffers.length
  const descriptorAt = Frame.DATA_HEADER_BYTES
  const bodyAt = descriptorAt + descriptorLength(envelope.length, count)
  const bodyLength = frame.length - fields.trailer - bodyAt
  Frame.writeData(frame, {
    flags: Frame.FLAG_FIRST | Frame.FLAG_LAST,
    source: fields.source,
    incarnation: fields.incarnation,
    run: fields.run,
    trailer: fields.trailer,
    seq: fields.seq,
    ack: fields.ack,
    credit: fields.credit,
    message,
    offset: 0
  })
  frame[descriptorAt] = envelope.length
  frame[descriptorAt + 2] = count
  frame[descriptorAt + 3] = count >>> 8
  Frame.putU32(frame, descriptorAt + 4, header.length)
  Frame.putF64(frame, descriptorAt + 8, bodyLength)
  for (let i = 0; i < count; i++) Frame.putF64(frame, descriptorAt + 16 + 8 * i, buffers[i]!.byteLength)
  copySmall(envelope, frame, descriptorAt + 16 + 8 * count)
  copySmall(header, frame, bodyAt)
  let end = header.length
  for (let i = 0; i < count; i++) {
    const start = align8(end)
    const b = buffers[i]!
    copySmall(b, frame, bodyAt + start)
    end = start + b.byteLength
  }
}

/** Copies `source` into `target` at `at`: element stores for small copies (they beat set() up to ~64 B, NOTES.md). */
const copySmall = (source: Uint8Array, target: Uint8Array, at: number): void => {
  const n = source.length
  if (n <= 64) for (let i = 0; i < n; i++) target[at + i] = source[i]!
  else target.set(source, at)
}

/**
 * A message being sent: it hands out its frames one at a time (as credit
 * allows), copying the caller's bytes into each. Once `finished`, the caller's
 * buffers are no longer needed.
 */
export class OutgoingMessage {
  readonly envelope: Uint8Array
  readonly frames: Frames
  readonly layout: Layout
  readonly number: number
  readonly done: SendDone
  private readonly descriptorBytes: number
  /** Bytes of the authentication tag that ends each frame. */
  private readonly trailer: number
  /** Body bytes already put into frames. */
  private sent = 0
  private started = false
  /** Index of the body segment (0 = codec header, i + 1 = buffer i) where `sent` lies. */
  private segment = 0

  constructor(packet: Packet, number: number, done: SendDone, trailer = 0) {
    this.trailer = trailer
    // The message outlives `send`: a copy of the envelope (the caller may reuse its array).
    this.envelope = packet.envelope.slice()
    this.frames = packet.frames
    this.number = number
    this.done = done
    this.layout = layoutOf(packet.frames.header.length, packet.frames.buffers.map((b) => b.byteLength))
    this.descriptorBytes = descriptorLength(packet.envelope.length, packet.frames.buffers.length)
  }

  /** Whether every frame has been built. */
  get finished(): boolean {
    return this.started && this.sent === this.layout.bodyLength
  }

  /** Whether the first frame (descriptor, envelope, some body) fits in frames of `maxFrame` bytes. */
  fits(maxFrame: number): boolean {
    return Frame.DATA_HEADER_BYTES + this.descriptorBytes + this.trailer + (this.layout.bodyLength > 0 ? 8 : 0) <= maxFrame
  }

  /** Bytes of the next frame (its trailer included) when frames are at most `maxFrame` bytes. */
  nextFrameLength(maxFrame: number): number {
    const fixed = Frame.DATA_HEADER_BYTES + (this.started ? 0 : this.descriptorBytes) + this.trailer
    return fixed + Math.min(this.layout.bodyLength - this.sent, maxFrame - fixed)
  }

  /**
   * Builds the next frame of at most `maxFrame` bytes in memory from
   * `allocate` (whose bytes may be stale: every byte is written).
   */
  nextFrame(
    maxFrame: number,
    fields: FrameFields,
    allocate: (length: number) => Uint8Array
  ): Uint8Array {
    const first = !this.started
    const frame = allocate(this.nextFrameLength(maxFrame))
    let at = Frame.DATA_HEADER_BYTES
    if (first) {
      writeDescriptor(frame, at, this.envelope, this.layout)
      at += this.descriptorBytes
    }
    const from = this.sent
    const to = from + (frame.length - this.trailer - at)
    this.copyBody(from, to, frame, at)
    this.started = true
    this.sent = to
    Frame.writeData(frame, {
      flags: (first ? Frame.FLAG_FIRST : 0) | (to === this.layout.bodyLength ? Frame.FLAG_LAST : 0),
      source: fields.source,
      incarnation: fields.incarnation,
      run: fields.run,
      trailer: this.trailer,
      seq: fields.seq,
      ack: fields.ack,
      credit: fields.credit,
      message: this.number,
      offset: from
    })
    return frame
  }

  /** Copies body bytes [from, to) to `target` at `at`, zeroing the padding. */
  private copyBody(from: number, to: number, target: Uint8Array, at: number): void {
    const offsets = this.layout.offsets
    const buffers = this.frames.buffers
    let pos = from
    while (pos < to) {
      const s = this.segment
      const start = s === 0 ? 0 : offsets[s - 1]!
      const bytes = s === 0 ? this.frames.header : buffers[s - 1]!
      const end = start + bytes.length
      if (pos >= end) {
        this.segment++
        continue
      }
      if (pos < start) {
        // Padding before this segment.
        const stop = Math.min(start, to)
        target.fill(0, at + (pos - from), at + (stop - from))
        pos = stop
        continue
      }
      const stop = Math.min(end, to)
      const n = stop - pos
      const base = at + (pos - from)
      const offset = pos - start
      if (n <= 64) {
        // Element stores beat set() for small copies (NOTES.md).
        for (let i = 0; i < n; i++) target[base + i] = bytes[offset + i]!
      } else target.set(bytes.subarray(offset, offset + n), base)
      pos = stop
    }
  }
}

/** Memory for one part of a received message (its codec header or one buffer). */
export type Allocate = (length: number) => Uint8Array

/**
 * A part of its own: starts at offset 0 of a fresh ArrayBuffer (so any typed
 * array fits it), not zeroed since every byte will be written (a 4 MiB
 * stream spent a tenth of its receive time zeroing pages about to be
 * overwritten).
 */
export const freshPart: Allocate = (length) => {
  const b = Buffer.allocUnsafeSlow(length)
  return new Uint8Array(b.buffer, b.byteOffset, length)
}

const EMPTY = new Uint8Array(0)

/**
 * A message being received: body bytes arrive in chunks (in any order). Each
 * part — the codec header, each out-of-band buffer — is written into memory of
 * its own, allocated when its first byte arrives, so every buffer is handed
 * out as an aligned view without a further copy; a buffer the receiver
 * supplies (`redirect`) is written in place instead, and never allocated.
 */
export class Reassembly {
  readonly layout: Layout
  /** Bytes of the body received so far (padding included). */
  received = 0
  /** Contiguous received bytes from offset 0. */
  private prefix = 0
  /** Received ranges beyond `prefix`, sorted, not touching it: [start, end) pairs. */
  private readonly ahead: Array<[number, number]> = []
  /** Part 0 is the codec header, part i + 1 buffer i; undefined until written. */
  private readonly parts: Array<Uint8Array | undefined>
  private readonly allocate: Allocate
  /** The part the last write ended in: chunks mostly arrive in order. */
  private cursor = 0

  /** Throws a RangeError when the header cannot be allocated. */
  constructor(layout: Layout, allocate: Allocate = freshPart) {
    this.layout = layout
    this.allocate = allocate
    this.parts = [layout.headerLength === 0 ? EMPTY : allocate(layout.headerLength)]
    for (const size of layout.sizes) this.parts.push(size === 0 ? EMPTY : undefined)
  }

  /**
   * A message that arrived in one frame whose body is usable where it lies
   * (8-byte aligned in memory nobody reuses): its parts are views of it, with
   * no copy at all.
   */
  static whole(layout: Layout, body: Uint8Array): Reassembly {
    const r = new Reassembly(layout, () => EMPTY)
    r.parts[0] = body.subarray(0, layout.headerLength)
    for (let i = 0; i < layout.sizes.length; i++) r.parts[i + 1] = body.subarray(layout.offsets[i]!, layout.offsets[i]! + layout.sizes[i]!)
    r.received = layout.bodyLength
    r.prefix = layout.bodyLength
    return r
  }

  /** Whether the codec header has arrived (an arrival can be announced). */
  get headerReady(): boolean {
    return this.prefix >= this.layout.headerLength
  }

  /** Whether the whole body has arrived. */
  get complete(): boolean {
    return this.received === this.layout.bodyLength
  }

  private startOf(part: number): number {
    return part === 0 ? 0 : this.layout.offsets[part - 1]!
  }

  private lengthOf(part: number): number {
    return part === 0 ? this.layout.headerLength : this.layout.sizes[part - 1]!
  }

  /** Writes `bytes` at body offset `offset`; a string says why the chunk is refused. */
  write(offset: number, bytes: Uint8Array): string | undefined {
    const end = offset + bytes.length
    if (end > this.layout.bodyLength) return `a chunk at ${offset} of ${bytes.length} bytes runs past the ${this.layout.bodyLength}-byte body`
    if (bytes.length === 0) return undefined
    if (offset < this.prefix || this.overlapsAhead(offset, end)) return `a chunk at ${offset} of ${bytes.length} bytes overlaps bytes already received`
    let part = this.startOf(this.cursor) <= offset ? this.cursor : 0
    const last = this.parts.length - 1
    while (part < last && this.startOf(part + 1) <= offset) part++
    for (; part <= last; part++) {
      const start = this.startOf(part)
      if (start >= end) break
      const length = this.lengthOf(part)
      const from = Math.max(offset, start)
      const to = Math.min(end, start + length)
      if (from >= to) continue
      const dest = this.parts[part] ??= this.allocate(length)
      dest.set(bytes.subarray(from - offset, to - offset), from - start)
      this.cursor = part
    }
    this.received += bytes.length
    if (offset === this.prefix) {
      this.prefix = end
      while (this.ahead.length > 0 && this.ahead[0]![0] === this.prefix) this.prefix = this.ahead.shift()![1]
    } else {
      let i = this.ahead.length
      while (i > 0 && this.ahead[i - 1]![0] > offset) i--
      this.ahead.splice(i, 0, [offset, end])
    }
    return undefined
  }

  private overlapsAhead(start: number, end: number): boolean {
    for (const [s, e] of this.ahead) if (start < e && s < end) return true
    return false
  }

  /**
   * From now on, buffer `i` is written into `into[i]` where given (exactly
   * its size); what already arrived of it is copied there now.
   */
  redirect(into: ReadonlyArray<Uint8Array | undefined>): void {
    for (let i = 0; i < into.length && i < this.layout.sizes.length; i++) {
      const target = into[i]
      if (target === undefined) continue
      const current = this.parts[i + 1]
      if (current !== undefined && current !== target && current.length > 0) {
        const start = this.layout.offsets[i]!
        const end = start + this.layout.sizes[i]!
        const copy = (s: number, e: number) => {
          const from = Math.max(s, start)
          const to = Math.min(e, end)
          if (from < to) target.set(current.subarray(from - start, to - start), from - start)
        }
        copy(0, this.prefix)
        for (const [s, e] of this.ahead) copy(s, e)
      }
      this.parts[i + 1] = target
    }
  }

  /** The codec header. */
  header(): Uint8Array {
    return this.parts[0]!
  }

  /**
   * The message's frames (once complete): buffer `i` is in `into[i]` where
   * given (exactly its size), else handed out as it was reassembled.
   */
  frames(into: ReadonlyArray<Uint8Array | undefined> | undefined): Frames {
    const buffers: Array<Uint8Array> = []
    for (let i = 0; i < this.layout.sizes.length; i++) {
      const part = this.parts[i + 1] ?? EMPTY
      const target = into?.[i]
      if (target !== undefined && target !== part) target.set(part)
      buffers.push(target ?? part)
    }
    return { header: this.header(), buffers }
  }
}
