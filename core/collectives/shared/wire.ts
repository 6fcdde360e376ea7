/**
 * An encoded message as one stream of bytes, for collectives that move
 * messages through a board's slots a chunk at a time:
 *
 *   u32 codec | u32 buffers | u32 header bytes | u32 0 | f64 length of each buffer
 *   | header | each buffer (header and buffers start at multiples of 8)
 *
 * The receiver assembles the stream in private memory and gets the message
 * back with its header and buffers as views of it, aligned so that typed
 * arrays can be made over them.
 */
import { raw } from "../../../codecs/buffer.ts"
import { readVaruint, varuintEnd } from "../../../codecs/bytes/Reader.ts"
import { putVaruint, varuintSize } from "../../../codecs/bytes/Writer.ts"
import type { Datatype, TypedArray } from "../../../codecs/Datatype.ts"
import { decodeError } from "../../../codecs/errors.ts"
import type { Encoded } from "../../messaging/Message.ts"
import { getF64, getU32, putF64, putU32 } from "../../../transports/littleEndian.ts"
import { ownCopy, Slab } from "../../../transports/Slab.ts"

const pad8 = (n: number): number => (n + 7) & ~7

/**
 * Small streams and prefixes are pieces of a slab: a fresh ArrayBuffer costs
 * ~0.5 µs however small (transports/Slab.ts), which every rank paid on each
 * bcast of a small value (the root for its prefix, the others for the
 * stream). A received stream's header stays a view of the slab, as a
 * transport's headers are; its buffers, which a caller may keep, get memory
 * of their own.
 */
const slab = new Slab()

/** What a collective sends as a stream: its length, and its bytes a range at a time. */
export interface Stream {
  readonly length: number
  /** Copies bytes `[from, from + n)` of the stream to `into` at `at` (`view`, where given, over the same memory). */
  copy(from: number, into: Uint8Array, at: number, n: number, view?: DataView): void
}

/** A message to send as a stream. */
export class Outgoing implements Stream {
  /** Bytes of the whole stream. */
  readonly length: number
  private readonly parts: ReadonlyArray<Uint8Array>
  private readonly starts: ReadonlyArray<number>

  constructor(message: Encoded) {
    const { header, buffers } = message.frames
    // Zeroed, and in the slab where small: the stream lives only as long as the call.
    const prefix = slab.take(pad8(16 + 8 * buffers.length + header.byteLength))
    putU32(prefix, 0, message.codec)
    putU32(prefix, 4, buffers.length)
    putU32(prefix, 8, header.byteLength)
    for (let i = 0; i < buffers.length; i++) putF64(prefix, 16 + 8 * i, buffers[i]!.byteLength)
    prefix.set(header, 16 + 8 * buffers.length)
    const parts: Array<Uint8Array> = [prefix]
    const starts: Array<number> = [0]
    let at = prefix.byteLength
    for (const b of buffers) {
      parts.push(b)
      starts.push(at)
      at += pad8(b.byteLength)
    }
    this.parts = parts
    this.starts = starts
    this.length = at
  }

  /** Copies bytes `[from, from + n)` of the stream to `into` at `at`. */
  copy(from: number, into: Uint8Array, at: number, n: number): void {
    const end = from + n
    for (let i = 0; i < this.parts.length; i++) {
      const part = this.parts[i]!
      const start = this.starts[i]!
      const lo = Math.max(from, start)
      const hi = Math.min(end, start + part.byteLength)
      if (lo < hi) into.set(part.subarray(lo - start, hi - start), at + (lo - from))
    }
  }
}

/**
 * A typed array as the stream of its raw message (the bytes `Outgoing` makes
 * of `encodeBuffer(array)`), written straight into a slot when one copy
 * takes it whole: no message, header or prefix objects on the way.
 */
export class RawOutgoing implements Stream {
  readonly length: number
  private readonly array: TypedArray
  private readonly bytes: Uint8Array
  private readonly datatype: Datatype
  private readonly count: number
  private readonly headerBytes: number
  private readonly prefix: number
  private whole: Outgoing | undefined

