/**
 * The sending side of one ordered pair: packets for one destination, written
 * into that pair's data ring in `send` order.
 *
 * Paths, chosen per packet by `plan`:
 * - eager: the whole packet (envelope, header, every buffer) fits the eager
 *   limit: one MSG record, `done` at once;
 * - zero copy: a buffer that lives in the arena travels as a descriptor (one
 *   block reference goes with it), whatever the path of the rest;
 * - rendezvous: larger buffers stay with the sender; the MSG record announces
 *   them and the receiver replies once the message is taken: with an arena
 *   offset (the sender copies straight there: one copy, then a FIN record),
 *   with "stream" (FRAG records through the ring into the receiver's private
 *   memory), or with "cancel" (the message was discarded). `done` is called
 *   once every buffer is delivered.
 * A MSG record larger than a quarter of the ring (a huge header, many
 * buffers) is itself streamed in FRAG records right behind it.
 *
 * A full ring never queues bytes: the packet waits here (by reference) and
 * the receiver rings our doorbell when it frees space.
 */
import type { Packet, SendDone } from "../Transport.ts"
import type { PeerFailure, TransportError } from "../Transport.ts"
import type { Arena } from "./Arena.ts"
import type { DataWriter, ReplyReader, RingViews } from "./Ring.ts"
import { align8 } from "../Slab.ts"
import { STREAM_FRAGMENT_BYTES } from "./Layout.ts"
import {
  CTS_ARENA,
  CTS_CANCEL,
  CTS_STREAM,
  DESCRIPTOR_BYTES,
  FIN,
  FIN_BYTES,
  FLAG_STREAMED,
  FRAG,
  FRAG_FIXED,
  INLINE,
  MSG,
  MSG_FIXED,
  RDV,
  ZERO_COPY
} from "./Ring.ts"

/** Buffers up to this size ride inline even in a rendezvous packet (a handshake costs more). */
const SMALL_INLINE = 1024

/** What the transport gives an outbox. */
export interface OutboxContext {
  readonly views: RingViews
  readonly arena: Arena
  readonly eagerLimit: number
  /** Largest record (a quarter of the ring). */
  readonly maxRecord: number
  /** Rings the destination's doorbell. */
  readonly notify: () => void
  /** Counts operations that must keep the thread alive (+1 / -1). */
  readonly pending: (delta: number) => void
  /** Counts completions, for `poll`'s answer. */
  readonly completed: () => void
}

/** One packet on its way. */
interface SendJob {
  readonly packet: Packet
  readonly done: SendDone
  /** Per buffer: INLINE, RDV or ZERO_COPY. */
  readonly modes: Uint8Array
  /** Per buffer: rendezvous id, or zero-copy block. */
  readonly aux: Array<number>
  readonly blobLen: number
  readonly streamId: number
  readonly streamed: boolean
  recordWritten: boolean
  blobSent: number
  /** Rendezvous buffers not yet delivered. */
  parts: number
  finished: boolean
  /** Whether the job counts in the transport's pending operations. */
  held: boolean
  /** Zero-copy references not yet handed to the ring (released if the send fails first). */
  zeroCopyHeld: boolean
}

/** A FIN record or a stream of FRAG records, written before queued packets. */
interface ControlJob {
  readonly kind: typeof FIN | typeof FRAG
  readonly id: number
  readonly source: Uint8Array | undefined
  sent: number
  readonly job: SendJob | undefined
}

interface PendingBuffer {
  readonly job: SendJob
  readonly buffer: Uint8Array
}

const EMPTY_MODES = new Uint8Array(0)
const EMPTY_AUX: Array<number> = []

export class Outbox {
  private readonly packets: Array<SendJob> = []
  private packetHead = 0
  private readonly control: Array<ControlJob> = []
  private readonly rendezvous = new Map<number, PendingBuffer>()
  private nextId = 1
  private failure: PeerFailure | TransportError | undefined
  /** Whether a write is waiting for the receiver to free space. */
  blocked = false
  private readonly fragData: number
  readonly dest: number
  private readonly writer: DataWriter
  private readonly replies: ReplyReader
  private readonly ctx: OutboxContext

