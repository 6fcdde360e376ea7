/**
 * The `cbor` codec: standard CBOR (RFC 8949), readable by any CBOR library in
 * any language. The encoder (`cborEncode.ts`) and decoder (`cborDecode.ts`)
 * are our own (cbor-x supplies only the `Tag` class); see
 * docs/codecs-standard.md for the tags used and what round-trips.
 *
 * No private extension is written: typed arrays use the RFC 8746 tags
 * (64..87), Dates tag 1, bigints beyond 64 bits tags 2/3, Maps tag 259, Sets
 * tag 258. Safe integers are integers on the wire (8-byte heads beyond 32
 * bits) and come back as numbers; larger integers come back as bigints.
 *
 * Every input is first checked by `scan` below: a
 * well-formedness check (RFC 8949 appendix C) that also bounds the nesting,
 * bounds the items that arrays and maps declare by the input's length,
 * refuses the tags to which cbor-x gives private or unsafe meanings, and
 * checks the content of the tags it decodes (bignums, typed arrays, tag 27),
 * and adds up what decoding will build (DecodeBudget.ts's costs) against the
 * message's allowance, all without allocating. Only input that passes
 * reaches the decoder, which therefore recurses at most 1000 levels. (The
 * refused tags are those cbor-x gives private meanings: cbor-x peers may send
 * them, and they would not mean the same here.)
 *
 * @example
 * ```ts
 * import { cbor } from "rankflow/codecs"
 *
 * const frames = cbor.encodeSync({ a: 1 })   // header: a1 61 61 01
 * cbor.decodeSync(frames)                    // { a: 1 }
 * ```
 */
import { Tag as CborXTag } from "cbor-x"
import { Writer } from "./bytes/Writer.ts"
import { decodeCbor } from "./cborDecode.ts"
import { encodeCbor, MAX_DEPTH } from "./cborEncode.ts"
import * as Codec from "./Codec.ts"
import type { Frames } from "./Codec.ts"
import { allowance, Cost, type DecodeOptions, overLimit } from "./DecodeBudget.ts"
import { DecodeError, decodeError, type EncodeError } from "./errors.ts"
import { register } from "./registry.ts"
import { libraryEncodeFailure } from "./unencodable.ts"

const NAME = "cbor"

export { MAX_DEPTH } from "./cborEncode.ts"

/**
 * A CBOR tag that this codec does not interpret: decoded tags come back as
 * `Tag`, and a `Tag` encodes as itself. It is cbor-x's own class (the same
 * constructor, so `instanceof` holds for tags from either).
 *
 * @example
 * ```ts
 * const frames = cbor.encodeSync(new CborTag("2030-01-01", 1000))   // tag 1000 around a string
 * const back = cbor.decodeSync(frames) as CborTag                   // back.tag === 1000, back.value === "2030-01-01"
 * ```
 */
export const Tag: typeof CborXTag = CborXTag
/** A decoded or encodable CBOR tag (see the value `Tag`). */
export type Tag = CborXTag

type Float16Ctor = new (buffer: ArrayBufferLike, byteOffset?: number, length?: number) => ArrayBufferView
const Float16 = (globalThis as { Float16Array?: Float16Ctor }).Float16Array

// ---------------------------------------------------------------------------------------------
// The scan: well-formedness, nesting and tag policy, in one pass without allocation.

const fail = (offset: number, what: string): DecodeError => decodeError(NAME, offset, what)

/** Pending-item markers of indefinite-length containers. */
const INDEFINITE_ARRAY = -1
const INDEFINITE_MAP_KEY = -2
const INDEFINITE_MAP_VALUE = -3
const pendingStack = new Float64Array(MAX_DEPTH + 1)

/** Position after the head read by the last `readArgument`. */
let argEnd = 0

