/**
 * The pickle wire format: tag bytes and the tables both directions share.
 *
 * A header is one version byte followed by one value. A value is a tag byte
 * and its payload; integers and lengths are unsigned LEB128 ("varuint"),
 * fixed-width numbers are little-endian, strings are a varuint byte length
 * and WTF-8. See `docs/codecs-pickle.md` for the full description.
 */

export const VERSION = 1

// One-byte values: small numbers, short strings, short arrays, known shapes.
/** 0x00–0x3f: the integer 0..63. */
export const FIXINT_MAX = 0x3f
/** 0x40–0x5f: a string of 0..31 bytes. */
export const FIXSTR = 0x40
/** 0x60–0x6f: a dense array of 0..15 items. */
export const FIXARRAY = 0x60
/** 0x70–0x7f: a plain object whose shape 0..15 is already defined in this header. */
export const FIXSHAPE = 0x70
/** 0xe0–0xff: the integer -32..-1. */
export const FIXNEG = 0xe0

export const UNDEFINED = 0x80
export const NULL = 0x81
export const FALSE = 0x82
export const TRUE = 0x83
/** In an array only: one hole. */
export const HOLE = 0x84
/** In an array only: varuint n holes. */
export const HOLES = 0x85
export const INT8 = 0x86
export const INT16 = 0x87
export const INT32 = 0x88
export const FLOAT64 = 0x89
/** A bigint in -2^63..2^63-1: 8 bytes, two's complement. */
export const BIGINT64 = 0x8a
/** A bigint of any size: its magnitude as a lowercase hex string. */
export const BIGINT_POS = 0x8b
export const BIGINT_NEG = 0x8c
export const STRING = 0x8d
/** A back-reference: varuint ordinal of an earlier object (objects are numbered in the order of their tags). */
export const REF = 0x8e
// Object tags (0x8f–0x9f, plus FIXARRAY and FIXSHAPE). Each has a "shared" twin, tag + SHARED:
// the encoder patches the first occurrence of an object to its twin when a back-reference to it
// is written, so the decoder remembers only objects that are referenced again.
/** varuint length, then that many items (HOLE / HOLES allowed). */
export const ARRAY = 0x8f
/** A shape reference (varuint id; id = number of shapes so far defines a new one), then one value per key. */
export const OBJECT = 0x90
/** A plain object without a shape: varuint count, then (string key, value) pairs. */
export const OBJECT_DICT = 0x91
/** An object with a null prototype: varuint count, then (string key, value) pairs. */
export const OBJECT_NULL = 0x92
export const DATE = 0x93
/** source string, flags string. */
export const REGEXP = 0x94
/** kind byte, flag byte, [message], [stack], [cause value], [errors value], then own props. */
export const ERROR = 0x95
export const MAP = 0x96
export const SET = 0x97
/** varuint byte length, then the bytes. */
export const ARRAYBUFFER = 0x98
/** varuint index into the out-of-band buffers. */
export const ARRAYBUFFER_OOB = 0x99
/** kind byte, the buffer (ARRAYBUFFER, ARRAYBUFFER_OOB or REF to one), varuint byteOffset, varuint length. */
export const VIEW = 0x9a
/** kind byte, varuint byte length, the bytes: a view of its own buffer. */
export const TYPED = 0x9b
/** kind byte, varuint index into the out-of-band buffers. */
export const TYPED_OOB = 0x9c
/** A class reference (varuint id; a new id is followed by the class name), then a shape reference and values. */
export const INSTANCE = 0x9d
/** A class reference, then the reduced state value. */
export const INSTANCE_REDUCED = 0x9e
/** new Number / String / Boolean / Object(bigint): the primitive value follows. */
export const BOXED = 0x9f
/** Added to an object tag: this object is referenced again later (0xa0–0xbf, 0xcf–0xdf). */
export const SHARED = 0x40