  constructor(dest: number, writer: DataWriter, replies: ReplyReader, ctx: OutboxContext) {
    this.dest = dest
    this.writer = writer
    this.replies = replies
    this.ctx = ctx
    this.fragData = Math.min(ctx.maxRecord, STREAM_FRAGMENT_BYTES) - FRAG_FIXED
  }

  /** Whether anything waits here (queued records or rendezvous replies). */
  get busy(): boolean {
    return this.packetHead < this.packets.length || this.control.length > 0 || this.rendezvous.size > 0
  }

  /** Starts sending a packet (see `Transport.send`). */
  send(packet: Packet, done: SendDone): void {
    if (this.failure !== undefined) return done(this.failure)
    const idle = !this.blocked && this.packetHead === this.packets.length && this.control.length === 0
    if (idle && this.sendEager(packet)) {
      this.ctx.completed()
      return done()
    }
    const job = this.plan(packet, done)
    if (idle && this.writePacket(job)) {
      this.writer.publish()
      this.ctx.notify()
      if (job.parts === 0) this.finish(job)
      else this.hold(job)
      return
    }
    this.hold(job)
    this.packets.push(job)
    this.pump()
  }

  /** Handles rendezvous replies and writes what waits, as far as the ring allows. */
  progress(): void {
    if (this.rendezvous.size > 0 && this.replies.drain(this.onReply)) this.ctx.notify()
    if (this.blocked || this.control.length > 0 || this.packetHead < this.packets.length) this.pump()
  }

  /** Fails everything pending with `failure`, and every later send. */
  fail(failure: PeerFailure | TransportError): void {
    if (this.failure !== undefined) return
    this.failure = failure
    const jobs = new Set<SendJob>()
    for (let i = this.packetHead; i < this.packets.length; i++) jobs.add(this.packets[i]!)
    for (const p of this.rendezvous.values()) jobs.add(p.job)
    for (const c of this.control) if (c.job !== undefined) jobs.add(c.job)
    this.packets.length = 0
    this.packetHead = 0
    this.control.length = 0
    this.rendezvous.clear()
    for (const job of jobs) {
      if (job.finished) continue
      this.releaseZeroCopy(job)
      this.finish(job, failure)
    }
  }

  /**
   * The hot path: a packet of private buffers within the eager limit, written
   * at once without planning (no per-send allocation). False when it is not
   * such a packet or the ring has no room now.
   */
  private sendEager(packet: Packet): boolean {
    const { envelope, frames } = packet
    const buffers = frames.buffers
    const n = buffers.length
    let blobLen = n * DESCRIPTOR_BYTES + envelope.byteLength + frames.header.byteLength
    for (let i = 0; i < n; i++) {
      const b = buffers[i]!
      if (b.buffer instanceof SharedArrayBuffer) return false
      blobLen += b.byteLength
    }
    if (MSG_FIXED + blobLen > this.ctx.eagerLimit) return false
    const len = align8(MSG_FIXED + blobLen)
    const pos = this.writer.reserve(len)
    if (pos < 0) return false
    const { i32, f64, u8 } = this.ctx.views
    const w = pos >> 2
    i32[w] = len
    i32[w + 1] = MSG | (envelope.byteLength << 8)
    i32[w + 2] = frames.header.byteLength
    i32[w + 3] = n
    i32[w + 4] = 0
    i32[w + 5] = blobLen
    const at = pos + MSG_FIXED
    for (let i = 0; i < n; i++) {
      const d = at + i * DESCRIPTOR_BYTES
      i32[d >> 2] = INLINE
      i32[(d >> 2) + 1] = 0
      f64[(d >> 3) + 1] = buffers[i]!.byteLength
      f64[(d >> 3) + 2] = 0
    }
    let p = put(u8, at + n * DESCRIPTOR_BYTES, envelope)
    p = put(u8, p, frames.header)
    for (let i = 0; i < n; i++) p = put(u8, p, buffers[i]!)
    this.writer.publish()
    this.ctx.notify()
    return true
  }

