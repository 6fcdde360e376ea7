/**
 * A bounds-checked byte reader for codec headers. Every read checks the bytes
 * left first, so a corrupt length prefix becomes a `DecodeError` before
 * anything is allocated.
 */
import { decodeError, type DecodeError } from "../errors.ts"

const decoder = new TextDecoder("utf-8")

export class Reader {
  readonly buf: Uint8Array
  pos: number
  readonly end: number
  readonly codec: string

  constructor(codec: string, buf: Uint8Array) {
    this.codec = codec
    this.buf = buf
    this.pos = 0
    this.end = buf.length
  }

  private dataView: DataView | undefined

  /** A DataView over the input, made on first use (most headers never need one; one costs ~100 ns). */
  get view(): DataView {
    return (this.dataView ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength))
  }

  fail(what: string, at: number = this.pos): DecodeError {
    return decodeError(this.codec, at, what)
  }

  get remaining(): number {
    return this.end - this.pos
  }

  /** Throws unless `n` more bytes are available. */
  need(n: number): void {
    if (n > this.end - this.pos) throw this.fail(`needs ${n} bytes, ${this.end - this.pos} left`)
  }

  u8(): number {
    if (this.pos >= this.end) throw this.fail("unexpected end of input")
    return this.buf[this.pos++]!
  }

  u32(): number {
    this.need(4)
    const v = this.view.getUint32(this.pos, true)
    this.pos += 4
    return v
  }

  f64(): number {
    this.need(8)
    const v = this.view.getFloat64(this.pos, true)
    this.pos += 8
    return v
  }

  /** Unsigned LEB128 up to 2^53-1; longer or larger is a DecodeError. */
  varuint(): number {
    const pos = this.pos
    if (pos < this.end) {
      const b = this.buf[pos]!
      if (b < 0x80) {
        this.pos = pos + 1
        return b
      }
    }
    const v = readVaruint(this.buf, pos, this.end)
    if (v < 0) throw this.fail(varuintProblem(v), pos)
    this.pos = varuintEnd
    return v
  }

  varint(): number {
    const v = this.varuint()
    return v % 2 === 0 ? v / 2 : -(v + 1) / 2
  }

  /** Unsigned LEB128 bigint; `maxBytes` bounds the work an input can cause. */
  biguint(maxBytes: number): bigint {
    const start = this.pos
    let result = 0n
    let shift = 0n
    for (let i = 0; ; i++) {
      if (i >= maxBytes) throw this.fail("bigint too long", start)
      const b = this.u8()
      result |= BigInt(b & 0x7f) << shift
      if (b < 0x80) return result
      shift += 7n
    }
  }

  /** A view (no copy) of the next `n` bytes. */
  bytes(n: number): Uint8Array {
    this.need(n)
    const v = this.buf.subarray(this.pos, this.pos + n)
    this.pos += n
    return v
  }

  /** Reads a varuint byte length, then that many bytes of WTF-8. */
  string(): string {
    const n = this.varuint()
    return this.stringOfLength(n)
  }

  stringOfLength(n: number): string {
    this.need(n)
    const buf = this.buf
    const start = this.pos
    const end = start + n
    if (n < 48) {
      // Short strings: a hand loop beats TextDecoder's call overhead.
      let out = ""
      let pos = start
      while (pos < end) {
        const b = buf[pos]!
        if (b < 0x80) {
          out += String.fromCharCode(b)
          pos++
          continue
        }
        return this.stringWtf8(start, end)
      }
      this.pos = end
      return out
    }
    this.pos = end
    return decodeWtf8(buf.subarray(start, end))
  }

  private stringWtf8(start: number, end: number): string {
    this.pos = end
    return wtf8Decode(this.buf.subarray(start, end))
  }
}

/** Where the varint last read by `readVaruint` ended (a module slot, so that reading one allocates nothing). */
export let varuintEnd = 0

