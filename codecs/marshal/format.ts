/**
 * The marshal wire format: one tag byte per value, small values inside the tag.
 *
 * | tag         | value                                                        |
 * | ----------- | ------------------------------------------------------------ |
 * | 0x00–0x7F   | integer 0..127                                               |
 * | 0x80–0x9F   | string of 0..31 WTF-8 bytes, the bytes follow                |
 * | 0xA0–0xAF   | array of 0..15 elements, the elements follow                 |
 * | 0xB0–0xBF   | object of shape 0..15 (defined earlier), its values follow   |
 * | 0xC0–0xDF   | the tags of `Tag` below                                      |
 * | 0xE0–0xFF   | integer -32..-1                                              |
 *
 * Objects are written as a shape (their key list) plus their values in key
 * order. A shape is defined once per message (`Tag.ShapeNew`) and referred to
 * by its index afterwards, and each key string inside shape definitions is
 * written once per message and then referred to by its index; so repeated
 * records cost one byte of structure each. Nothing is shared across messages:
 * every message decodes on its own.
 *
 * All multi-byte numbers are little-endian. See docs/codecs-marshal.md.
 */
import type { TypedArray } from "../Datatype.ts"

export type { TypedArray }

export const FIXSTR = 0x80
export const FIXSTR_MAX = 31
export const FIXARRAY = 0xa0
export const FIXARRAY_MAX = 15
export const FIXSHAPE = 0xb0
export const FIXSHAPE_MAX = 15
export const NEGFIX = 0xe0

export const Tag = {
  Null: 0xc0,
  Undefined: 0xc1,
  False: 0xc2,
  True: 0xc3,
  /** uint8 / uint16 / uint32 follow. */
  Uint8: 0xc4,
  Uint16: 0xc5,
  Uint32: 0xc6,
  /** int8 / int16 / int32 follow. */
  Int8: 0xc7,
  Int16: 0xc8,
  Int32: 0xc9,
  /** A float32 that holds the number exactly. */
  Float32: 0xca,
  Float64: 0xcb,
  /**
   * A short decimal: a zig-zag varint mantissa m; the value is m / 10^k for
   * Decimal1..Decimal4 (k = 1..4). Written only when that division gives back
   * exactly the same double, so 2.72 costs 3 bytes instead of 9.
   */
  Decimal1: 0xcc,
  Decimal2: 0xcd,
  Decimal3: 0xce,
  Decimal4: 0xcf,
  /** varuint byte length, then WTF-8 bytes. */
  String: 0xd0,
  /** varuint element count, then the elements. */
  Array: 0xd1,
  /**
   * Defines the next shape (index = shapes defined so far) and writes an
   * object of it: varuint key count, the keys, then the values. Each key is a
   * string (fixstr or String: a new key, appended to the key table) or an
   * unsigned integer (0x00–0x7F, Uint8, Uint16, Uint32: an index into the key
   * table).
   */
  ShapeNew: 0xd2,
  /** varuint shape index, then the values (shapes 16 and up). */
  Shape: 0xd3,
  /** varuint byte length, then the magnitude's bytes, least significant first. */
  BigPositive: 0xd4,
  BigNegative: 0xd5,
  /** one byte of `TypedKind`, varuint byte length, then the elements' bytes. */
  Typed: 0xd6,
  /**
   * An object of more than 64 keys (a dictionary rather than a record):
   * varuint count, then each key as a string (fixstr or String, not in the
   * key table) followed by its value.
   */
  LargeObject: 0xd7
} as const

/** Typed array classes by their one-byte kind on the wire. */
export const TypedKind = {
  Int8Array: 0,
  Uint8Array: 1,
  Uint8ClampedArray: 2,
  Int16Array: 3,
  Uint16Array: 4,
  Int32Array: 5,
  Uint32Array: 6,
  Float32Array: 7,
  Float64Array: 8,
  BigInt64Array: 9,
  BigUint64Array: 10,
  Float16Array: 11
} as const

export interface TypedArrayClass {
  readonly name: string
  readonly BYTES_PER_ELEMENT: number
  new (buffer: ArrayBuffer): TypedArray
}

/** The typed array classes this runtime has, indexed by `TypedKind` (Float16Array may be missing). */
export const typedClasses: ReadonlyArray<TypedArrayClass | undefined> = (() => {
  const g = globalThis as unknown as Record<string, TypedArrayClass | undefined>
  const out: Array<TypedArrayClass | undefined> = []
  for (const [name, kind] of Object.entries(TypedKind)) out[kind] = g[name]
  return out
})()

/**
 * Containers nest at most this deep (Python's marshal stops at 2000). The
 * encoder and decoder are recursive, two frames a level: measured, 2000
 * levels took about half of Node's main-thread stack, 1000 leaves room for a
 * deep caller. A cycle is reported when the ancestor chain reaches this depth.
 */
export const MAX_DEPTH = 1000

/** BigInts are at most this many bytes (V8's own limit is 2^30 bits). */
export const MAX_BIGINT_BYTES = 1 << 27

export const POW10: ReadonlyArray<number> = [1, 10, 100, 1000, 10000]

/** Whether typed array bytes are little-endian in memory here (every current platform). */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/** Reverses each element's bytes in place (big-endian hosts only). */
export const swapBytes = (buf: Uint8Array, start: number, n: number, size: number): void => {
  if (size === 1) return
  for (let i = start; i < start + n; i += size) buf.subarray(i, i + size).reverse()
}