  // ---- planning ------------------------------------------------------------

  private plan(packet: Packet, done: SendDone): SendJob {
    const { envelope, frames } = packet
    const buffers = frames.buffers
    const n = buffers.length
    const arena = this.ctx.arena
    let modes = EMPTY_MODES
    let aux = EMPTY_AUX
    let inlineLen = 0
    let zeroCopy = false
    if (n > 0) {
      modes = new Uint8Array(n)
      aux = new Array<number>(n)
      for (let i = 0; i < n; i++) {
        const b = buffers[i]!
        const block = b.buffer instanceof SharedArrayBuffer ? arena.blockOf(b) : -1
        if (block >= 0) {
          arena.retain(block)
          modes[i] = ZERO_COPY
          aux[i] = block
          zeroCopy = true
        } else {
          modes[i] = INLINE
          aux[i] = 0
          inlineLen += b.byteLength
        }
      }
    }
    const fixed = n * DESCRIPTOR_BYTES + envelope.byteLength + frames.header.byteLength
    let parts = 0
    if (MSG_FIXED + fixed + inlineLen > this.ctx.eagerLimit) {
      inlineLen = 0
      for (let i = 0; i < n; i++) {
        if (modes[i] !== INLINE) continue
        const size = buffers[i]!.byteLength
        if (size <= SMALL_INLINE) inlineLen += size
        else {
          modes[i] = RDV
          aux[i] = this.nextId++ | 0
          parts++
        }
      }
    }
    const blobLen = fixed + inlineLen
    const streamed = MSG_FIXED + blobLen > this.ctx.maxRecord
    return {
      // The job outlives `send`: it keeps a copy of the envelope (the caller may reuse its array).
      packet: { envelope: envelope.slice(), frames },
      done,
      modes,
      aux,
      blobLen,
      streamId: streamed ? this.nextId++ | 0 : 0,
      streamed,
      recordWritten: false,
      blobSent: 0,
      parts,
      finished: false,
      held: false,
      zeroCopyHeld: zeroCopy
    }
  }

  // ---- writing -------------------------------------------------------------

  /** Writes what waits, in order: control records first (they never overtake a MSG they refer to), then packets. */
  private pump(): void {
    let wrote = false
    while (this.control.length > 0) {
      const c = this.control[0]!
      if (!this.writeControl(c)) return this.stall(wrote)
      wrote = true
      this.control.shift()
    }
    while (this.packetHead < this.packets.length) {
      const job = this.packets[this.packetHead]!
      const written = this.writePacket(job)
      if (job.recordWritten) wrote = true
      if (!written) return this.stall(wrote)
      this.packets[this.packetHead++] = undefined as never
      if (job.parts === 0) this.finish(job)
    }
    this.packets.length = 0
    this.packetHead = 0
    this.blocked = false
    if (wrote) {
      this.writer.publish()
      this.ctx.notify()
    }
  }

  private stall(wrote: boolean): void {
    if (wrote) {
      this.writer.publish()
      this.ctx.notify()
    }
    this.blocked = true
    // Space may have been freed since the failed reservation: try again at once if so.
    if (this.writer.askForSpace(this.ctx.maxRecord)) queueMicrotask(() => this.progress())
  }

