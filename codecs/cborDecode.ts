/**
 * The `cbor` codec's decoder: builds JS values from CBOR that `cbor.ts`'s scan
 * has already checked (well-formed, nesting at most `MAX_DEPTH`, lengths within
 * the input, the content of the tags read here of the right shape), so it
 * recurses at most 1000 levels and never reads past the input.
 *
 * What it makes of each item (docs/codecs-standard.md has the whole table):
 * - integers that fit a safe JS number (|n| ≤ 2⁵³ − 1) are numbers, whatever
 *   head or bignum tag carried them; larger ones are bigints;
 * - a map whose keys are all text strings is a plain object, any other map a
 *   `Map` with the keys' own types (`standardMaps.ts`); tag 259 is always a `Map`;
 * - byte strings and aligned native-order typed arrays are views of the input;
 * - tags 0/1 (dates), 2/3 (bignums), 27 (`Error`, `RegExp`), 64–87 (typed
 *   arrays), 258 (`Set`), 259 (`Map`) and 55799 (self-described CBOR) are
 *   read; any other tag is a `Tag`.
 *
 * @example
 * ```ts
 * import { decodeCbor } from "./cborDecode.ts"
 *
 * decodeCbor(Uint8Array.of(0xa2, 0x01, 0x61, 0x78, 0x61, 0x31, 0x61, 0x79)) // Map { 1 => "x", "1" => "y" }
 * ```
 */
import { Tag } from "cbor-x"
import { float32, float64 } from "./bytes/bigEndian.ts"
import { keyOf } from "./bytes/keyCache.ts"
import { decodeString } from "./bytes/strings.ts"
import { decodeError } from "./errors.ts"
import { buildArray, buildMap, Items, pairsFromObject, push, reset, setProperty } from "./standardMaps.ts"

const NAME = "cbor"
const BREAK = 0xff

let b: Uint8Array = new Uint8Array(0)
let pos = 0

type TypedArrayClass = new (buffer: ArrayBufferLike, byteOffset?: number, length?: number) => ArrayBufferView
const Float16 = (globalThis as { Float16Array?: TypedArrayClass }).Float16Array
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/** RFC 8746: the class of each typed-array tag 64..87 (undefined: reserved or float128, left a `Tag`). */
const typedArrayClasses: Array<TypedArrayClass | undefined> = (() => {
  const classes: Array<TypedArrayClass | undefined> = []
  const unsigned = [Uint8Array, Uint16Array, Uint32Array, BigUint64Array]
  const signed = [Int8Array, Int16Array, Int32Array, BigInt64Array]
  const floats = [Float16, Float32Array, Float64Array, undefined]
  for (let tag = 64; tag <= 87; tag++) {
    const bits = tag & 3
    const little = (tag & 4) !== 0
    classes[tag] = (tag & 16) !== 0 ? floats[bits]
      : (tag & 8) !== 0 ? (bits === 0 && little ? undefined : signed[bits])
      : bits === 0 && little ? Uint8ClampedArray : unsigned[bits]
  }
  return classes as Array<TypedArrayClass | undefined>
})()

/** Decodes one scanned CBOR item (the whole input). */
export const decodeCbor = (input: Uint8Array): unknown => {
  b = input
  pos = 0
  try {
    return item()
  } finally {
    b = EMPTY
    reset()
  }
}
const EMPTY = new Uint8Array(0)

/** The unsigned 32-bit big-endian integer at `at`. */
const u32 = (at: number): number => ((b[at]! << 24) >>> 0) + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!)

/** The argument of a head whose additional information is `ai` (24..27) at `pos`; 8-byte values may exceed 2^53 (callers that care read the bytes). */
const argument = (ai: number): number => {
  switch (ai) {
    case 24:
      return b[pos++]!
    case 25:
      pos += 2
      return (b[pos - 2]! << 8) | b[pos - 1]!
    case 26:
      pos += 4
      return u32(pos - 4)
    default:
      pos += 8
      return u32(pos - 8) * 0x100000000 + u32(pos - 4)
  }
}

/** The unsigned 64-bit integer of the 8 bytes before `pos`, as a safe number or a bigint. */
const uint64 = (): number | bigint => {
  const hi = u32(pos - 8)
  const lo = u32(pos - 4)
  const n = hi * 0x100000000 + lo
  return Number.isSafeInteger(n) ? n : (BigInt(hi) << 32n) | BigInt(lo)
}

const item = (): unknown => {
  const start = pos
  const initial = b[pos++]!
  const major = initial >> 5
  const ai = initial & 31
  if (major === 7) return simple(ai)
  let arg = ai < 24 ? ai : ai === 31 ? -1 : argument(ai)
  switch (major) {
    case 0:
      return ai === 27 ? uint64() : arg
    case 1: {
      if (ai !== 27) return -1 - arg
      const n = uint64()
      return typeof n === "number" && n < Number.MAX_SAFE_INTEGER ? -1 - n : -1n - BigInt(n)
    }
    case 2:
      pos += arg
      return b.subarray(pos - arg, pos)
    case 3:
      pos += arg
      return decodeString(b, pos - arg, arg)
    case 4: {
      const base = Items.top
      if (arg < 0) {
        while (b[pos] !== BREAK) push(item())
        pos++
      } else while (arg-- > 0) push(item())
      return buildArray(base)
    }
    case 5:
      return map(arg, start, false)
    default:
      return tagged(arg, start)
  }
}

