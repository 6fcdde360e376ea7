/**
 * An append-only byte writer for codec headers.
 *
 * Encoding writes into a shared slab and hands out `subarray` views of it: a
 * message costs no allocation and no copy until the slab is full (the trick
 * msgpackr uses). Each `begin()`/`finish()` pair yields a view that stays
 * valid: later messages are written after it, never over it, and a full slab is
 * replaced rather than reused.
 */

const SLAB_SIZE = 64 * 1024
const encoder = new TextEncoder()

export class Writer {
  buf: Uint8Array
  view: DataView
  pos = 0
  private start = 0

  constructor(initial = SLAB_SIZE) {
    this.buf = new Uint8Array(initial)
    this.view = new DataView(this.buf.buffer)
  }

  /** Starts a new message at an 8-byte aligned position. */
  begin(): void {
    const aligned = (this.pos + 7) & ~7
    if (aligned + 256 > this.buf.length) this.replace(SLAB_SIZE, 0)
    else this.pos = this.start = aligned
  }

  /** Where the message being written starts in `buf` (offsets relative to it survive a grow). */
  get messageStart(): number {
    return this.start
  }

  /**
   * Ends the message and returns a view of its bytes. A message that outgrew
   * the slab got a slab of its own, which goes with it: cut to the message's
   * length (`ArrayBuffer.transfer`, usually without a copy) when more than an
   * eighth of it is slack, so that a message held by a pending send keeps no
   * slack alive (1,000 pending isends of 1 MiB strings held 2 MiB each before).
   */
  finish(): Uint8Array {
    const buf = this.buf
    if (this.start === 0 && buf.length > SLAB_SIZE) {
      // The message's own slab goes with it (never reused: the next message starts a fresh one).
      const out = buf.length - this.pos > this.pos / 8 ? new Uint8Array((buf.buffer as ArrayBuffer).transfer(this.pos)) : buf.subarray(0, this.pos)
      this.replace(SLAB_SIZE, 0)
      return out
    }
    // A view made by the constructor: `subarray` looks up the species constructor first (~35 against ~22 ns).
    return new Uint8Array(buf.buffer, this.start, this.pos - this.start)
  }

  /** Abandons the message being written (after an error). */
  abort(): void {
    this.pos = this.start
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n)
  }

  private grow(n: number): void {
    const used = this.pos - this.start
    // Doubling what is written keeps many small writes linear; one large write (a typed array's
    // bytes) gets about its own size, not twice it.
    this.replace(Math.max(SLAB_SIZE, used * 2 + n + 4096), used)
  }

  private replace(size: number, keep: number): void {
    const next = new Uint8Array(size)
    if (keep > 0) next.set(this.buf.subarray(this.start, this.start + keep))
    this.buf = next
    this.view = new DataView(next.buffer)
    this.start = 0
    this.pos = keep
  }

  u8(b: number): void {
    if (this.pos >= this.buf.length) this.grow(1)
    this.buf[this.pos++] = b
  }

  u32(v: number): void {
    this.ensure(4)
    this.view.setUint32(this.pos, v, true)
    this.pos += 4
  }

  f64(v: number): void {
    this.ensure(8)
    this.view.setFloat64(this.pos, v, true)
    this.pos += 8
  }

  /** Unsigned LEB128 for integers in 0..2^53-1. */
  varuint(v: number): void {
    this.ensure(10)
    this.pos = putVaruint(this.buf, this.pos, v)
  }

  /** Zig-zag signed LEB128 for safe integers. */
  varint(v: number): void {
    this.varuint(v < 0 ? -2 * v - 1 : 2 * v)
  }

  /** Unsigned LEB128 for bigints >= 0 of any size. */
  biguint(v: bigint): void {
    while (v >= 0x80n) {
      this.u8(Number(v & 0x7fn) | 0x80)
      v >>= 7n
    }
    this.u8(Number(v))
  }

  bytes(b: Uint8Array): void {
    const n = b.length
    this.ensure(n)
    if (n <= 32) {
      // A few bytes (a cached shape definition): a loop beats TypedArray.prototype.set's call.
      const buf = this.buf
      const pos = this.pos
      for (let i = 0; i < n; i++) buf[pos + i] = b[i]!
    } else this.buf.set(b, this.pos)
    this.pos += n
  }

  /**
   * Writes `s` as WTF-8 (UTF-8 that also carries lone surrogates, so every JS
   * string round-trips) preceded by its byte length as a varuint. Returns the
   * byte length.
   */
  string(s: string): number {
    const len = s.length
    // Short strings: a hand loop beats TextEncoder's call overhead (measured by msgpackr and cbor-x).
    if (len < 64) {
      this.ensure(len * 3 + 2)
      const buf = this.buf
      const lenPos = this.pos
      // one byte of length suffices for < 128 bytes; fixed up below
      const pos = writeWtf8Short(buf, lenPos + 1, s)
      const n = pos - lenPos - 1
      if (n < 0x80) {
        buf[lenPos] = n
        this.pos = pos
      } else {
        // Rare: 128..191 bytes. Shift the bytes right by one to make room for a 2-byte length.
        buf.copyWithin(lenPos + 2, lenPos + 1, pos)
        buf[lenPos] = (n & 0x7f) | 0x80
        buf[lenPos + 1] = n >> 7
        this.pos = pos + 1
      }
      return n
    }
    if (!s.isWellFormed()) {
      return this.stringSlow(s)
    }
    const max = len * 3
    this.ensure(max + 10)
    // Reserve the varuint length at its maximum width for this bound, then write in place.
    const lenBytes = varuintSize(max)
    const at = this.pos
    const { written } = encoder.encodeInto(s, this.buf.subarray(at + lenBytes, at + lenBytes + max))
    const actual = varuintSize(written)
    if (actual < lenBytes) this.buf.copyWithin(at + actual, at + lenBytes, at + lenBytes + written)
    this.pos = at
    this.varuint(written)
    this.pos = at + actual + written
    return written
  }

  private stringSlow(s: string): number {
    const bytes = wtf8Encode(s)
    this.varuint(bytes.length)
    this.bytes(bytes)
    return bytes.length
  }
}

