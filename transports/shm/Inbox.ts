/**
 * The receiving side: records from one source's ring become `Arrival`s, and
 * taking an arrival completes its buffers by their path.
 *
 * An arrival's envelope, header and inline buffers are copied out of the ring
 * when it is read (one slice), so the ring moves on whether or not the message
 * is matched yet; those bytes count against the rank's budget for untaken
 * messages, and past it the ring is left undrained (the sender waits).
 * Rendezvous buffers stay with the sender until `take` says where they go:
 * - into arena memory (an `into` buffer from the arena, or a block allocated
 *   here): the sender copies straight there — one copy, and the frame is a
 *   view of the arena;
 * - into private memory (an `into` buffer outside the arena, or a fresh
 *   buffer when the arena is full): the sender streams FRAG records through
 *   the ring, copied out as they come (two copies, pipelined, bounded by the
 *   ring).
 * Zero-copy buffers arrive as views of the sender's arena block (its
 * reference travels with the record).
 */
import type { Frames } from "../../codecs/Codec.ts"
import type { Arrival } from "../Transport.ts"
import { TransportError } from "../Transport.ts"
import type { Arena } from "./Arena.ts"
import type { DataReader, ReplyWriter, RingViews } from "./Ring.ts"
import { ownCopy, pooledCopy, type Recycler, type Slab } from "../Slab.ts"
import {
  CTS_ARENA,
  CTS_CANCEL,
  CTS_STREAM,
  DESCRIPTOR_BYTES,
  FIN,
  FLAG_STREAMED,
  FRAG,
  FRAG_FIXED,
  INLINE,
  MSG,
  MSG_FIXED,
  PAD,
  RDV,
  ZERO_COPY
} from "./Ring.ts"

/** The share of the arena that rendezvous destinations chosen by the transport may fill. */
const AUTO_DESTINATION_SHARE = 0.5

/** A buffer of a local (self-sent) packet, held by reference until taken. */
export const LOCAL = 4

/** Bytes of delivered, untaken messages, against a limit. */
export class Budget {
  used = 0
  /** Set when a ring was left undrained for lack of budget. */
  starved = false
  readonly limit: number
  private readonly onFreed: () => void

  constructor(limit: number, onFreed: () => void) {
    this.limit = limit
    this.onFreed = onFreed
  }

  /** Whether `n` more bytes may be held now (a single message larger than the budget passes when nothing else is held). */
  admits(n: number): boolean {
    if (this.used === 0 || this.used + n <= this.limit) return true
    this.starved = true
    return false
  }

  add(n: number): void {
    this.used += n
  }

  release(n: number): void {
    this.used -= n
    if (this.starved && n > 0) {
      this.starved = false
      this.onFreed()
    }
  }
}

/** What arrivals need from the transport. */
export interface ReceiveContext {
  readonly views: RingViews
  readonly arena: Arena
  readonly budget: Budget
  /** Where envelopes and headers are copied out of the rings. */
  readonly slab: Slab
  /** Where buffers of `pooledCopy` sizes are copied out of the rings, until they are taken. */
  readonly bounce: Recycler
  /** Counts operations that must keep the thread alive (+1 / -1). */
  readonly pending: (delta: number) => void
  /** Counts completions, for `poll`'s answer. */
  readonly completed: () => void
  /** Hands an arrival to core. */
  readonly deliver: (arrival: ShmArrival) => void
  /** Rings rank `r`'s doorbell. */
  readonly notify: (r: number) => void
  /** Reports a broken invariant (a bug): rethrown asynchronously so that it is seen. */
  readonly defect: (error: Error) => void
}

/** The state of a `take` that waits for rendezvous buffers. */
interface Taking {
  readonly frames: Frames
  readonly done: (result: Frames | TransportError) => void
  remaining: number
  failed: boolean
}

/** A rendezvous buffer on its way, or a streamed MSG blob being assembled. */
interface Sink {
  readonly taking: Taking | undefined
  /** Where the bytes go (FRAG); undefined for an arena destination (FIN). */
  readonly target: Uint8Array | undefined
  readonly size: number
  got: number
  /** For a streamed MSG: the record's fields. */
  readonly msg: { readonly envLen: number; readonly headerLen: number; readonly n: number; readonly dataBytes: number } | undefined
}

const EMPTY_NUMBERS: ReadonlyArray<number> = []
const EMPTY_COPIES: ReadonlyArray<Uint8Array | undefined> = []

const misuse = (message: string): TransportError => new TransportError({ transport: "shm", message })