  /** Writes the MSG record and any streamed blob; false when the ring filled first. */
  private writePacket(job: SendJob): boolean {
    if (!job.recordWritten) {
      const len = align8(MSG_FIXED + (job.streamed ? 0 : job.blobLen))
      const pos = this.writer.reserve(len)
      if (pos < 0) return false
      this.writeRecord(job, pos, len)
      job.recordWritten = true
      job.zeroCopyHeld = false
      for (let i = 0; i < job.modes.length; i++) {
        if (job.modes[i] === RDV) this.rendezvous.set(job.aux[i]!, { job, buffer: job.packet.frames.buffers[i]! })
      }
    }
    if (job.streamed) {
      while (job.blobSent < job.blobLen) {
        const n = Math.min(this.fragData, job.blobLen - job.blobSent)
        const pos = this.writer.reserve(align8(FRAG_FIXED + n))
        if (pos < 0) return false
        this.writeFragHeader(pos, align8(FRAG_FIXED + n), job.streamId, job.blobSent, n)
        this.copyBlob(job, job.blobSent, n, pos + FRAG_FIXED)
        job.blobSent += n
        this.writer.publish()
        this.ctx.notify()
      }
    }
    return true
  }

  private writeRecord(job: SendJob, pos: number, len: number): void {
    const { i32 } = this.ctx.views
    const { envelope, frames } = job.packet
    const w = pos >> 2
    i32[w] = len
    i32[w + 1] = MSG | (envelope.byteLength << 8) | ((job.streamed ? FLAG_STREAMED : 0) << 16)
    i32[w + 2] = frames.header.byteLength
    i32[w + 3] = frames.buffers.length
    i32[w + 4] = job.streamId
    i32[w + 5] = job.blobLen
    if (!job.streamed) this.writeBlob(job, pos + MSG_FIXED)
  }

  /** Writes the whole blob at `pos` (the record case). */
  private writeBlob(job: SendJob, pos: number): void {
    const { i32, f64, u8 } = this.ctx.views
    const { envelope, frames } = job.packet
    const buffers = frames.buffers
    const n = buffers.length
    for (let i = 0; i < n; i++) {
      const d = pos + i * DESCRIPTOR_BYTES
      const b = buffers[i]!
      i32[d >> 2] = job.modes[i]!
      i32[(d >> 2) + 1] = wireAux(job.modes[i]!, job.aux[i]!)
      f64[(d >> 3) + 1] = b.byteLength
      f64[(d >> 3) + 2] = b.byteOffset
    }
    let p = pos + n * DESCRIPTOR_BYTES
    p = put(u8, p, envelope)
    p = put(u8, p, frames.header)
    for (let i = 0; i < n; i++) if (job.modes[i] === INLINE) p = put(u8, p, buffers[i]!)
  }

  /** Copies bytes [from, from + n) of the blob to `pos` (the streamed case). */
  private copyBlob(job: SendJob, from: number, n: number, pos: number): void {
    const { u8 } = this.ctx.views
    const { envelope, frames } = job.packet
    const buffers = frames.buffers
    const descriptors = buffers.length * DESCRIPTOR_BYTES
    let at = 0
    let p = pos
    const end = from + n
    const part = (bytes: Uint8Array): void => {
      const start = Math.max(from, at)
      const stop = Math.min(end, at + bytes.byteLength)
      if (start < stop) {
        u8.set(bytes.subarray(start - at, stop - at), p)
        p += stop - start
      }
      at += bytes.byteLength
    }
    if (from < descriptors) part(this.descriptorBytes(job))
    else at = descriptors
    part(envelope)
    part(frames.header)
    for (let i = 0; i < buffers.length && at < end; i++) if (job.modes[i] === INLINE) part(buffers[i]!)
  }

  private descriptorBytes(job: SendJob): Uint8Array {
    const buffers = job.packet.frames.buffers
    const bytes = new ArrayBuffer(buffers.length * DESCRIPTOR_BYTES)
    const i32 = new Int32Array(bytes)
    const f64 = new Float64Array(bytes)
    for (let i = 0; i < buffers.length; i++) {
      const d = i * DESCRIPTOR_BYTES
      i32[d >> 2] = job.modes[i]!
      i32[(d >> 2) + 1] = wireAux(job.modes[i]!, job.aux[i]!)
      f64[(d >> 3) + 1] = buffers[i]!.byteLength
      f64[(d >> 3) + 2] = buffers[i]!.byteOffset
    }
    return new Uint8Array(bytes)
  }

