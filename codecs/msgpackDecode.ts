/**
 * The `msgpack` codec's decoder: builds JS values from MessagePack that
 * `msgpack.ts`'s scan has already checked (every length within the input, the
 * items of all arrays and maps together no more than the input's bytes, nothing
 * after the value). It never recurses: open arrays and maps are frames on an
 * explicit stack and their items wait on `standardMaps.ts`'s shared stack (`Items`), so
 * nesting 100,000 deep decodes in linear time.
 *
 * What it makes of each value (docs/codecs-standard.md has the whole table):
 * - integers that fit a safe JS number (|n| ≤ 2⁵³ − 1) are numbers, whatever
 *   format carried them (int64 and uint64 included); larger ones are bigints;
 * - a map whose keys are all strings is a plain object, any other map a `Map`
 *   with the keys' own types; a repeated key is a `DecodeError`;
 * - bin is a `Uint8Array` view of the input; extension −1 a `Date`; extension
 *   0x74 a typed array, `ArrayBuffer` or `DataView`; any other extension `ExtData`.
 *
 * @example
 * ```ts
 * import { decodeMsgpack } from "./msgpackDecode.ts"
 *
 * decodeMsgpack(Uint8Array.of(0x82, 0x01, 0xa1, 0x78, 0xa1, 0x31, 0xa1, 0x79)) // Map { 1 => "x", "1" => "y" }
 * ```
 */
import { decodeTimestampExtension, ExtData } from "@msgpack/msgpack"
import { float32, float64 } from "./bytes/bigEndian.ts"
import { keyOf } from "./bytes/keyCache.ts"
import { decodeString } from "./bytes/strings.ts"
import * as Datatype from "./Datatype.ts"
import type { TypedArrayConstructor } from "./Datatype.ts"
import { decodeError } from "./errors.ts"
import { CODE_ARRAY_BUFFER, CODE_DATA_VIEW, EXT_TIMESTAMP, EXT_TYPED_ARRAY, typedArrayCodes } from "./msgpackEncode.ts"
import { buildArray, buildMap, Items, push, reset } from "./standardMaps.ts"

const NAME = "msgpack"

const ctorByCode: Array<TypedArrayConstructor | undefined> = new Array(32).fill(undefined)
for (const d of Datatype.all) ctorByCode[typedArrayCodes[d.name]] = d.ctor

// The open containers, innermost last: kind (for a map, whether a key or a value comes next),
// items still to read, where their items start on `Items`, whether every key so far is a
// string, and the offset of their head (for errors).
const ARRAY = 0
const MAP_VALUE = 1
const MAP_KEY = 2
let kinds = new Uint8Array(64)
let left = new Float64Array(64)
let bases = new Float64Array(64)
let stringKeys = new Uint8Array(64)
let starts = new Float64Array(64)

const grow = (): void => {
  const size = kinds.length * 2
  const more = <T extends Uint8Array | Float64Array>(a: T): T => {
    const next = new (a.constructor as new (n: number) => T)(size)
    next.set(a)
    return next
  }
  kinds = more(kinds)
  left = more(left)
  bases = more(bases)
  stringKeys = more(stringKeys)
  starts = more(starts)
}

let b: Uint8Array = new Uint8Array(0)
/** The unsigned 32-bit big-endian integer at `at`. */
const u32 = (at: number): number => ((b[at]! << 24) >>> 0) + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!)

/** A 64-bit integer at `at` (`hi` read signed or not): a number when safe, else a bigint. */
const int64 = (at: number, signed: boolean): number | bigint => {
  const hi = signed ? u32(at) | 0 : u32(at)
  const n = hi * 0x100000000 + u32(at + 4)
  if (Number.isSafeInteger(n)) return n
  const view = new DataView(b.buffer, b.byteOffset + at, 8)
  return signed ? view.getBigInt64(0) : view.getBigUint64(0)
}

/** Decodes one scanned MessagePack value (the whole input). */
export const decodeMsgpack = (input: Uint8Array): unknown => {
  b = input
  try {
    return run()
  } finally {
    b = EMPTY
    reset()
  }
}
const EMPTY = new Uint8Array(0)

