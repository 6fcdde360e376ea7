/**
 * The `msgpack` codec's encoder: standard MessagePack, written into the shared
 * header slab (`bytes/Writer.ts`) in one pass.
 *
 * - Numbers: safe integers in the shortest int format (int64 / uint64 beyond
 *   32 bits, so a peer sees an integer), everything else — fractions, NaN,
 *   ±Infinity, −0, integers beyond 2⁵³ — as float64.
 * - Bigints: int64 when negative, else uint64; outside both, a refusal.
 * - Strings: str (WTF-8: a lone surrogate is its 3-byte sequence).
 * - `Uint8Array`: bin. Other typed arrays, `ArrayBuffer`, `DataView`: extension
 *   0x74 (msgpackr's `moreTypes`). `Date`: the timestamp extension (−1).
 *   `ExtData`: itself.
 * - Arrays: array. `Map`: map, each key written as the value it is. Plain
 *   objects and class instances: map of their own enumerable string keys.
 * - `Set`, `WeakMap`, `WeakSet`, `RegExp`, `Error`, `Promise`, invalid `Date`s,
 *   functions and symbols, and containers nested deeper than `MAX_DEPTH`:
 *   `Refused` is thrown; `msgpack.ts` then finds the path and says why.
 *
 * @example
 * ```ts
 * import { Writer } from "./bytes/Writer.ts"
 * import { encodeMsgpack } from "./msgpackEncode.ts"
 *
 * const writer = new Writer()
 * writer.begin()
 * encodeMsgpack(writer, new Map([[1, "int"], ["1", "str"]]))
 * writer.finish() // 82 01 a3 69 6e 74 a1 31 a3 73 74 72
 * ```
 */
import { encodeDateToTimeSpec, encodeTimeSpecToTimestamp, ExtData } from "@msgpack/msgpack"
import * as Datatype from "./Datatype.ts"
import { Refused } from "./unencodable.ts"
import type { DatatypeName } from "./Datatype.ts"
import { type Writer, writeWtf8Short, wtf8Encode } from "./bytes/Writer.ts"

/** Containers nested deeper than this are refused. */
export const MAX_DEPTH = 1000

/** MessagePack's predefined timestamp extension. */
export const EXT_TIMESTAMP = -1
/** The extension type of typed arrays, ArrayBuffer and DataView: msgpackr's `moreTypes` convention ("t"). */
export const EXT_TYPED_ARRAY = 0x74

/**
 * The first data byte of an `EXT_TYPED_ARRAY` extension: the index of the class in
 * msgpackr's list, plus 11 for Float16Array (our addition; msgpackr has none).
 */
export const typedArrayCodes: Readonly<Record<DatatypeName, number>> = {
  int8: 0,
  uint8: 1,
  uint8clamped: 2,
  int16: 3,
  uint16: 4,
  int32: 5,
  uint32: 6,
  float32: 7,
  float64: 8,
  int64: 9,
  uint64: 10,
  float16: 11
}
export const CODE_ARRAY_BUFFER = 16
export const CODE_DATA_VIEW = 17

const MAX_UINT64 = (1n << 64n) - 1n
const MIN_INT64 = -(1n << 63n)


/** Why `value` itself has no MessagePack form in this codec, or undefined when it has one. */
export const refusal = (value: unknown): string | undefined => {
  if (typeof value === "bigint") {
    return value > MAX_UINT64 || value < MIN_INT64
      ? `the bigint ${value} is outside MessagePack's 64-bit integers (int64 and uint64)`
      : undefined
  }
  if (typeof value !== "object" || value === null) return undefined
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? "an invalid Date has no MessagePack timestamp" : undefined
  const kind = value instanceof Set ? "a Set" : value instanceof WeakMap ? "a WeakMap"
    : value instanceof WeakSet ? "a WeakSet" : value instanceof RegExp ? "a RegExp" : value instanceof Error ? "an Error"
    : value instanceof Promise ? "a Promise" : undefined
  return kind === undefined ? undefined : `${kind} has no MessagePack form (convert it, or use the cbor or pickle codec)`
}