/** An arrived packet (see `Arrival`). */
export class ShmArrival implements Arrival {
  readonly source: number
  readonly envelope: Uint8Array
  readonly header: Uint8Array
  readonly sizes: ReadonlyArray<number>
  private live = true
  private readonly owner: Inbox | undefined
  private readonly ctx: ReceiveContext
  /** Per buffer: INLINE, RDV, ZERO_COPY or LOCAL; undefined when every buffer is inline. */
  private readonly modes: Uint8Array | undefined
  /** Per buffer: a private copy (inline), the sender's buffer (local), or undefined. */
  private readonly copies: ReadonlyArray<Uint8Array | undefined>
  /** Per buffer: rendezvous id or zero-copy block. */
  private readonly aux: ReadonlyArray<number>
  /** Per buffer: byte offset of a zero-copy view in the arena. */
  private readonly offsets: ReadonlyArray<number>
  private readonly budgeted: number
  /** Self-sends of large buffers: the sender's completion, once its buffers were copied (see `holdsSender`). */
  private readonly localDone: (() => void) | undefined
  /** Whether inline copies of `pooledCopy` sizes are pieces of `ctx.bounce`, given back when taken or discarded. */
  private readonly pooled: boolean

  constructor(
    source: number,
    owner: Inbox | undefined,
    ctx: ReceiveContext,
    envelope: Uint8Array,
    header: Uint8Array,
    sizes: ReadonlyArray<number>,
    modes: Uint8Array | undefined,
    copies: ReadonlyArray<Uint8Array | undefined>,
    aux: ReadonlyArray<number>,
    offsets: ReadonlyArray<number>,
    budgeted: number,
    localDone?: () => void,
    pooled = false
  ) {
    this.source = source
    this.owner = owner
    this.ctx = ctx
    this.envelope = envelope
    this.header = header
    this.sizes = sizes
    this.modes = modes
    this.copies = copies
    this.aux = aux
    this.offsets = offsets
    this.budgeted = budgeted
    this.localDone = localDone
    this.pooled = pooled
  }

  /**
   * A self-send whose sender is done only once this arrival is taken or
   * discarded: the sender counts it as pending until then, and the arrival
   * gives the count back, counts the completion and calls the sender's done.
   */
  get holdsSender(): boolean {
    return this.localDone !== undefined
  }

  private releaseSender(): void {
    const done = this.localDone
    if (done === undefined) return
    this.ctx.pending(-1)
    this.ctx.completed()
    done()
  }

  take(into: ReadonlyArray<Uint8Array | undefined> | undefined, done: (result: Frames | TransportError) => void): void {
    if (!this.live) return done(misuse("this message was already taken or discarded"))
    const n = this.sizes.length
    if (into !== undefined) {
      for (let i = 0; i < n; i++) {
        const t = into[i]
        if (t !== undefined && t.byteLength !== this.sizes[i]) {
          return done(misuse(`the destination for buffer ${i} has ${t.byteLength} bytes but the message's buffer has ${this.sizes[i]}`))
        }
      }
    }
    this.live = false
    this.ctx.budget.release(this.budgeted)
    const buffers = new Array<Uint8Array>(n)
    const frames: Frames = { header: this.header, buffers }
    const arena = this.ctx.arena
    let taking: Taking | undefined
    for (let i = 0; i < n; i++) {
      const size = this.sizes[i]!
      const target = into?.[i]
      switch (this.modes === undefined ? INLINE : this.modes[i]) {
        case INLINE: {
          const copy = this.copies[i]!
          // A piece of the bounce memory is given back: a buffer the caller keeps gets memory of its own.
          const piece = this.pooled && pooledCopy(this.ctx.bounce, size)
          if (target === undefined) buffers[i] = piece ? ownCopy(copy, 0, size) : copy
          else {
            target.set(copy)
            buffers[i] = target
          }
          if (piece) this.ctx.bounce.release(copy)
          break
        }
        case ZERO_COPY: {
          const block = this.aux[i]!
          if (target === undefined) buffers[i] = arena.adopt(block, this.offsets[i]!, size)
          else {
            target.set(arena.u8.subarray(this.offsets[i]!, this.offsets[i]! + size))
            arena.releaseBlock(block)
            buffers[i] = target
          }
          break
        }
        case LOCAL: {
          const src = this.copies[i]!
          if (target === undefined) buffers[i] = src.slice()
          else {
            target.set(src)
            buffers[i] = target
          }
          break
        }
        case RDV: {
          taking ??= { frames, done, remaining: 0, failed: false }
          taking.remaining++
          buffers[i] = this.owner!.fetch(this.aux[i]!, size, target, taking)
          break
        }
      }
    }
    this.releaseSender()
    if (taking === undefined) {
      this.ctx.completed()
      return done(frames)
    }
    this.ctx.pending(1)
    this.owner!.fetched(taking)
  }