/** The argument of the head at `pos`, or -1 for an indefinite length. Sets `argEnd`. */
const readArgument = (b: Uint8Array, pos: number, end: number): number => {
  const ai = b[pos]! & 31
  if (ai < 24) {
    argEnd = pos + 1
    return ai
  }
  const size = ai === 24 ? 1 : ai === 25 ? 2 : ai === 26 ? 4 : ai === 27 ? 8 : ai === 31 ? 0 : -1
  if (size < 0) throw fail(pos, `reserved additional information ${ai} in byte 0x${b[pos]!.toString(16)}`)
  if (size === 0) {
    argEnd = pos + 1
    return -1
  }
  if (pos + 1 + size > end) throw fail(pos, `unexpected end of input: the head needs ${size} more bytes, ${end - pos - 1} left`)
  argEnd = pos + 1 + size
  if (size === 1) return b[pos + 1]!
  if (size === 2) return (b[pos + 1]! << 8) | b[pos + 2]!
  const hi = ((b[pos + 1]! << 24) >>> 0) + ((b[pos + 2]! << 16) | (b[pos + 3]! << 8) | b[pos + 4]!)
  if (size === 4) return hi
  // 8 bytes: exact below 2^53, which is all a length or a tag number is compared against.
  return hi * 0x100000000 + ((b[pos + 5]! << 24) >>> 0) + ((b[pos + 6]! << 16) | (b[pos + 7]! << 8) | b[pos + 8]!)
}

/** Element size of an RFC 8746 typed-array tag that this codec decodes, else 0 (the tag passes through as a `Tag`). */
const typedArrayElementSize = (tag: number): number => {
  if (tag < 64 || tag > 87 || tag === 76) return 0
  const lengthBits = tag & 3
  if ((tag & 0x10) === 0) return 1 << lengthBits // integers: 1, 2, 4, 8 bytes
  if (lengthBits === 3 || (lengthBits === 0 && Float16 === undefined)) return 0 // float128; float16 without Float16Array
  return 2 << lengthBits // floats: 2, 4, 8 bytes
}

/**
 * Tags that cbor-x reads with private or unsafe meanings: packed CBOR (6, 51, 216..255 and
 * the prefix/suffix ranges), value sharing (28/29: a shared reference re-reads its content,
 * exponential when nested), records and string bundles (105, 0xdff9..0xffff), shared data.
 */
const isRefusedTag = (tag: number): boolean =>
  tag === 6 || tag === 28 || tag === 29 || tag === 51 || tag === 105 || (tag >= 216 && tag <= 255) ||
  (tag >= 27647 && tag <= 32767) || (tag >= 0xdff9 && tag <= 0xffff) || tag === 0x53687264 ||
  tag >= 1811940352

const nameDecoder = new TextDecoder()

/** Checks a tag's number and, for the tags cbor-x interprets, the head of its content at `pos`. */
const checkTag = (b: Uint8Array, start: number, tag: number, pos: number, end: number): void => {
  if (isRefusedTag(tag)) throw fail(start, `tag ${tag} is not supported (cbor-x gives it a private meaning)`)
  const elementSize = typedArrayElementSize(tag)
  const isBignum = tag === 2 || tag === 3
  if (!isBignum && elementSize === 0 && tag !== 27) return
  if (pos >= end) throw fail(pos, `unexpected end of input: tag ${tag} has no content`)
  const head = b[pos]!
  const length = readArgument(b, pos, end)
  if (tag === 27) {
    // cbor-x looks the name up in { Error, RegExp } and calls what it finds: refuse the names
    // that would reach Object.prototype's methods instead.
    if (head >> 5 !== 4 || length < 1) throw fail(pos, "tag 27 must contain an array [name, ...arguments]")
    const namePos = argEnd
    if (namePos >= end) throw fail(namePos, "unexpected end of input in tag 27")
    const nameLength = readArgument(b, namePos, end)
    if (b[namePos]! >> 5 !== 3 || nameLength < 0) throw fail(namePos, "tag 27 must start with a text string name")
    if (nameLength > end - argEnd) throw fail(namePos, `a text string of ${nameLength} bytes but only ${end - argEnd} left`)
    const name = nameDecoder.decode(b.subarray(argEnd, argEnd + nameLength))
    if (Object.hasOwn(Object.prototype, name)) throw fail(namePos, `tag 27 with the name ${JSON.stringify(name)} is not supported`)
    return
  }
  if (head >> 5 !== 2 || length < 0) {
    throw fail(pos, `tag ${tag} must contain a definite-length byte string`)
  }
  if (elementSize > 1 && length % elementSize !== 0) {
    throw fail(pos, `tag ${tag} holds ${elementSize}-byte elements but its byte string has ${length} bytes`)
  }
}