let w: Writer

/** Appends `value` as one MessagePack value to `writer`'s message; throws `Refused` for what has no form. */
export const encodeMsgpack = (writer: Writer, value: unknown): void => {
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
      return u8(value ? 0xc3 : 0xc2)
    case "undefined":
      return u8(0xc0)
    case "bigint":
      return bigint(value)
    case "object":
      if (value === null) return u8(0xc0)
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

/** A head byte and a big-endian unsigned integer of `size` bytes (1, 2 or 4). */
const head = (byte: number, size: number, n: number): void => {
  w.ensure(5)
  const buf = w.buf
  let pos = w.pos
  buf[pos++] = byte
  if (size === 4) {
    buf[pos++] = n >>> 24
    buf[pos++] = (n >> 16) & 0xff
  }
  if (size >= 2) buf[pos++] = (n >> 8) & 0xff
  buf[pos++] = n & 0xff
  w.pos = pos
}

/** A container or string head: the fix form below `fixLimit`, else the 8 (strings, bins only), 16 or 32-bit form. */
const sized = (n: number, fix: number, fixLimit: number, b8: number, b16: number, b32: number): void => {
  if (n < fixLimit) u8(fix | n)
  else if (n < 0x100 && b8 !== 0) head(b8, 1, n)
  else if (n < 0x10000) head(b16, 2, n)
  else head(b32, 4, n)
}

const number = (v: number): void => {
  if (Number.isSafeInteger(v) && (v !== 0 || 1 / v > 0)) {
    if (v >= 0) {
      if (v < 0x80) return u8(v)
      if (v < 0x100) return head(0xcc, 1, v)
      if (v < 0x10000) return head(0xcd, 2, v)
      if (v < 0x100000000) return head(0xce, 4, v)
    } else {
      if (v >= -0x20) return u8(v & 0xff)
      if (v >= -0x80) return head(0xd0, 1, v & 0xff)
      if (v >= -0x8000) return head(0xd1, 2, v & 0xffff)
      if (v >= -0x80000000) return head(0xd2, 4, v >>> 0)
    }
    // Beyond 32 bits: int64 / uint64 from the two halves (exact for safe integers).
    w.ensure(9)
    const hi = Math.floor(v / 0x100000000)
    w.buf[w.pos] = v < 0 ? 0xd3 : 0xcf
    w.view.setInt32(w.pos + 1, hi)
    w.view.setUint32(w.pos + 5, v - hi * 0x100000000)
    w.pos += 9
    return
  }
  w.ensure(9)
  w.buf[w.pos] = 0xcb
  w.view.setFloat64(w.pos + 1, v)
  w.pos += 9
}

const bigint = (v: bigint): void => {
  if (v > MAX_UINT64 || v < MIN_INT64) throw new Refused()
  w.ensure(9)
  if (v < 0n) {
    w.buf[w.pos] = 0xd3
    w.view.setBigInt64(w.pos + 1, v)
  } else {
    w.buf[w.pos] = 0xcf
    w.view.setBigUint64(w.pos + 1, v)
  }
  w.pos += 9
}

const textEncoder = new TextEncoder()

const string = (s: string): void => {
  const len = s.length
  if (len < 64) {
    // At most 3 bytes per unit: reserve the head for that bound, then move the bytes if a shorter head fits.
    w.ensure(len * 3 + 2)
    const buf = w.buf
    const at = w.pos
    const reserved = len * 3 < 32 ? 1 : 2
    const end = writeWtf8Short(buf, at + reserved, s)
    const n = end - at - reserved
    if (n < 32) {
      if (reserved === 2) buf.copyWithin(at + 1, at + 2, end)
      buf[at] = 0xa0 | n
      w.pos = at + 1 + n
    } else {
      buf[at] = 0xd9
      buf[at + 1] = n
      w.pos = end
    }
    return
  }
  if (!s.isWellFormed()) {
    const bytes = wtf8Encode(s)
    sized(bytes.length, 0xa0, 32, 0xd9, 0xda, 0xdb)
    return w.bytes(bytes)
  }
  const max = len * 3
  w.ensure(max + 5)
  const at = w.pos
  const { written } = textEncoder.encodeInto(s, w.buf.subarray(at + 5, at + 5 + max))
  sized(written, 0xa0, 32, 0xd9, 0xda, 0xdb)
  const headSize = w.pos - at
  if (headSize < 5) w.buf.copyWithin(at + headSize, at + 5, at + 5 + written)
  w.pos = at + headSize + written
}

const object = (value: object, depth: number): void => {
  if (Array.isArray(value)) {
    const n = value.length
    sized(n, 0x90, 16, 0, 0xdc, 0xdd)
    for (let i = 0; i < n; i++) write(value[i], depth + 1)
    return
  }
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return special(value, depth)
  properties(value, depth)
}

/** A map of `value`'s own enumerable string keys. */
const properties = (value: object, depth: number): void => {
  const keys = Object.keys(value)
  sized(keys.length, 0x80, 16, 0, 0xde, 0xdf)
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!
    string(key)
    write((value as Record<string, unknown>)[key], depth + 1)
  }
}