  discard(): void {
    if (!this.live) return
    this.live = false
    this.ctx.budget.release(this.budgeted)
    for (let i = 0; i < this.sizes.length; i++) {
      const mode = this.modes === undefined ? INLINE : this.modes[i]
      if (mode === ZERO_COPY) this.ctx.arena.releaseBlock(this.aux[i]!)
      else if (mode === RDV) this.owner!.cancel(this.aux[i]!)
      else if (mode === INLINE && this.pooled && pooledCopy(this.ctx.bounce, this.sizes[i]!)) this.ctx.bounce.release(this.copies[i]!)
    }
    this.releaseSender()
  }
}

/**
 * Parses a MSG blob at `at` in `u8`: descriptors, then envelope | header |
 * inline bytes. From a ring (`slab` given) everything is copied out; from an
 * assembled private blob the parts are views of it.
 */
const parse = (
  source: number,
  owner: Inbox,
  ctx: ReceiveContext,
  i32: Int32Array,
  f64: Float64Array,
  u8: Uint8Array,
  at: number,
  n: number,
  envLen: number,
  headerLen: number,
  budgeted: number,
  slab: Slab | undefined
): ShmArrival => {
  let p = at + n * DESCRIPTOR_BYTES
  const envelope = slab === undefined ? u8.subarray(p, p + envLen) : slab.copy(u8, p, envLen)
  p += envLen
  const header = slab === undefined ? u8.subarray(p, p + headerLen) : slab.copy(u8, p, headerLen)
  p += headerLen
  if (n === 0) return new ShmArrival(source, owner, ctx, envelope, header, EMPTY_NUMBERS, undefined, EMPTY_COPIES, EMPTY_NUMBERS, EMPTY_NUMBERS, budgeted)
  const sizes = new Array<number>(n)
  const copies = new Array<Uint8Array | undefined>(n)
  let modes: Uint8Array | undefined
  let aux: Array<number> | undefined
  let offsets: Array<number> | undefined
  let pooled = false
  for (let i = 0; i < n; i++) {
    const d = at + i * DESCRIPTOR_BYTES
    const mode = i32[d >> 2]!
    const size = f64[(d >> 3) + 1]!
    sizes[i] = size
    if (mode === INLINE) {
      // Into a piece of bounce memory where the receive is likely to copy it on into its own array (recvInto); see `take`.
      if (slab === undefined) copies[i] = u8.subarray(p, p + size)
      else if (pooledCopy(ctx.bounce, size)) {
        copies[i] = ctx.bounce.copy(u8, p, size)
        pooled = true
      } else copies[i] = ownCopy(u8, p, size)
      p += size
      continue
    }
    // Not all inline: keep every buffer's mode, id or block, and arena offset (allocated only here).
    if (modes === undefined) {
      modes = new Uint8Array(n).fill(INLINE)
      aux = new Array<number>(n).fill(0)
      offsets = new Array<number>(n).fill(0)
    }
    modes[i] = mode
    aux![i] = mode === ZERO_COPY ? (i32[(d >> 2) + 1]! >>> 0) * 64 : i32[(d >> 2) + 1]!
    offsets![i] = f64[(d >> 3) + 2]!
  }
  return new ShmArrival(source, owner, ctx, envelope, header, sizes, modes, copies, aux ?? EMPTY_NUMBERS, offsets ?? EMPTY_NUMBERS, budgeted, undefined, pooled)
}

/**
 * Builds the arrival of a self-send (no ring). Where the private buffers,
 * with the envelope and header, fit the eager limit they are copied now, as
 * `parse` copies a ring's record (envelope and header into the slab, small
 * buffers into memory of their own, those of `pooledCopy` sizes into bounce
 * pieces given back when taken), and the send is complete. Larger ones are
 * copied when taken, and only then is the sender done (`holdsSender`:
 * `senderDone` is called once the arrival is taken or discarded). Arena
 * buffers are shared. Nothing is allocated for bookkeeping the packet does
 * not need: `slice` on each part, three arrays and a closure per send cost
 * an 8-byte self-send ~0.4 µs, and a 4 KiB one an ArrayBuffer.
 */