// ERROR flag bits.
export const ERR_MESSAGE = 1
export const ERR_STACK = 2
export const ERR_CAUSE = 4
export const ERR_ERRORS = 8

/** Error classes by wire kind. */
export const errorClasses: ReadonlyArray<ErrorConstructor | AggregateErrorConstructor> = [
  Error,
  EvalError,
  RangeError,
  ReferenceError,
  SyntaxError,
  TypeError,
  URIError,
  AggregateError
]
export const AGGREGATE_ERROR_KIND = 7

type ViewConstructor = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => ArrayBufferView
const Float16 = (globalThis as { Float16Array?: ViewConstructor }).Float16Array

/** Views by wire kind: constructor (undefined where the runtime lacks it) and element size. */
export const viewKinds: ReadonlyArray<{ readonly name: string; readonly ctor: ViewConstructor | undefined; readonly size: number }> = [
  { name: "Int8Array", ctor: Int8Array, size: 1 },
  { name: "Uint8Array", ctor: Uint8Array, size: 1 },
  { name: "Uint8ClampedArray", ctor: Uint8ClampedArray, size: 1 },
  { name: "Int16Array", ctor: Int16Array, size: 2 },
  { name: "Uint16Array", ctor: Uint16Array, size: 2 },
  { name: "Int32Array", ctor: Int32Array, size: 4 },
  { name: "Uint32Array", ctor: Uint32Array, size: 4 },
  { name: "Float32Array", ctor: Float32Array, size: 4 },
  { name: "Float64Array", ctor: Float64Array, size: 8 },
  { name: "BigInt64Array", ctor: BigInt64Array, size: 8 },
  { name: "BigUint64Array", ctor: BigUint64Array, size: 8 },
  { name: "Float16Array", ctor: Float16, size: 2 },
  { name: "DataView", ctor: DataView as unknown as ViewConstructor, size: 1 }
]
export const DATAVIEW_KIND = 12

/** How the encoder treats an object, found from its prototype. */
export const K_ERROR = 0 // + error kind (0..7)
export const K_VIEW = 16 // + view kind (0..12)
export const K_DATE = 32
export const K_REGEXP = 33
export const K_MAP = 34
export const K_SET = 35
export const K_ARRAYBUFFER = 36
export const K_BOXED = 37

/** Built-in prototypes the encoder knows, mapped to their K_* handling. */
export const builtinPrototypes: ReadonlyMap<object, number> = (() => {
  const m = new Map<object, number>()
  errorClasses.forEach((c, i) => m.set(c.prototype, K_ERROR + i))
  viewKinds.forEach((k, i) => {
    if (k.ctor !== undefined) m.set(k.ctor.prototype, K_VIEW + i)
  })
  // Node's Buffer is a Uint8Array subclass: it travels (and comes back) as a Uint8Array.
  const NodeBuffer = (globalThis as { Buffer?: { prototype: object } }).Buffer
  if (NodeBuffer !== undefined) m.set(NodeBuffer.prototype, K_VIEW + 1)
  m.set(Date.prototype, K_DATE)
  m.set(RegExp.prototype, K_REGEXP)
  m.set(Map.prototype, K_MAP)
  m.set(Set.prototype, K_SET)
  m.set(ArrayBuffer.prototype, K_ARRAYBUFFER)
  m.set(Number.prototype, K_BOXED)
  m.set(String.prototype, K_BOXED)
  m.set(Boolean.prototype, K_BOXED)
  m.set(BigInt.prototype, K_BOXED)
  return m
})()

/** Plain objects with more keys than this travel as OBJECT_DICT (no shape interning). */
export const MAX_SHAPE_KEYS = 64

/** Default nesting limit (containers inside containers), both directions. */
export const DEFAULT_MAX_DEPTH = 100_000

/** Default size at and above which typed arrays and ArrayBuffers travel out of band. */
export const DEFAULT_OUT_OF_BAND_THRESHOLD = 64 * 1024