/** Anything but an array or a plain object. */
const special = (value: object, depth: number): void => {
  if (value instanceof Uint8Array) {
    sized(value.length, 0, 0, 0xc4, 0xc5, 0xc6)
    return w.bytes(value)
  }
  if (value instanceof Map) {
    sized(value.size, 0x80, 16, 0, 0xde, 0xdf)
    for (const [k, v] of value) {
      write(k, depth + 1)
      write(v, depth + 1)
    }
    return
  }
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new Refused()
    return extension(EXT_TIMESTAMP, encodeTimeSpecToTimestamp(encodeDateToTimeSpec(value)))
  }
  if (value instanceof ExtData) {
    const data = value.data
    if (!(data instanceof Uint8Array)) throw new Refused()
    return extension(value.type, data)
  }
  const datatype = Datatype.ofUnknown(value)
  if (datatype !== undefined) return typedArray(typedArrayCodes[datatype.name], value as ArrayBufferView)
  if (value instanceof DataView) return typedArray(CODE_DATA_VIEW, value)
  if (value instanceof ArrayBuffer || (typeof SharedArrayBuffer !== "undefined" && value instanceof SharedArrayBuffer)) {
    return typedArray(CODE_ARRAY_BUFFER, new Uint8Array(value))
  }
  if (refusal(value) !== undefined) throw new Refused()
  // A class instance: its own enumerable properties, as a map (as JSON.stringify does).
  properties(value, depth)
}

/** An extension head for `length` data bytes: fixext 1/2/4/8/16 where one fits, else ext 8/16/32. */
const extensionHead = (type: number, length: number): void => {
  const fix = length === 1 ? 0xd4 : length === 2 ? 0xd5 : length === 4 ? 0xd6 : length === 8 ? 0xd7 : length === 16 ? 0xd8 : 0
  if (fix !== 0) u8(fix)
  else sized(length, 0, 0, 0xc7, 0xc8, 0xc9)
  u8(type & 0xff)
}

const extension = (type: number, data: Uint8Array): void => {
  extensionHead(type, data.length)
  w.bytes(data)
}

/** `[code, ...bytes]` as an `EXT_TYPED_ARRAY` extension, written straight from the array's memory. */
const typedArray = (code: number, view: ArrayBufferView): void => {
  extensionHead(EXT_TYPED_ARRAY, view.byteLength + 1)
  u8(code)
  w.bytes(new Uint8Array(view.buffer, view.byteOffset, view.byteLength))
}
