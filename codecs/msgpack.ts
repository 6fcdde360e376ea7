/**
 * The `msgpack` codec: standard MessagePack through @msgpack/msgpack, readable
 * by any MessagePack library in any language. See docs/codecs-standard.md for
 * the extension types used and what round-trips.
 *
 * - Integers: JS numbers up to 32 bits as MessagePack ints, larger ones and
 *   fractions as float64 (so they come back as numbers); bigints as int64 /
 *   uint64 (so they come back as bigints). A bigint outside both ranges is an
 *   `EncodeError`: MessagePack has no wider integer and no standard extension.
 * - Dates: the standard timestamp extension (type -1).
 * - `Uint8Array`: bin. Other typed arrays, `ArrayBuffer` and `DataView`: the
 *   extension type 0x74 of msgpackr (`moreTypes`): one byte naming the class,
 *   then the elements' bytes in native (little-endian) order.
 * - `Map`, `Set`, `RegExp`, `Error`, `WeakMap`, `WeakSet`, `Promise`, invalid
 *   `Date`s: an `EncodeError` naming the path, rather than the empty map the
 *   library would write. `undefined` becomes nil (null).
 *
 * @msgpack/msgpack decodes iteratively (no recursion, so no depth limit is
 * needed) and checks string, bin and ext lengths against the bytes left, but
 * it preallocates `new Array(count)` for any array count it reads: a 10 KB
 * input of nested `array 32` heads made it allocate gigabytes and crash the
 * process. So every input is first checked by `scan` below, one pass without
 * allocation: the declared items of all arrays and maps together may not
 * exceed the input's length (each item takes at least one byte), every length
 * must fit in the bytes left, nothing may follow the value, and what decoding
 * will build (DecodeBudget.ts's costs) must fit the message's allowance. Only
 * input that passes reaches the library; its remaining errors (an unusable map key,
 * a malformed extension) become `DecodeError`s at the library's offset.
 *
 * @example
 * ```ts
 * import { msgpack } from "rankflow/codecs"
 *
 * const frames = msgpack.encodeSync({ a: 1 })   // header: 81 a1 61 01
 * msgpack.decodeSync(frames)                    // { a: 1 }
 * ```
 */
import {
  DecodeError as LibraryDecodeError,
  decodeTimestampExtension,
  Decoder,
  encodeDateToTimeSpec,
  encodeTimeSpecToTimestamp,
  Encoder,
  ExtData,
  type ExtensionCodecType
} from "@msgpack/msgpack"
import * as Codec from "./Codec.ts"
import type { Frames } from "./Codec.ts"
import * as Datatype from "./Datatype.ts"
import type { DatatypeName, TypedArrayConstructor } from "./Datatype.ts"
import { allowance, Cost, type DecodeOptions, overLimit } from "./DecodeBudget.ts"
import { DecodeError, decodeError, type EncodeError } from "./errors.ts"
import { register } from "./registry.ts"
import { Writer } from "./bytes/Writer.ts"
import { describeThrown, libraryEncodeFailure } from "./unencodable.ts"

const NAME = "msgpack"

/** Values nested deeper than this are an `EncodeError`. */
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
const CODE_ARRAY_BUFFER = 16
const CODE_DATA_VIEW = 17

const ctorByCode: Array<TypedArrayConstructor | undefined> = new Array(32).fill(undefined)
for (const d of Datatype.all) ctorByCode[typedArrayCodes[d.name]] = d.ctor

const MAX_UINT64 = (1n << 64n) - 1n
const MIN_INT64 = -(1n << 63n)

/** Why `value` has no MessagePack form in this codec, or undefined when it has one. */
const refusal = (value: unknown): string | undefined => {
  if (typeof value === "bigint") {
    return value > MAX_UINT64 || value < MIN_INT64
      ? `the bigint ${value} is outside MessagePack's 64-bit integers (int64 and uint64)`
      : undefined
  }
  if (typeof value !== "object" || value === null) return undefined
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? "an invalid Date has no MessagePack timestamp" : undefined
  const kind = value instanceof Map ? "a Map" : value instanceof Set ? "a Set" : value instanceof WeakMap ? "a WeakMap"
    : value instanceof WeakSet ? "a WeakSet" : value instanceof RegExp ? "a RegExp" : value instanceof Error ? "an Error"
    : value instanceof Promise ? "a Promise" : undefined
  return kind === undefined ? undefined : `${kind} has no MessagePack form (convert it, or use the cbor or pickle codec)`
}

/** Thrown out of the library when a value has no MessagePack form; the path is found afterwards. */
class Refused extends Error {}

/** `[code, ...bytes]`: the data of an EXT_TYPED_ARRAY extension. */
const typedArrayData = (code: number, view: ArrayBufferView | Uint8Array): Uint8Array => {
  const data = new Uint8Array(view.byteLength + 1)
  data[0] = code
  data.set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength), 1)
  return data
}

