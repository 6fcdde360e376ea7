/**
 * The `cbor` codec's encoder: standard CBOR (RFC 8949), written into the shared
 * header slab (`bytes/Writer.ts`) in one pass, with no private extension.
 *
 * - Numbers: safe integers as major type 0/1 with the shortest head (8-byte
 *   heads beyond 32 bits, so a peer sees an integer); everything else —
 *   fractions, NaN, ±Infinity, −0, integers beyond 2⁵³ — as float64 (`fb`).
 * - Bigints: major type 0/1 within ±2⁶⁴, else bignum tags 2 / 3.
 * - Strings: text strings (WTF-8: a lone surrogate is its 3-byte sequence).
 * - Arrays (holes as `undefined`, `f7`); plain objects and class instances:
 *   maps of their own enumerable string keys; `Map`: tag 259 around a map with
 *   keys of any type; `Set`: tag 258 around an array; other iterables:
 *   indefinite-length arrays.
 * - `Date`: tag 1 (whole seconds as an integer, else float64 seconds).
 * - `Uint8Array`, `ArrayBuffer`, `DataView`: byte strings; other typed arrays:
 *   the RFC 8746 tags in native byte order. `Error` / `RegExp`: tag 27.
 *   A `Tag`: its number around its value.
 * - Functions, symbols and containers nested deeper than `MAX_DEPTH`:
 *   `Refused` is thrown; `cbor.ts` then finds the path and says why.
 *
 * @example
 * ```ts
 * import { Writer } from "./bytes/Writer.ts"
 * import { encodeCbor } from "./cborEncode.ts"
 *
 * const writer = new Writer()
 * writer.begin()
 * encodeCbor(writer, { a: 2 ** 40 })
 * writer.finish() // a1 61 61 1b 00 00 01 00 00 00 00 00
 * ```
 */
import { Tag } from "cbor-x"
import * as Datatype from "./Datatype.ts"
import { Refused } from "./unencodable.ts"
import type { DatatypeName } from "./Datatype.ts"
import { type Writer, writeWtf8Short, wtf8Encode } from "./bytes/Writer.ts"

/** Containers (and tags) nested deeper than this are refused. */
export const MAX_DEPTH = 1000


const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/** RFC 8746 tag of each typed array class, in this platform's byte order. */
const typedArrayTags: Readonly<Record<DatatypeName, number>> = (() => {
  const e = littleEndian ? 4 : 0
  return {
    uint8: 64, uint8clamped: 68, int8: 72,
    uint16: 65 + e, uint32: 66 + e, uint64: 67 + e,
    int16: 73 + e, int32: 74 + e, int64: 75 + e,
    float16: 80 + e, float32: 81 + e, float64: 82 + e
  }
})()

let w: Writer

/** Appends `value` as one CBOR item to `writer`'s message; throws `Refused` for what has no form. */
export const encodeCbor = (writer: Writer, value: unknown): void => {
  w = writer
  write(value, 0)
}

const write = (value: unknown, depth: number): void => {
  switch (typeof value) {
    case "number":
      return number(value)
    case "string":
      return string(value)
    case "boolean":
      return u8(value ? 0xf5 : 0xf4)
    case "undefined":
      return u8(0xf7)
    case "bigint":
      return bigint(value)
    case "object":
      if (value === null) return u8(0xf6)
      if (depth >= MAX_DEPTH) throw new Refused()
      return object(value, depth)
    default: // function, symbol
      throw new Refused()
  }
}

const u8 = (b: number): void => {
  if (w.pos >= w.buf.length) w.ensure(1)
  w.buf[w.pos++] = b
}

/** A head: major type `major` (0..7) with the argument `n` (0 ≤ n < 2⁵³) in its shortest form. */
const head = (major: number, n: number): void => {
  w.ensure(9)
  const buf = w.buf
  let pos = w.pos
  const m = major << 5
  if (n < 24) buf[pos++] = m | n
  else if (n < 0x100) {
    buf[pos++] = m | 24
    buf[pos++] = n
  } else if (n < 0x10000) {
    buf[pos++] = m | 25
    buf[pos++] = n >> 8
    buf[pos++] = n & 0xff
  } else if (n < 0x100000000) {
    buf[pos++] = m | 26
    w.view.setUint32(pos, n)
    pos += 4
  } else {
    buf[pos++] = m | 27
    const hi = Math.floor(n / 0x100000000)
    w.view.setUint32(pos, hi)
    w.view.setUint32(pos + 4, n - hi * 0x100000000)
    pos += 8
  }
  w.pos = pos
}

const float64 = (v: number): void => {
  w.ensure(9)
  w.buf[w.pos] = 0xfb
  w.view.setFloat64(w.pos + 1, v)
  w.pos += 9
}

const number = (v: number): void => {
  if (Number.isSafeInteger(v) && (v !== 0 || 1 / v > 0)) {
    if (v >= 0) head(0, v)
    else head(1, -1 - v)
  } else float64(v)
}

