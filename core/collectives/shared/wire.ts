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
import { decodeError } from "../../../codecs/errors.ts"
import type { Encoded } from "../../messaging/Message.ts"

const pad8 = (n: number): number => (n + 7) & ~7

/** A message to send as a stream. */
export class Outgoing {
  /** Bytes of the whole stream. */
  readonly length: number
  private readonly parts: ReadonlyArray<Uint8Array>
  private readonly starts: ReadonlyArray<number>

  constructor(message: Encoded) {
    const { header, buffers } = message.frames
    const prefix = new Uint8Array(pad8(16 + 8 * buffers.length + header.byteLength))
    const view = new DataView(prefix.buffer)
    view.setUint32(0, message.codec, true)
    view.setUint32(4, buffers.length, true)
    view.setUint32(8, header.byteLength, true)
    for (let i = 0; i < buffers.length; i++) view.setFloat64(16 + 8 * i, buffers[i]!.byteLength, true)
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

/** A stream being assembled. */
export class Incoming {
  readonly bytes: Uint8Array

  constructor(length: number) {
    this.bytes = new Uint8Array(length)
  }

  /** Puts `n` bytes from `source` at `at` into the stream at `offset`. */
  put(offset: number, source: Uint8Array, at: number, n: number): void {
    this.bytes.set(source.subarray(at, at + n), offset)
  }

  /** The message (throws `DecodeError` for a stream that does not parse). */
  message(): Encoded {
    const bytes = this.bytes
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const bad = (why: string) => decodeError("collective stream", 0, why)
    if (bytes.byteLength < 16) throw bad("too short")
    const codec = view.getUint32(0, true)
    const count = view.getUint32(4, true)
    const headerBytes = view.getUint32(8, true)
    let at = 16 + 8 * count
    if (at + headerBytes > bytes.byteLength) throw bad("the header runs past the end")
    const header = bytes.subarray(at, at + headerBytes)
    at = pad8(at + headerBytes)
    const buffers: Array<Uint8Array> = []
    for (let i = 0; i < count; i++) {
      const n = view.getFloat64(16 + 8 * i, true)
      if (!(Number.isInteger(n) && n >= 0 && at + n <= bytes.byteLength)) throw bad(`buffer ${i} runs past the end`)
      buffers.push(bytes.subarray(at, at + n))
      at = pad8(at + n)
    }
    return { codec, frames: { header, buffers } }
  }
}