const extensions: ExtensionCodecType<undefined> = {
  // Called by the library for every non-primitive it encodes, before its own arrays and maps.
  tryToEncode(object: unknown): ExtData | null {
    if (typeof object !== "object" || object === null || Array.isArray(object)) return null
    const proto = Object.getPrototypeOf(object)
    if (proto === Object.prototype || proto === null) return null
    if (object instanceof ExtData) return object // an extension decoded as ExtData is written back as it came
    if (object instanceof Date) {
      if (Number.isNaN(object.getTime())) throw new Refused()
      return new ExtData(EXT_TIMESTAMP, encodeTimeSpecToTimestamp(encodeDateToTimeSpec(object)))
    }
    const datatype = Datatype.ofUnknown(object)
    if (datatype !== undefined) {
      // A Uint8Array is MessagePack's own bin.
      return datatype.name === "uint8" ? null : new ExtData(EXT_TYPED_ARRAY, typedArrayData(typedArrayCodes[datatype.name], object as ArrayBufferView))
    }
    if (object instanceof DataView) return new ExtData(EXT_TYPED_ARRAY, typedArrayData(CODE_DATA_VIEW, object))
    if (object instanceof ArrayBuffer || (typeof SharedArrayBuffer !== "undefined" && object instanceof SharedArrayBuffer)) {
      return new ExtData(EXT_TYPED_ARRAY, typedArrayData(CODE_ARRAY_BUFFER, new Uint8Array(object)))
    }
    if (refusal(object) !== undefined) throw new Refused()
    return null // a class instance: its own enumerable properties, as a map (as JSON.stringify does)
  },
  decode(data: Uint8Array, type: number): unknown {
    if (type === EXT_TIMESTAMP) return decodeTimestampExtension(data)
    if (type !== EXT_TYPED_ARRAY) return new ExtData(type, data)
    if (data.length === 0) throw new LibraryDecodeError("an ext 0x74 (typed array) without its class byte")
    const code = data[0]!
    const bytes = data.subarray(1)
    if (code === CODE_ARRAY_BUFFER) return bytes.slice().buffer
    if (code === CODE_DATA_VIEW) return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const ctor = ctorByCode[code]
    if (ctor === undefined) throw new LibraryDecodeError(`ext 0x74 (typed array) with unknown class byte ${code}`)
    const size = ctor.BYTES_PER_ELEMENT
    if (bytes.length % size !== 0) {
      throw new LibraryDecodeError(`ext 0x74 holds ${ctor.name} (${size}-byte elements) but has ${bytes.length} bytes`)
    }
    if (bytes.byteOffset % size === 0) return new ctor(bytes.buffer, bytes.byteOffset, bytes.length / size)
    return new ctor(bytes.slice().buffer) // a typed array view must be aligned: copy
  }
}

const encoder = new Encoder({
  extensionCodec: extensions,
  useBigInt64: true, // bigint <-> int64/uint64; numbers above 32 bits are written as float64
  maxDepth: MAX_DEPTH + 1, // the library counts the leaves inside the deepest container too
  sortKeys: false,
  forceFloat32: false,
  ignoreUndefined: false,
  forceIntegerToFloat: false
})

// The library writes a bigint with DataView.setBigUint64/setBigInt64, which wrap silently
// modulo 2^64. Its only hook for bigints is this method (private in its typings), so guard it.
// (A re-entrant encode, from a getter that itself encodes, runs on an unguarded clone.)
const writeBigInt64 = encoder["encodeBigInt64"].bind(encoder)
encoder["encodeBigInt64"] = (value: bigint): void => {
  if (value > MAX_UINT64 || value < MIN_INT64) throw new Refused()
  writeBigInt64(value)
}

const decoder = new Decoder({
  extensionCodec: extensions,
  useBigInt64: true,
  // Map keys become property names: strings and numbers as they are, int64 keys as their digits.
  mapKeyConverter: (key: unknown): string | number => {
    if (typeof key === "string" || typeof key === "number") return key
    if (typeof key === "bigint") return String(key)
    throw new LibraryDecodeError(`a map key must be a string or a number, got ${key === null ? "nil" : typeof key}`)
  }
})

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
      // 64-bit integers become bigints; fixext become extensions (typed arrays, timestamps).
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

/** Headers up to this size are copied into a shared slab; larger ones get their own buffer. */
const SLAB_COPY_LIMIT = 16 * 1024
const writer = new Writer()

const encodeSync = (value: unknown): Frames => {
  let shared: Uint8Array
  try {
    shared = encoder.encodeSharedRef(value)
  } catch (e) {
    throw encodeFailure(value, e)
  }
  // `shared` is the encoder's own buffer, written over by the next encode, and frames may be
  // held by a pending send: copy once, into a slab (no allocation) when small.
  if (shared.length > SLAB_COPY_LIMIT) return { header: shared.slice(), buffers: [] }
  writer.begin()
  writer.bytes(shared)
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
  try {
    return decoder.decode(bytes)
  } catch (e) {
    // Past the scan, the library fails only on meaning: a map key, an extension's content.
    throw decodeError(NAME, decoder["pos"], describeThrown(e))
  }
}

/**
 * Standard MessagePack through @msgpack/msgpack; codec id 4.
 *
 * @example
 * ```ts
 * const world2 = yield* world.dup({ codec: "msgpack" })   // every value on it travels as plain MessagePack
 * ```
 */
export const msgpack: Codec.Codec = register(
  Codec.make({ name: NAME, id: Codec.CodecIds.msgpack, encodeSync, decodeSync })
)