  private writeFragHeader(pos: number, len: number, id: number, offset: number, n: number): void {
    const { i32, f64 } = this.ctx.views
    i32[pos >> 2] = len
    i32[(pos >> 2) + 1] = FRAG
    i32[(pos >> 2) + 2] = id
    i32[(pos >> 2) + 3] = n
    f64[(pos >> 3) + 2] = offset
  }

  private writeControl(c: ControlJob): boolean {
    const { i32, u8 } = this.ctx.views
    if (c.kind === FIN) {
      const pos = this.writer.reserve(FIN_BYTES)
      if (pos < 0) return false
      i32[pos >> 2] = FIN_BYTES
      i32[(pos >> 2) + 1] = FIN
      i32[(pos >> 2) + 2] = c.id
      i32[(pos >> 2) + 3] = 0
      return true
    }
    const source = c.source!
    while (c.sent < source.byteLength) {
      const n = Math.min(this.fragData, source.byteLength - c.sent)
      const len = align8(FRAG_FIXED + n)
      const pos = this.writer.reserve(len)
      if (pos < 0) return false
      this.writeFragHeader(pos, len, c.id, c.sent, n)
      u8.set(source.subarray(c.sent, c.sent + n), pos + FRAG_FIXED)
      c.sent += n
      // Publish every fragment: the receiver copies out while we write the next.
      this.writer.publish()
      this.ctx.notify()
    }
    this.partDone(c.job!)
    return true
  }

  // ---- rendezvous replies ----------------------------------------------------

  private readonly onReply = (kind: number, id: number, offset: number): void => {
    const p = this.rendezvous.get(id)
    if (p === undefined) return
    this.rendezvous.delete(id)
    if (kind === CTS_ARENA) {
      this.ctx.arena.u8.set(p.buffer, offset)
      this.control.push({ kind: FIN, id, source: undefined, sent: 0, job: undefined })
      this.partDone(p.job)
    } else if (kind === CTS_STREAM) {
      this.control.push({ kind: FRAG, id, source: p.buffer, sent: 0, job: p.job })
    } else if (kind === CTS_CANCEL) {
      this.partDone(p.job)
    }
  }

  private partDone(job: SendJob): void {
    job.parts--
    if (job.parts === 0 && job.recordWritten && job.blobSent >= (job.streamed ? job.blobLen : 0)) this.finish(job)
  }

  private hold(job: SendJob): void {
    job.held = true
    this.ctx.pending(1)
  }

  private finish(job: SendJob, failure?: PeerFailure | TransportError): void {
    if (job.finished) return
    job.finished = true
    if (job.held) this.ctx.pending(-1)
    this.ctx.completed()
    job.done(failure)
  }

  private releaseZeroCopy(job: SendJob): void {
    if (!job.zeroCopyHeld) return
    job.zeroCopyHeld = false
    for (let i = 0; i < job.modes.length; i++) if (job.modes[i] === ZERO_COPY) this.ctx.arena.releaseBlock(job.aux[i]!)
  }
}

/** A descriptor's aux word: the rendezvous id, or a zero-copy block in 64-byte units (arenas up to 256 GiB fit). */
const wireAux = (mode: number, aux: number): number => (mode === ZERO_COPY ? aux / 64 : aux)

/** Copies `bytes` to `u8` at `p` and returns the position after them; element stores beat `set` up to ~64 B. */
const put = (u8: Uint8Array, p: number, bytes: Uint8Array): number => {
  const n = bytes.byteLength
  if (n <= 64) for (let i = 0; i < n; i++) u8[p + i] = bytes[i]!
  else u8.set(bytes, p)
  return p + n
}
