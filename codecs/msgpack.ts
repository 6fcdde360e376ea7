/**
 * The `msgpack` codec: standard MessagePack, readable by any MessagePack
 * library in any language. The encoder (`msgpackEncode.ts`) and decoder
 * (`msgpackDecode.ts`) are our own; see docs/codecs-standard.md for the
 * extension types used and what round-trips.
 *
 * - Integers: safe integers as MessagePack ints (int64 / uint64 beyond 32
 *   bits), other numbers as float64; bigints as int64 / uint64. Decoding gives
 *   a number for every integer that fits a safe number and a bigint beyond.
 * - Maps: an object's string keys, a `Map`'s keys of any type. Decoding gives
 *   a plain object when every key is a string, else a `Map`; never a collision.
 * - Dates: the standard timestamp extension (type -1).
 * - `Uint8Array`: bin. Other typed arrays, `ArrayBuffer` and `DataView`: the
 *   extension type 0x74 of msgpackr (`moreTypes`): one byte naming the class,
 *   then the elements' bytes in native (little-endian) order.
 * - `Set`, `RegExp`, `Error`, `WeakMap`, `WeakSet`, `Promise`, invalid
 *   `Date`s: an `EncodeError` naming the path. `undefined` becomes nil (null).
 *
 * Every input is first checked by `scan` below, one pass without allocation:
 * the declared items of all arrays and maps together may not exceed the
 * input's length (each item takes at least one byte), every length must fit in
 * the bytes left, nothing may follow the value, and what decoding will build
 * (DecodeBudget.ts's costs) must fit the message's allowance. Only input that
 * passes reaches the decoder; its remaining errors (a repeated map key, a
 * malformed extension) are `DecodeError`s at the offending value's offset.
 *
 * @example
 * ```ts
 * import { msgpack } from "rankflow/codecs"
 *
 * const frames = msgpack.encodeSync({ a: 1 })   // header: 81 a1 61 01
 * msgpack.decodeSync(frames)                    // { a: 1 }
 * msgpack.decodeSync(msgpack.encodeSync(new Map([[1, "int"], ["1", "str"]])))  // Map { 1 => "int", "1" => "str" }
 * ```
 */
import * as Codec from "./Codec.ts"
import type { Frames } from "./Codec.ts"
import { allowance, Cost, type DecodeOptions, overLimit } from "./DecodeBudget.ts"
import { decodeError, type DecodeError, type EncodeError } from "./errors.ts"
import { decodeMsgpack } from "./msgpackDecode.ts"
import { encodeMsgpack, MAX_DEPTH, refusal } from "./msgpackEncode.ts"
import { register } from "./registry.ts"
import { Writer } from "./bytes/Writer.ts"
import { libraryEncodeFailure } from "./unencodable.ts"

export { EXT_TIMESTAMP, EXT_TYPED_ARRAY, MAX_DEPTH, typedArrayCodes } from "./msgpackEncode.ts"

const NAME = "msgpack"

// ---------------------------------------------------------------------------------------------
// The scan: lengths and item counts against the input, in one pass without allocation.

/** Bytes after the head of fixed-size values, by head byte (0 for heads handled separately). */
const FIXED_SIZE = new Uint8Array(256)
for (const [head, size] of [[0xca, 4], [0xcb, 8], [0xcc, 1], [0xcd, 2], [0xce, 4], [0xcf, 8], [0xd0, 1], [0xd1, 2],
  [0xd2, 4], [0xd3, 8], [0xd4, 2], [0xd5, 3], [0xd6, 5], [0xd7, 9], [0xd8, 17]] as const) FIXED_SIZE[head] = size

const fail = (offset: number, what: string): DecodeError => decodeError(NAME, offset, what)

/** The big-endian unsigned integer of `size` bytes at `pos` (the caller has checked they exist). */
const readLength = (b: Uint8Array, pos: number, size: number): number =>
  size === 1 ? b[pos]! : size === 2 ? (b[pos]! << 8) | b[pos + 1]! : ((b[pos]! << 24) >>> 0) + ((b[pos + 1]! << 16) | (b[pos + 2]! << 8) | b[pos + 3]!)

/** A map of at most this many entries decodes to an object with in-object properties; larger ones to a dictionary. */
const SMALL_MAP = 8

/**
 * Checks that `b` holds exactly one MessagePack value whose lengths fit the
 * input, whose arrays and maps declare no more items than the input has
 * bytes, and whose decoding stays within its allowance; throws a
 * `DecodeError` at the offending offset otherwise.
 */