const TWO_64 = 1n << 64n

const bigint = (v: bigint): void => {
  if (v >= 0n ? v < TWO_64 : v >= -TWO_64) {
    const n = v >= 0n ? v : -1n - v
    w.ensure(9)
    w.buf[w.pos] = (v >= 0n ? 0 : 0x20) | 27
    w.view.setBigUint64(w.pos + 1, n)
    w.pos += 9
    return
  }
  // A bignum: tag 2 (or 3 for -1 - n) around the magnitude's big-endian bytes.
  const n = v >= 0n ? v : -1n - v
  let hex = n.toString(16)
  if (hex.length % 2 === 1) hex = "0" + hex
  head(6, v >= 0n ? 2 : 3)
  head(2, hex.length / 2)
  w.ensure(hex.length / 2)
  w.buf.set(Buffer.from(hex, "hex"), w.pos)
  w.pos += hex.length / 2
}

const textEncoder = new TextEncoder()

const string = (s: string): void => {
  const len = s.length
  if (len < 64) {
    // At most 3 bytes per unit: reserve the head for that bound, then move the bytes if a shorter head fits.
    w.ensure(len * 3 + 2)
    const buf = w.buf
    const at = w.pos
    const reserved = len * 3 < 24 ? 1 : 2
    const end = writeWtf8Short(buf, at + reserved, s)
    const n = end - at - reserved
    if (n < 24) {
      if (reserved === 2) buf.copyWithin(at + 1, at + 2, end)
      buf[at] = 0x60 | n
      w.pos = at + 1 + n
    } else {
      buf[at] = 0x78
      buf[at + 1] = n
      w.pos = end
    }
    return
  }
  if (!s.isWellFormed()) {
    const bytes = wtf8Encode(s)
    head(3, bytes.length)
    return w.bytes(bytes)
  }
  const max = len * 3
  w.ensure(max + 9)
  const at = w.pos
  const { written } = textEncoder.encodeInto(s, w.buf.subarray(at + 9, at + 9 + max))
  head(3, written)
  const headSize = w.pos - at
  w.buf.copyWithin(at + headSize, at + 9, at + 9 + written)
  w.pos = at + headSize + written
}

const properties = (value: object, depth: number): void => {
  const keys = Object.keys(value)
  head(5, keys.length)
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!
    string(key)
    write((value as Record<string, unknown>)[key], depth + 1)
  }
}

const object = (value: object, depth: number): void => {
  if (Array.isArray(value)) {
    const n = value.length
    head(4, n)
    for (let i = 0; i < n; i++) write(value[i], depth + 1)
    return
  }
  const proto = Object.getPrototypeOf(value)
  if (proto === Object.prototype || proto === null) return properties(value, depth)
  return special(value, depth)
}

const byteString = (view: ArrayBufferView | ArrayBuffer | SharedArrayBuffer): void => {
  const bytes = ArrayBuffer.isView(view) ? new Uint8Array(view.buffer, view.byteOffset, view.byteLength) : new Uint8Array(view)
  head(2, bytes.length)
  w.bytes(bytes)
}

/** Anything but an array or a plain object. */
const special = (value: object, depth: number): void => {
  if (value instanceof Uint8Array && value.constructor !== Uint8ClampedArray) return byteString(value)
  if (value instanceof Map) {
    head(6, 259)
    head(5, value.size)
    for (const [k, v] of value) {
      write(k, depth + 1)
      write(v, depth + 1)
    }
    return
  }
  if (value instanceof Set) {
    head(6, 258)
    head(4, value.size)
    for (const v of value) write(v, depth + 1)
    return
  }
  if (value instanceof Date) {
    const ms = value.getTime()
    head(6, 1)
    return ms % 1000 === 0 ? number(ms / 1000) : float64(ms / 1000)
  }
  const datatype = Datatype.ofUnknown(value)
  if (datatype !== undefined) {
    head(6, typedArrayTags[datatype.name])
    return byteString(value as ArrayBufferView)
  }
  if (value instanceof DataView || value instanceof ArrayBuffer || (typeof SharedArrayBuffer !== "undefined" && value instanceof SharedArrayBuffer)) {
    return byteString(value)
  }
  if (value instanceof Tag) {
    head(6, value.tag)
    return write(value.value, depth + 1)
  }
  if (value instanceof RegExp) {
    head(6, 27)
    return write(["RegExp", value.source, value.flags], depth + 1)
  }
  if (value instanceof Error) {
    head(6, 27)
    return write([value.name, value.message], depth + 1)
  }
  if (typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === "function") {
    u8(0x9f)
    for (const v of value as Iterable<unknown>) write(v, depth + 1)
    return u8(0xff)
  }
  // A class instance: its own enumerable properties, as a map (as JSON.stringify does).
  return properties(value, depth)
}