/** The length of the byte string a tag holds (checked by `checkTag`), or 0 for other content. */
const tagContentLength = (b: Uint8Array, pos: number, end: number): number => {
  if (pos >= end || b[pos]! >> 5 !== 2) return 0
  const n = readArgument(b, pos, end)
  return n > 0 ? n : 0
}

/** A map of at most this many entries decodes to an object with in-object properties; larger ones to a dictionary. */
const SMALL_MAP = 8

/**
 * Checks that `b` holds exactly one well-formed CBOR item that this codec
 * accepts and that decoding it stays within its allowance; throws a
 * `DecodeError` at the offending offset otherwise.
 */
const scan = (b: Uint8Array, options: DecodeOptions | undefined): void => {
  const end = b.length
  if (end === 0) throw fail(0, "empty input")
  let budget = allowance(end, options)
  let pos = 0
  let depth = 0
  let pending = 1 // items still to read at this level; the top level holds exactly one
  let declared = 0 // items declared by definite-length arrays and maps so far
  for (;;) {
    if (pending === 0) {
      if (depth === 0) break
      pending = pendingStack[--depth]!
      continue
    }
    if (pos >= end) throw fail(pos, "unexpected end of input (truncated)")
    const start = pos
    const initial = b[pos]!
    if (initial === 0xff) {
      if (pending !== INDEFINITE_ARRAY && pending !== INDEFINITE_MAP_KEY) {
        throw fail(pos, pending === INDEFINITE_MAP_VALUE ? "a break where a map value is due" : "a break (0xff) outside an indefinite-length array or map")
      }
      pos++
      pending = 0
      continue
    }
    if (pending > 0) pending--
    else if (pending === INDEFINITE_MAP_KEY) {
      pending = INDEFINITE_MAP_VALUE
      budget -= Cost.dictionaryEntry
    } else if (pending === INDEFINITE_MAP_VALUE) pending = INDEFINITE_MAP_KEY
    else budget -= Cost.slot // an item of an indefinite-length array
    const major = initial >> 5
    let arg: number
    if ((initial & 31) < 24) {
      arg = initial & 31 // the common case, inline: a small integer or length in the head itself
      pos++
    } else {
      arg = readArgument(b, pos, end)
      pos = argEnd
    }
    switch (major) {
      case 0:
      case 1:
        if (arg < 0) throw fail(start, "an integer cannot have an indefinite length")
        break
      case 2:
      case 3:
        if (arg < 0) throw fail(start, "indefinite-length strings are not supported")
        if (arg > end - pos) throw fail(start, `a ${major === 2 ? "byte" : "text"} string of ${arg} bytes but only ${end - pos} left`)
        pos += arg
        // A byte string is a view of the input; a text string is built.
        budget -= major === 2 ? Cost.view : Cost.string + arg
        break
      case 4:
      case 5: {
        let open: number
        budget -= major === 4 ? Cost.array : arg >= 0 && arg <= SMALL_MAP ? Cost.object : Cost.dictionary
        if (arg < 0) open = major === 4 ? INDEFINITE_ARRAY : INDEFINITE_MAP_KEY
        else {
          // Every item takes at least one byte: a count beyond the bytes left can never be satisfied.
          open = major === 4 ? arg : arg * 2
          if (open > end - pos) {
            throw fail(start, `${major === 4 ? "an array" : "a map"} of ${arg} entries but only ${end - pos} bytes left`)
          }
          if (open === 0) break
          // The same bound for all containers together, so that nested ones cannot add up past it.
          declared += open
          if (declared > end) throw fail(start, `${open} more items declared than the ${end} bytes of input can hold`)
          budget -= major === 4 ? Cost.slot * arg : (arg <= SMALL_MAP ? Cost.property : Cost.dictionaryEntry) * arg
        }
        if (depth >= MAX_DEPTH) throw fail(start, `nested deeper than ${MAX_DEPTH} levels`)
        pendingStack[depth++] = pending
        pending = open
        break
      }
      case 6:
        if (arg < 0) throw fail(start, "a tag cannot have an indefinite length")
        if (arg > 0xffffffff) throw fail(start, "tag numbers above 2^32-1 are not supported")
        checkTag(b, start, arg, pos, end)
        // What the tag's content becomes, beyond the content itself: a Set or Map is charged
        // over the object its array or map is charged as; typed arrays may be copied to align them.
        budget -= arg === 1 || arg === 0 ? Cost.date : arg === 258 ? Cost.set : arg === 259 ? Cost.map
          : arg === 2 || arg === 3 ? Cost.bigint + 2 * tagContentLength(b, pos, end)
          : typedArrayElementSize(arg) !== 0 ? Cost.view + Cost.arrayBuffer + tagContentLength(b, pos, end)
          : Cost.object
        if (depth >= MAX_DEPTH) throw fail(start, `nested deeper than ${MAX_DEPTH} levels`)
        pendingStack[depth++] = pending
        pending = 1
        break
      default: {
        const ai = initial & 31
        // false, true, null, undefined, and half/single/double floats; other simple values have no JS meaning.
        if ((ai >= 20 && ai <= 23) || (ai >= 25 && ai <= 27)) break
        throw fail(start, `simple value ${ai === 24 ? b[start + 1] : ai} is not supported`)
      }
    }
    if (budget < 0) throw overLimit(NAME, start, end, options)
  }
  if (pos !== end) throw fail(pos, `${end - pos} trailing bytes after the value`)
}