/**
 * A map of `n` entries (−1: indefinite) whose head is at `start`. Read straight
 * into an object while its keys are strings (their order kept on the stack);
 * the first key of another type turns what was read into pairs and the map into a `Map`.
 */
const map = (n: number, start: number, forceMap: boolean): object => {
  const base = Items.top
  let left = n
  if (!forceMap) {
    const object: Record<string, unknown> = {}
    let heldUndefined = false
    for (; n < 0 ? b[pos] !== BREAK : left > 0; left--) {
      if (b[pos]! >> 5 !== 3) break
      const key = textKey()
      heldUndefined = setProperty(object, key, item(), heldUndefined, NAME, start)
      push(key)
    }
    if (n < 0 ? b[pos] === BREAK : left === 0) {
      if (n < 0) pos++
      Items.top = base
      return object
    }
    pairsFromObject(object, base)
  }
  for (; n < 0 ? b[pos] !== BREAK : left > 0; left--) {
    push(b[pos]! >> 5 === 3 ? textKey() : item())
    push(item())
  }
  if (n < 0) pos++
  return buildMap(base, false, NAME, start)
}

/** A map key that is a text string (definite: the scan refuses others), through the key cache. */
const textKey = (): string => {
  const ai = b[pos++]! & 31
  const n = ai < 24 ? ai : argument(ai)
  pos += n
  return keyOf(b, pos - n, n)
}

const simple = (ai: number): unknown => {
  switch (ai) {
    case 20:
      return false
    case 21:
      return true
    case 22:
      return null
    case 23:
      return undefined
    case 25:
      pos += 2
      return half((b[pos - 2]! << 8) | b[pos - 1]!)
    case 26:
      pos += 4
      return float32(b, pos - 4)
    default: // 27: the scan admits no other simple value
      pos += 8
      return float64(b, pos - 8)
  }
}

/** An IEEE 754 half-precision float. */
const half = (h: number): number => {
  const exponent = (h >> 10) & 0x1f
  const fraction = h & 0x3ff
  const magnitude = exponent === 0 ? fraction * 2 ** -24
    : exponent === 31 ? (fraction === 0 ? Infinity : NaN)
    : (1024 + fraction) * 2 ** (exponent - 25)
  return h & 0x8000 ? -magnitude : magnitude
}

const tagged = (tag: number, start: number): unknown => {
  if (tag === 259 && b[pos]! >> 5 === 5) {
    const head = pos
    const ai = b[pos++]! & 31
    return map(ai < 24 ? ai : ai === 31 ? -1 : argument(ai), head, true)
  }
  const content = item()
  switch (tag) {
    case 0:
      return typeof content === "string" ? new Date(content) : new Tag(content, tag)
    case 1:
      return typeof content === "number" ? new Date(Math.round(content * 1000)) : new Tag(content, tag)
    case 2:
    case 3: {
      const n = bignum(content as Uint8Array)
      const value = tag === 2 ? n : -1n - n
      return value >= -MAX_SAFE && value <= MAX_SAFE ? Number(value) : value
    }
    case 27:
      return generic(content as Array<unknown>, start)
    case 258:
      return Array.isArray(content) ? new Set(content) : new Tag(content, tag)
    case 55799: // self-described CBOR: a marker around the value, nothing more
      return content
    default: {
      const ctor = tag >= 64 && tag <= 87 ? typedArrayClasses[tag] : undefined
      return ctor === undefined ? new Tag(content, tag) : typedArray(ctor, content as Uint8Array, (tag & 4) !== 0)
    }
  }
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))

/** A bignum's bytes (big-endian) as a bigint, in linear time. */
const bignum = (bytes: Uint8Array): bigint => {
  if (bytes.length <= 6) {
    let n = 0
    for (let i = 0; i < bytes.length; i++) n = n * 256 + bytes[i]!
    return BigInt(n)
  }
  let hex = "0x"
  for (let i = 0; i < bytes.length; i++) hex += HEX[bytes[i]!]
  return BigInt(hex)
}

/** Tag 27 (a generic object `[name, ...arguments]`): a RegExp or an Error, as cbor-x writes them. */
const generic = (content: Array<unknown>, start: number): unknown => {
  const [name, first, second] = content
  if (name === "RegExp") {
    try {
      return new RegExp(first as string, second as string | undefined)
    } catch (e) {
      throw decodeError(NAME, start, `tag 27 holds an invalid RegExp: ${(e as Error).message}`)
    }
  }
  return new Error(first === undefined ? undefined : String(first))
}

/** The elements of a typed-array tag: a view when in native order and aligned, else a copy. */
const typedArray = (ctor: TypedArrayClass, bytes: Uint8Array, little: boolean): ArrayBufferView => {
  const size = (ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT
  const native = size === 1 || little === littleEndian
  if (native && bytes.byteOffset % size === 0) return new ctor(bytes.buffer, bytes.byteOffset, bytes.length / size)
  const copy = bytes.slice()
  if (!native) {
    for (let i = 0; i < copy.length; i += size) copy.subarray(i, i + size).reverse()
  }
  return new ctor(copy.buffer, 0, copy.length / size)
}