  constructor(array: TypedArray, datatype: Datatype) {
    this.array = array
    this.bytes = array.constructor === Uint8Array ? array as Uint8Array : new Uint8Array(array.buffer, array.byteOffset, array.byteLength)
    this.datatype = datatype
    this.count = array.length
    this.headerBytes = 1 + varuintSize(array.length)
    this.prefix = pad8(16 + 8 + this.headerBytes)
    this.length = this.prefix + pad8(array.byteLength)
  }

  /** Copies bytes `[from, from + n)` of the stream to `into` at `at` (`view` over the same memory). */
  copy(from: number, into: Uint8Array, at: number, n: number, view?: DataView): void {
    if (from !== 0 || n !== this.length || view === undefined) {
      this.whole ??= new Outgoing({ codec: raw.id, frames: raw.encodeSync(this.array) })
      return this.whole.copy(from, into, at, n)
    }
    view.setUint32(at, raw.id, true)
    view.setUint32(at + 4, 1, true)
    view.setUint32(at + 8, this.headerBytes, true)
    view.setUint32(at + 12, 0, true)
    view.setFloat64(at + 16, this.bytes.byteLength, true)
    into[at + 24] = this.datatype.id
    putVaruint(into, at + 25, this.count)
    into.set(this.bytes, at + this.prefix)
  }
}

/**
 * Copies the raw message of one buffer that a stream of `total` bytes at
 * `at` holds straight into `into`, if it is one (codec raw, one buffer, a
 * header of `into`'s datatype and at most `into.length` elements); returns
 * whether it did. Anything else is left to `Incoming` and the message path,
 * with their checks and errors.
 */
export const takeRawInto = (bytes: Uint8Array, view: DataView, at: number, total: number, into: TypedArray, datatype: Datatype): boolean => {
  if (total < 26 || view.getUint32(at, true) !== raw.id || view.getUint32(at + 4, true) !== 1) return false
  const headerBytes = view.getUint32(at + 8, true)
  const length = view.getFloat64(at + 16, true)
  if (headerBytes < 2 || headerBytes > 11 || bytes[at + 24] !== datatype.id) return false
  const end = at + 24 + headerBytes
  const count = readVaruint(bytes, at + 25, end)
  if (count < 0 || varuintEnd !== end || count > into.length || length !== count * datatype.size) return false
  const start = at + pad8(24 + headerBytes)
  if (start + length > at + total) return false
  const target = into.constructor === Uint8Array ? into as Uint8Array : new Uint8Array(into.buffer, into.byteOffset, length)
  target.set(bytes.subarray(start, start + length))
  return true
}

/** A stream being assembled. */
export class Incoming {
  readonly bytes: Uint8Array
  /** Whether `bytes` is a piece of the shared slab. */
  private readonly pieced: boolean

  constructor(length: number) {
    this.pieced = length <= slab.maxPiece
    this.bytes = this.pieced ? slab.take(length) : new Uint8Array(length)
  }

  /** Puts `n` bytes from `source` at `at` into the stream at `offset`. */
  put(offset: number, source: Uint8Array, at: number, n: number): void {
    this.bytes.set(source.subarray(at, at + n), offset)
  }

  /** The message (throws `DecodeError` for a stream that does not parse). */
  message(): Encoded {
    const bytes = this.bytes
    if (bytes.byteLength < 16) throw bad("too short")
    const codec = getU32(bytes, 0)
    const count = getU32(bytes, 4)
    const headerBytes = getU32(bytes, 8)
    let at = 16 + 8 * count
    if (at + headerBytes > bytes.byteLength) throw bad("the header runs past the end")
    const header = bytes.subarray(at, at + headerBytes)
    at = pad8(at + headerBytes)
    const buffers: Array<Uint8Array> = []
    for (let i = 0; i < count; i++) {
      const n = getF64(bytes, 16 + 8 * i)
      if (!(Number.isInteger(n) && n >= 0 && at + n <= bytes.byteLength)) throw bad(`buffer ${i} runs past the end`)
      buffers.push(this.pieced ? ownCopy(bytes, at, n) : bytes.subarray(at, at + n))
      at = pad8(at + n)
    }
    return { codec, frames: { header, buffers } }
  }
}

/** A stream that does not parse (no closure made per message for it). */
const bad = (why: string) => decodeError("collective stream", 0, why)