export const selfArrival = (
  rank: number,
  ctx: ReceiveContext,
  envelope: Uint8Array,
  frames: Frames,
  eagerLimit: number,
  senderDone: () => void
): ShmArrival => {
  const buffers = frames.buffers
  const n = buffers.length
  const arena = ctx.arena
  // A packet without buffers shares the empty arrays (never written: the loops below do not run).
  const sizes = n === 0 ? EMPTY_NUMBERS as Array<number> : new Array<number>(n)
  const copies = n === 0 ? EMPTY_COPIES as Array<Uint8Array | undefined> : new Array<Uint8Array | undefined>(n)
  // Per-buffer modes, blocks and offsets only for a packet with arena buffers or buffers copied later.
  let modes: Uint8Array | undefined
  let aux: Array<number> | undefined
  let offsets: Array<number> | undefined
  let inlineLen = 0
  for (let i = 0; i < n; i++) {
    const b = buffers[i]!
    sizes[i] = b.byteLength
    const block = b.buffer instanceof SharedArrayBuffer ? arena.blockOf(b) : -1
    if (block < 0) {
      inlineLen += b.byteLength
      continue
    }
    if (modes === undefined) {
      modes = new Uint8Array(n).fill(INLINE)
      aux = new Array<number>(n).fill(0)
      offsets = new Array<number>(n).fill(0)
    }
    arena.retain(block)
    modes[i] = ZERO_COPY
    aux![i] = block
    offsets![i] = b.byteOffset
  }
  const eager = envelope.byteLength + frames.header.byteLength + inlineLen <= eagerLimit
  let pooled = false
  for (let i = 0; i < n; i++) {
    if (modes !== undefined && modes[i] !== INLINE) continue
    const b = buffers[i]!
    const size = b.byteLength
    if (!eager) {
      modes ??= new Uint8Array(n).fill(INLINE)
      modes[i] = LOCAL
      copies[i] = b
    } else if (pooledCopy(ctx.bounce, size)) {
      copies[i] = ctx.bounce.copy(b, 0, size)
      pooled = true
    } else copies[i] = ownCopy(b, 0, size)
  }
  const budgeted = envelope.byteLength + frames.header.byteLength + (eager ? inlineLen : 0)
  ctx.budget.add(budgeted)
  const slab = ctx.slab
  return new ShmArrival(
    rank, undefined, ctx, slab.copy(envelope, 0, envelope.byteLength), slab.copy(frames.header, 0, frames.header.byteLength),
    sizes, modes, copies, aux ?? EMPTY_NUMBERS, offsets ?? EMPTY_NUMBERS, budgeted, eager ? undefined : senderDone, pooled
  )
}

/** The receiving end of one source's ring, and its half of the rendezvous protocol. */
export class Inbox {
  private readonly sinks = new Map<number, Sink>()
  private readonly takings = new Set<Taking>()
  private readonly overflow: Array<number> = []
  private failure: TransportError | undefined

  readonly source: number
  private readonly reader: DataReader
  private readonly replies: ReplyWriter
  private readonly ctx: ReceiveContext

  constructor(source: number, reader: DataReader, replies: ReplyWriter, ctx: ReceiveContext) {
    this.source = source
    this.reader = reader
    this.replies = replies
    this.ctx = ctx
  }

  /**
   * Reads waiting records (as far as the budget allows) and delivers
   * arrivals. Returns false when it stopped after `limit` bytes with more
   * waiting: a sender that keeps writing must not keep this rank from its
   * event loop.
   */
  drain(limit: number): boolean {
    if (this.failure !== undefined) return true
    if (this.overflow.length > 0) this.flushReplies()
    const reader = this.reader
    const { i32, f64, u8 } = this.ctx.views
    const budget = this.ctx.budget
    let read = 0
    while (reader.ready()) {
      if (read >= limit) return false
      const pos = reader.position()
      const w = pos >> 2
      const len = i32[w]!
      const word = i32[w + 1]!
      const type = word & 0xff
      read += len
      if (type === MSG) {
        const envLen = (word >>> 8) & 0xff
        const headerLen = i32[w + 2]!
        const n = i32[w + 3]!
        const blobLen = i32[w + 5]! >>> 0
        const dataBytes = blobLen - n * DESCRIPTOR_BYTES
        if (!budget.admits(dataBytes)) break
        budget.add(dataBytes)
        if (((word >>> 16) & FLAG_STREAMED) !== 0) {
          this.sinks.set(i32[w + 4]!, {
            taking: undefined,
            target: new Uint8Array(new ArrayBuffer((blobLen + 7) & ~7)),
            size: blobLen,
            got: 0,
            msg: { envLen, headerLen, n, dataBytes }
          })
          reader.consume(len)
        } else {
          const arrival = parse(this.source, this, this.ctx, i32, f64, u8, pos + MSG_FIXED, n, envLen, headerLen, dataBytes, this.ctx.slab)
          reader.consume(len)
          this.ctx.deliver(arrival)
        }
      } else if (type === FRAG) {
        const sink = this.sinks.get(i32[w + 2]!)
        const n = i32[w + 3]!
        if (sink !== undefined) {
          sink.target!.set(u8.subarray(pos + FRAG_FIXED, pos + FRAG_FIXED + n), f64[(pos >> 3) + 2]!)
          sink.got += n
        }
        reader.consume(len)
        if (sink !== undefined && sink.got >= sink.size) this.complete(i32[w + 2]!, sink)
      } else if (type === FIN) {
        const id = i32[w + 2]!
        reader.consume(len)
        const sink = this.sinks.get(id)
        if (sink !== undefined) this.complete(id, sink)
      } else if (type === PAD) {
        reader.consume(len)
      } else {
        this.ctx.defect(new Error(`shm: corrupt record (type ${type}, length ${len}) in the ring from rank ${this.source}`))
        return true
      }
      if (reader.writerWaiting()) this.ctx.notify(this.source)
    }
    return true
  }