const scan = (b: Uint8Array, options: DecodeOptions | undefined): void => {
  const end = b.length
  if (end === 0) throw fail(0, "empty input")
  let budget = allowance(end, options)
  let pos = 0
  let outstanding = 1 // items declared and not read yet
  let declared = 1 // items declared so far; each takes at least one byte
  while (outstanding > 0) {
    if (pos >= end) throw fail(pos, "unexpected end of input (truncated)")
    const start = pos
    const head = b[pos++]!
    outstanding--
    let items = 0 // children of an array or map
    let skip = 0 // bytes of payload after the head
    let array = false
    if (head < 0x80 || head >= 0xe0 || (head >= 0xc0 && head <= 0xc3)) {
      if (head === 0xc1) throw fail(start, "the byte 0xc1 is never used in MessagePack")
    } else if (head < 0x90) items = (head & 0x0f) * 2
    else if (head < 0xa0) {
      items = head & 0x0f
      array = true
    } else if (head < 0xc0) {
      skip = head & 0x1f
      budget -= Cost.string + skip
    } else if (FIXED_SIZE[head] !== 0) {
      skip = FIXED_SIZE[head]!
      // 64-bit integers may become bigints; fixext become extensions (typed arrays, timestamps).
      if (head === 0xcf || head === 0xd3) budget -= Cost.bigint
      else if (head >= 0xd4) budget -= Cost.view + Cost.arrayBuffer + skip
    } else {
      // bin/ext/str 8..32, array/map 16..32: a length of 1, 2 or 4 bytes follows
      const size = head === 0xc4 || head === 0xc7 || head === 0xd9 ? 1
        : head === 0xc5 || head === 0xc8 || head === 0xda || head === 0xdc || head === 0xde ? 2 : 4
      if (size > end - pos) throw fail(start, "unexpected end of input in a length (truncated)")
      const n = readLength(b, pos, size)
      pos += size
      if (head === 0xdc || head === 0xdd) {
        items = n
        array = true
      } else if (head === 0xde || head === 0xdf) items = n * 2
      else {
        skip = head >= 0xc7 && head <= 0xc9 ? n + 1 : n // an ext's length leaves out its type byte
        // A bin is a view of the input; a str is built; an ext may be copied to align it.
        budget -= head <= 0xc6 ? Cost.view : head <= 0xc9 ? Cost.view + Cost.arrayBuffer + n : Cost.string + n
      }
    }
    if (skip > end - pos) throw fail(start, `a value of ${skip} bytes but only ${end - pos} left`)
    pos += skip
    if (items > 0) {
      declared += items
      if (declared > end) {
        throw fail(start, `${items} more items declared than the ${end} bytes of input can hold`)
      }
      outstanding += items
    }
    if ((head >= 0x80 && head < 0xa0) || (head >= 0xdc && head <= 0xdf)) {
      const n = array ? items : items / 2
      budget -= array ? Cost.array + Cost.slot * n : n <= SMALL_MAP ? Cost.object + Cost.property * n : Cost.dictionary + Cost.dictionaryEntry * n
    }
    if (budget < 0) throw overLimit(NAME, start, end, options)
  }
  if (pos !== end) throw fail(pos, `${end - pos} trailing bytes after the value`)
}

// ---------------------------------------------------------------------------------------------

const encodeFailure = (value: unknown, e: unknown): EncodeError => libraryEncodeFailure(NAME, value, e, { maxDepth: MAX_DEPTH, check: refusal })

const writer = new Writer()

const encodeSync = (value: unknown): Frames => {
  writer.begin()
  try {
    encodeMsgpack(writer, value)
  } catch (e) {
    writer.abort()
    throw encodeFailure(value, e)
  }
  return { header: writer.finish(), buffers: [] }
}

const decodeSync = (frames: Frames, options: DecodeOptions | undefined): unknown => {
  if (frames.buffers.length !== 0) {
    throw decodeError(NAME, frames.header.byteLength, `expected a header only, got ${frames.buffers.length} out-of-band buffers`)
  }
  const h = frames.header
  // Decoded bins are subarrays of the input: keep them plain Uint8Arrays even when the header is a Buffer.
  const bytes = h.constructor === Uint8Array ? h : new Uint8Array(h.buffer, h.byteOffset, h.byteLength)
  scan(bytes, options)
  return decodeMsgpack(bytes)
}

/**
 * Standard MessagePack; codec id 4.
 *
 * @example
 * ```ts
 * const world2 = yield* world.dup({ codec: "msgpack" })   // every value on it travels as plain MessagePack
 * ```
 */
export const msgpack: Codec.Codec = register(
  Codec.make({ name: NAME, id: Codec.CodecIds.msgpack, encodeSync, decodeSync })
)