// ---------------------------------------------------------------------------------------------

const encodeFailure = (value: unknown, e: unknown): EncodeError => libraryEncodeFailure(NAME, value, e, { maxDepth: MAX_DEPTH })

const writer = new Writer()

const encodeSync = (value: unknown): Frames => {
  writer.begin()
  try {
    encodeCbor(writer, value)
  } catch (e) {
    writer.abort()
    throw encodeFailure(value, e)
  }
  return { header: writer.finish(), buffers: [] }
}

const decodeSync = (frames: Frames, options: DecodeOptions | undefined): unknown => {
  if (frames.buffers.length !== 0) {
    throw fail(frames.header.byteLength, `expected a header only, got ${frames.buffers.length} out-of-band buffers`)
  }
  const h = frames.header
  // Decoded byte strings are subarrays of the input: keep them plain Uint8Arrays even when the header is a Buffer.
  const bytes = h.constructor === Uint8Array ? h : new Uint8Array(h.buffer, h.byteOffset, h.byteLength)
  scan(bytes, options)
  return decodeCbor(bytes)
}

/**
 * Standard CBOR (RFC 8949) through cbor-x; codec id 3.
 *
 * @example
 * ```ts
 * const frames = cbor.encodeSync({ id: 7, tags: ["a", "b"] })   // standard CBOR (RFC 8949): any language can read it
 * ```
 */
export const cbor: Codec.Codec = register(Codec.make({ name: NAME, id: Codec.CodecIds.cbor, encodeSync, decodeSync }))