const run = (): unknown => {
  let pos = 0
  let depth = 0
  for (;;) {
    const start = pos
    const h = b[pos++]!
    let value: unknown
    let n = -1 // items of an array or map head
    let isMap = false
    if (h < 0x80) value = h
    else if (h < 0x90) {
      n = (h & 0x0f) * 2
      isMap = true
    } else if (h < 0xa0) n = h & 0x0f
    else if (h < 0xc0) {
      const len = h & 0x1f
      value = depth > 0 && kinds[depth - 1] === MAP_KEY ? keyOf(b, pos, len) : decodeString(b, pos, len)
      pos += len
    } else if (h >= 0xe0) value = h - 0x100
    else {
      switch (h) {
        case 0xc0:
          value = null
          break
        case 0xc2:
          value = false
          break
        case 0xc3:
          value = true
          break
        case 0xc4:
        case 0xc5:
        case 0xc6: {
          const size = h === 0xc4 ? 1 : h === 0xc5 ? 2 : 4
          const len = length(pos, size)
          pos += size
          value = b.subarray(pos, pos + len)
          pos += len
          break
        }
        case 0xc7:
        case 0xc8:
        case 0xc9: {
          const size = h === 0xc7 ? 1 : h === 0xc8 ? 2 : 4
          const len = length(pos, size)
          pos += size
          value = extension(b[pos]! << 24 >> 24, b.subarray(pos + 1, pos + 1 + len), start)
          pos += 1 + len
          break
        }
        case 0xca:
          value = float32(b, pos)
          pos += 4
          break
        case 0xcb:
          value = float64(b, pos)
          pos += 8
          break
        case 0xcc:
          value = b[pos++]!
          break
        case 0xcd:
          value = (b[pos]! << 8) | b[pos + 1]!
          pos += 2
          break
        case 0xce:
          value = u32(pos)
          pos += 4
          break
        case 0xcf:
        case 0xd3:
          value = int64(pos, h === 0xd3)
          pos += 8
          break
        case 0xd0:
          value = b[pos++]! << 24 >> 24
          break
        case 0xd1:
          value = ((b[pos]! << 8) | b[pos + 1]!) << 16 >> 16
          pos += 2
          break
        case 0xd2:
          value = u32(pos) | 0
          pos += 4
          break
        case 0xd4:
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8: {
          const len = 1 << (h - 0xd4)
          value = extension(b[pos]! << 24 >> 24, b.subarray(pos + 1, pos + 1 + len), start)
          pos += 1 + len
          break
        }
        case 0xd9:
        case 0xda:
        case 0xdb: {
          const size = h === 0xd9 ? 1 : h === 0xda ? 2 : 4
          const len = length(pos, size)
          pos += size
          value = depth > 0 && kinds[depth - 1] === MAP_KEY ? keyOf(b, pos, len) : decodeString(b, pos, len)
          pos += len
          break
        }
        default: {
          // 0xdc..0xdf: array and map 16 / 32 (0xc1 never passes the scan)
          const size = h <= 0xdc || h === 0xde ? 2 : 4
          n = length(pos, size)
          pos += size
          isMap = h >= 0xde
          if (isMap) n *= 2
        }
      }
    }
    if (n === 0) value = isMap ? {} : []
    else if (n > 0) {
      if (depth === kinds.length) grow()
      kinds[depth] = isMap ? MAP_KEY : ARRAY
      left[depth] = n
      bases[depth] = Items.top
      stringKeys[depth] = 1
      starts[depth] = start
      depth++
      continue
    }
    // A complete value: hand it to the open container, closing every container it completes.
    for (;;) {
      if (depth === 0) return value
      const d = depth - 1
      const kind = kinds[d]!
      if (kind !== ARRAY) {
        if (kind === MAP_KEY && typeof value !== "string") stringKeys[d] = 0
        kinds[d] = kind === MAP_KEY ? MAP_VALUE : MAP_KEY
      }
      push(value)
      if (--left[d]! > 0) break
      value = kind !== ARRAY ? buildMap(bases[d]!, stringKeys[d] === 1, NAME, starts[d]!) : buildArray(bases[d]!)
      depth = d
    }
  }
}

/** The big-endian length of `size` bytes (1, 2 or 4) at `at`. */
const length = (at: number, size: number): number =>
  size === 1 ? b[at]! : size === 2 ? (b[at]! << 8) | b[at + 1]! : u32(at)

const extension = (type: number, data: Uint8Array, start: number): unknown => {
  if (type === EXT_TIMESTAMP) {
    try {
      return decodeTimestampExtension(data)
    } catch (e) {
      throw decodeError(NAME, start, e instanceof Error ? e.message : String(e))
    }
  }
  if (type !== EXT_TYPED_ARRAY) return new ExtData(type, data)
  if (data.length === 0) throw decodeError(NAME, start, "an ext 0x74 (typed array) without its class byte")
  const code = data[0]!
  const bytes = data.subarray(1)
  if (code === CODE_ARRAY_BUFFER) return bytes.slice().buffer
  if (code === CODE_DATA_VIEW) return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const ctor = ctorByCode[code]
  if (ctor === undefined) throw decodeError(NAME, start, `ext 0x74 (typed array) with unknown class byte ${code}`)
  const size = ctor.BYTES_PER_ELEMENT
  if (bytes.length % size !== 0) {
    throw decodeError(NAME, start, `ext 0x74 holds ${ctor.name} (${size}-byte elements) but has ${bytes.length} bytes`)
  }
  if (bytes.byteOffset % size === 0) return new ctor(bytes.buffer, bytes.byteOffset, bytes.length / size)
  return new ctor(bytes.slice().buffer) // a typed array view must be aligned: copy
}