  /** Fails every pending take from this source (it died); later takes of its rendezvous messages fail too. */
  fail(failure: TransportError): void {
    if (this.failure !== undefined) return
    this.failure = failure
    for (const sink of this.sinks.values()) if (sink.msg !== undefined) this.ctx.budget.release(sink.msg.dataBytes)
    this.sinks.clear()
    this.overflow.length = 0
    for (const taking of this.takings) this.failTaking(taking, failure)
    this.takings.clear()
  }

  /**
   * Arranges for rendezvous buffer `id` to come to `target` (or to memory
   * chosen here) and returns the buffer the frames will hold.
   */
  fetch(id: number, size: number, target: Uint8Array | undefined, taking: Taking): Uint8Array {
    const arena = this.ctx.arena
    let buffer = target
    let offset = -1
    if (target !== undefined) {
      if (arena.blockOf(target) >= 0) offset = target.byteOffset
    } else {
      // Destinations the transport chooses may use only half the arena: the rest stays for `alloc`,
      // since received arrays return their blocks only when garbage-collected or released.
      const block = arena.allocBlock(size, false, AUTO_DESTINATION_SHARE)
      if (block >= 0) {
        offset = arena.payload(block)
        buffer = arena.adopt(block, offset, size)
      } else buffer = new Uint8Array(size)
    }
    if (this.failure !== undefined) return buffer!
    this.sinks.set(id, { taking, target: offset >= 0 ? undefined : buffer, size, got: 0, msg: undefined })
    this.reply(offset >= 0 ? CTS_ARENA : CTS_STREAM, id, offset)
    return buffer!
  }

  /** Called once every rendezvous buffer of a take was requested. */
  fetched(taking: Taking): void {
    if (this.failure !== undefined) return this.failTaking(taking, this.failure)
    this.takings.add(taking)
  }

  /** Tells the sender that rendezvous buffer `id` is not wanted (the message was discarded). */
  cancel(id: number): void {
    if (this.failure === undefined) this.reply(CTS_CANCEL, id, 0)
  }

  private reply(kind: number, id: number, offset: number): void {
    if (this.overflow.length === 0 && this.replies.write(kind, id, offset)) this.ctx.notify(this.source)
    else this.overflow.push(kind, id, offset)
  }

  private flushReplies(): void {
    const o = this.overflow
    let i = 0
    while (i < o.length && this.replies.write(o[i]!, o[i + 1]!, o[i + 2]!)) i += 3
    if (i > 0) {
      o.splice(0, i)
      this.ctx.notify(this.source)
    }
  }

  private complete(id: number, sink: Sink): void {
    this.sinks.delete(id)
    if (sink.msg !== undefined) {
      const { envLen, headerLen, n, dataBytes } = sink.msg
      const blob = sink.target!
      const at = n * DESCRIPTOR_BYTES
      const i32 = new Int32Array(blob.buffer, 0, at / 4)
      const f64 = new Float64Array(blob.buffer, 0, at / 8)
      const arrival = parse(this.source, this, this.ctx, i32, f64, blob, 0, n, envLen, headerLen, dataBytes, undefined)
      this.ctx.deliver(arrival)
      return
    }
    const taking = sink.taking!
    if (taking.failed) return
    taking.remaining--
    if (taking.remaining === 0) {
      this.takings.delete(taking)
      this.ctx.pending(-1)
      this.ctx.completed()
      taking.done(taking.frames)
    }
  }

  private failTaking(taking: Taking, failure: TransportError): void {
    if (taking.failed) return
    taking.failed = true
    // Arena destinations allocated for it are released by the FinalizationRegistry once dropped.
    this.ctx.pending(-1)
    this.ctx.completed()
    taking.done(failure)
  }
}