const VARUINT_TRUNCATED = -1
const VARUINT_TOO_LONG = -2
const VARUINT_TOO_LARGE = -3

/**
 * Reads an unsigned LEB128 varint of at most 53 bits from `buf[pos, end)`:
 * returns it and sets `varuintEnd`, or returns a negative code for
 * `varuintProblem`. The codecs' readers share it for their multi-byte case.
 */
export const readVaruint = (buf: Uint8Array, pos: number, end: number): number => {
  let result = 0
  let scale = 1
  for (let i = 0; ; i++) {
    if (pos >= end) return VARUINT_TRUNCATED
    if (i >= 8) return VARUINT_TOO_LONG
    const b = buf[pos++]!
    result += (b & 0x7f) * scale
    if (b < 0x80) break
    scale *= 0x80
  }
  if (result > Number.MAX_SAFE_INTEGER) return VARUINT_TOO_LARGE
  varuintEnd = pos
  return result
}

/** What a negative result of `readVaruint` means, for a DecodeError. */
export const varuintProblem = (code: number): string =>
  code === VARUINT_TRUNCATED ? "unexpected end of input in a varint"
  : code === VARUINT_TOO_LONG ? "varint longer than 53 bits"
  : "varint larger than 2^53-1"

/**
 * Decodes WTF-8 at TextDecoder's speed, unless the bytes hold a lone
 * surrogate (ED A0..BF xx), which TextDecoder cannot carry: those are
 * decoded by hand.
 */
export const decodeWtf8 = (bytes: Uint8Array): string => {
  let i = bytes.indexOf(0xed)
  while (i !== -1) {
    const next = bytes[i + 1]
    if (next !== undefined && next >= 0xa0 && next <= 0xbf) return wtf8Decode(bytes)
    i = bytes.indexOf(0xed, i + 1)
  }
  return decoder.decode(bytes)
}

/**
 * Decodes WTF-8 leniently: malformed sequences become U+FFFD (decoding is
 * total), lone surrogates come back as themselves.
 */
export const wtf8Decode = (bytes: Uint8Array): string => {
  const units: Array<number> = []
  let out = ""
  const n = bytes.length
  let i = 0
  while (i < n) {
    const b = bytes[i]!
    let cp = 0xfffd
    if (b < 0x80) {
      cp = b
      i += 1
    } else if (b >= 0xc2 && b < 0xe0 && i + 1 < n && (bytes[i + 1]! & 0xc0) === 0x80) {
      cp = ((b & 0x1f) << 6) | (bytes[i + 1]! & 0x3f)
      i += 2
    } else if (b >= 0xe0 && b < 0xf0 && i + 2 < n && (bytes[i + 1]! & 0xc0) === 0x80 && (bytes[i + 2]! & 0xc0) === 0x80) {
      cp = ((b & 0x0f) << 12) | ((bytes[i + 1]! & 0x3f) << 6) | (bytes[i + 2]! & 0x3f)
      if (cp < 0x800) cp = 0xfffd
      i += 3
    } else if (
      b >= 0xf0 && b < 0xf5 && i + 3 < n && (bytes[i + 1]! & 0xc0) === 0x80 && (bytes[i + 2]! & 0xc0) === 0x80 &&
      (bytes[i + 3]! & 0xc0) === 0x80
    ) {
      cp = ((b & 0x07) << 18) | ((bytes[i + 1]! & 0x3f) << 12) | ((bytes[i + 2]! & 0x3f) << 6) | (bytes[i + 3]! & 0x3f)
      if (cp < 0x10000 || cp > 0x10ffff) cp = 0xfffd
      i += 4
    } else {
      i += 1
    }
    if (cp > 0xffff) {
      cp -= 0x10000
      units.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff))
    } else units.push(cp)
    if (units.length > 4096) {
      out += String.fromCharCode(...units)
      units.length = 0
    }
  }
  return out + String.fromCharCode(...units)
}