/**
 * Writes `s` as WTF-8 into `buf` at `pos` (the caller has made room for 3
 * bytes per UTF-16 unit), by hand: faster than TextEncoder's call for short
 * strings, as msgpackr and cbor-x measured, and the only way for strings with
 * lone surrogates, which are written as their 3-byte sequences. Returns the
 * position after it.
 */
export const writeWtf8Short = (buf: Uint8Array, pos: number, s: string): number => {
  const len = s.length
  for (let i = 0; i < len; i++) {
    let c = s.charCodeAt(i)
    if (c < 0x80) buf[pos++] = c
    else if (c < 0x800) {
      buf[pos++] = 0xc0 | (c >> 6)
      buf[pos++] = 0x80 | (c & 0x3f)
    } else {
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < len) {
        const d = s.charCodeAt(i + 1)
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00)
          i++
          buf[pos++] = 0xf0 | (c >> 18)
          buf[pos++] = 0x80 | ((c >> 12) & 0x3f)
          buf[pos++] = 0x80 | ((c >> 6) & 0x3f)
          buf[pos++] = 0x80 | (c & 0x3f)
          continue
        }
      }
      buf[pos++] = 0xe0 | (c >> 12)
      buf[pos++] = 0x80 | ((c >> 6) & 0x3f)
      buf[pos++] = 0x80 | (c & 0x3f)
    }
  }
  return pos
}

/**
 * Writes `v` (0..2^53-1) as unsigned LEB128 into `buf` at `pos` (room for
 * `varuintSize(v)` bytes assumed) and returns the position after it.
 *
 * @example
 * ```ts
 * const buf = new Uint8Array(10)
 * putVaruint(buf, 0, 300)   // 2: buf starts 0xac 0x02
 * ```
 */
export const putVaruint = (buf: Uint8Array, pos: number, v: number): number => {
  while (v >= 0x80) {
    buf[pos++] = (v % 0x80) | 0x80
    v = Math.floor(v / 0x80)
  }
  buf[pos++] = v
  return pos
}

export const varuintSize = (v: number): number => {
  let n = 1
  while (v >= 0x80) {
    v = Math.floor(v / 0x80)
    n++
  }
  return n
}

/** WTF-8 encoding of any JS string (lone surrogates as 3-byte sequences). */
export const wtf8Encode = (s: string): Uint8Array => {
  const out = new Uint8Array(s.length * 3)
  return out.subarray(0, writeWtf8Short(out, 0, s))
}
