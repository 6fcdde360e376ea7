/**
 * The raw buffer path: the fast lane for numeric data (mpi4py's `msgbuffer`).
 *
 * A typed array is not encoded at all: its datatype and element count go in a
 * few header bytes and its bytes travel as the one out-of-band buffer, a view
 * of the sender's memory (no copy). The receiver gets a typed array of the same
 * class, a view of the received bytes when they are aligned for the element
 * size, or fills a buffer of its own with `decodeInto` (MPI's `Recv` into a
 * user buffer), which fails with `DatatypeMismatch` or `Truncated` and leaves
 * the frames intact when the message does not fit.
 *
 * Bytes travel in the sender's native byte order (little-endian on every
 * platform Node ships for, except s390x).
 *
 * @example
 * ```ts
 * import { raw } from "rankflow/codecs"
 *
 * const frames = raw.encodeSync(new Float64Array([1, 2, 3]))   // header: 2 bytes, buffers: [24 bytes]
 * raw.decodeSync(frames)                                        // Float64Array [1, 2, 3]
 * raw.encodeSync([bytes, "int32", 10])                          // 10 int32 from a Uint8Array's bytes
 * ```
 */
import * as Codec from "./Codec.ts"
import type { Frames } from "./Codec.ts"
import * as Datatype from "./Datatype.ts"
import type { DatatypeName, TypedArray } from "./Datatype.ts"
import { type DerivedDatatype, isContiguous, isDerived, itemsThatFit, overrun, pack, unpack } from "./DerivedDatatype.ts"
import { DatatypeMismatch, EncodeError, Truncated, decodeError } from "./errors.ts"
import { register } from "./registry.ts"
import { Reader } from "./bytes/Reader.ts"
import { Writer } from "./bytes/Writer.ts"

/**
 * What the buffer path sends: a typed array (its datatype discovered from its
 * class), or `[data, datatype, count?]`: `count` elements of `datatype` read
 * from `data`'s bytes (without `count`, as many whole elements as fit). With a
 * derived datatype (`Datatype.vector`, `subarray`, …), `count` items of its
 * layout: the data travels packed, and a receive scatters it into place.
 *
 * @example
 * ```ts
 * yield* world.send([grid, "float64", 100], { dest: 1 })   // the first 100 doubles of grid
 * yield* world.send(new Int32Array(8), { dest: 1 })      // a whole typed array
 * yield* world.send([grid, Datatype.vector(rows, 1, columns, "float64"), 1], { dest: 1 })   // column 0 of a row-major grid
 * ```
 */
export type BufferSpec =
  | TypedArray
  | readonly [data: TypedArray | ArrayBufferLike | DataView, datatype: DatatypeName | DerivedDatatype, count?: number]

/**
 * A buffer spec resolved to its datatype, element count and bytes (a view of the data: no copy).
 *
 * @example
 * ```ts
 * const { datatype, count, bytes } = RawBuffer.describe([data, "int16", 10])   // int16, 10, 20 bytes
 * ```
 */
export interface Described {
  readonly datatype: Datatype.Datatype
  readonly count: number
  readonly bytes: Uint8Array
  /**
   * For a derived datatype whose items are not one run of bytes: the layout,
   * how many items, and the caller's memory. `bytes` is then the data packed
   * (`describe`, for a send) or a staging area (`describeTarget`, for a
   * receive, which `scatter` writes into place).
   */
  readonly layout?: { readonly type: DerivedDatatype; readonly items: number; readonly memory: Uint8Array }
}

const NAME = "raw"

const isBufferLike = (x: unknown): x is TypedArray | ArrayBufferLike | DataView =>
  ArrayBuffer.isView(x) || x instanceof ArrayBuffer ||
  (typeof SharedArrayBuffer !== "undefined" && x instanceof SharedArrayBuffer)

/**
 * True for a typed array, or for a 2- or 3-element array whose first element
 * is a typed array, DataView or ArrayBuffer and whose second is a known
 * datatype name. Any other array (an ordinary tuple) is not a buffer spec, so
 * it travels through a value codec unchanged.
 *
 * @example
 * ```ts
 * RawBuffer.isBufferSpec([new Float64Array(4), "float64"])   // true
 * RawBuffer.isBufferSpec({ data: 1 })                          // false
 * ```
 */
export const isBufferSpec = (value: unknown): value is BufferSpec => {
  if (Datatype.isTypedArray(value)) return true
  return Array.isArray(value) && (value.length === 2 || value.length === 3) && isBufferLike(value[0]) &&
    ((typeof value[1] === "string" && Datatype.byName(value[1]) !== undefined) || isDerived(value[1]))
}

const bytesOf = (data: TypedArray | ArrayBufferLike | DataView): Uint8Array =>
  ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data)

const specError = (what: string): EncodeError =>
  new EncodeError({ codec: NAME, path: "$", message: `${NAME}: invalid buffer spec: ${what}` })

const describeName = (x: unknown): string =>
  x === null ? "null" : typeof x === "object" ? (x.constructor?.name ?? "object") : typeof x

/**
 * Resolves a buffer spec to its datatype, count and bytes (a view of the
 * caller's memory). Throws an `EncodeError` for an unknown datatype name, a
 * count that is negative, not an integer or larger than the data, or data that
 * is not a buffer.
 *
 * @example
 * ```ts
 * RawBuffer.describe(new Float32Array(3))   // { datatype: float32, count: 3, bytes: a view of its 12 bytes }
 * ```
 */
export const describe = (spec: BufferSpec): Described => describeAs(spec, false)

/**
 * `describe` for a receive buffer: a derived layout gets a staging area instead
 * of a packed copy of what the buffer holds now; `scatter` then writes what
 * arrived into place.
 *
 * @example
 * ```ts
 * const target = RawBuffer.describeTarget([grid, column, 1])
 * target.bytes.set(received)                      // the packed elements
 * RawBuffer.scatter(target, received.byteLength)  // into column 0 of grid
 * ```
 */
export const describeTarget = (spec: BufferSpec): Described => describeAs(spec, true)

/**
 * Writes the first `bytes` of a receive target's staging area into the
 * caller's memory along its derived layout; nothing to do for other targets
 * (the data arrived in place).
 *
 * @example
 * ```ts
 * RawBuffer.scatter(RawBuffer.describeTarget(new Float64Array(4)), 32)   // a typed array: nothing to do
 * ```
 */
export const scatter = (target: Described, bytes: number): void => {
  if (target.layout !== undefined) unpack(target.layout.type, target.bytes, bytes, target.layout.memory)
}

const describeAs = (spec: BufferSpec, forReceive: boolean): Described => {
  const datatype = Datatype.ofUnknown(spec)
  if (datatype !== undefined) {
    const array = spec as TypedArray
    // A plain Uint8Array is its own bytes (a view costs an allocation per message; reading `buffer`
    // of a small array would move its memory off the V8 heap).
    const bytes = array.constructor === Uint8Array ? array as Uint8Array : new Uint8Array(array.buffer, array.byteOffset, array.byteLength)
    return { datatype, count: array.length, bytes }
  }
  if (!Array.isArray(spec) || spec.length < 2 || spec.length > 3) {
    throw specError(`expected a typed array or [data, datatype, count?], got ${describeName(spec)}`)
  }
  const [data, name, count] = spec as readonly [unknown, unknown, unknown]
  if (!isBufferLike(data)) {
    throw specError(`data must be a typed array, DataView or ArrayBuffer, got ${describeName(data)}`)
  }
  if (isDerived(name)) return describeDerived(bytesOf(data), name, count, forReceive)
  const explicit = typeof name === "string" ? Datatype.byName(name) : undefined
  if (explicit === undefined) {
    const known = Datatype.all.map((d) => d.name).join(", ")
    const why = name === "float16" ? " (this runtime has no Float16Array)" : ""
    const shown = typeof name === "string" ? JSON.stringify(name) : `of type ${describeName(name)}`
    throw specError(`unknown datatype ${shown}${why}; known: ${known}`)
  }
  const all = bytesOf(data)
  const fit = Math.floor(all.byteLength / explicit.size)
  if (count === undefined) return { datatype: explicit, count: fit, bytes: all.subarray(0, fit * explicit.size) }
  if (typeof count !== "number" || !Number.isInteger(count) || count < 0) {
    throw specError(`count must be a non-negative integer, got ${String(count)}`)
  }
  if (count > fit) {
    throw specError(`count ${count} ${explicit.name} needs ${count * explicit.size} bytes but the data has ${all.byteLength}`)
  }
  return { datatype: explicit, count, bytes: all.subarray(0, count * explicit.size) }
}

/** A derived datatype's items in `all`: packed (a send), staged (a receive), or a view where they are one run of bytes. */
const describeDerived = (all: Uint8Array, type: DerivedDatatype, count: unknown, forReceive: boolean): Described => {
  const datatype = type.base ?? Datatype.byName("uint8")!
  let items: number
  if (count === undefined) items = itemsThatFit(type, all.byteLength)
  else if (typeof count !== "number" || !Number.isInteger(count) || count < 0) {
    throw specError(`count must be a non-negative integer, got ${String(count)}`)
  } else items = count
  const over = overrun(type, items, all.byteLength)
  if (over !== undefined) throw specError(`the layout overruns the buffer: ${over}`)
  const elements = (items * type.size) / datatype.size
  if (isContiguous(type, items) || items === 0) {
    const start = items === 0 ? 0 : type.trueLowerBound
    return { datatype, count: elements, bytes: all.subarray(start, start + items * type.size) }
  }
  const bytes = forReceive ? new Uint8Array(items * type.size) : pack(type, items, all)
  return { datatype, count: elements, bytes, layout: { type, items, memory: all } }
}

// One slab for every header: encoding a message allocates only the views (see bytes/Writer.ts).
const writer = new Writer()

const encodeSync = (value: unknown): Frames => {
  if (!Datatype.isTypedArray(value) && !Array.isArray(value)) {
    throw specError(`expected a typed array or [data, datatype, count?], got ${describeName(value)}`)
  }
  const { bytes, count, datatype } = describe(value as BufferSpec)
  writer.begin()
  writer.u8(datatype.id)
  writer.varuint(count)
  return { header: writer.finish(), buffers: [bytes] }
}

/**
 * Reads a raw header: the datatype and element count of the message.
 *
 * @example
 * ```ts
 * const { datatype, count } = RawBuffer.peek(raw.encodeSync(new Uint16Array(5)))   // uint16, 5
 * ```
 */
export const peek = (frames: Frames): { readonly datatype: Datatype.Datatype; readonly count: number } => {
  const reader = new Reader(NAME, frames.header)
  const id = reader.u8()
  const datatype = Datatype.byId(id)
  if (datatype === undefined) {
    const name = Datatype.names[id - 1]
    throw decodeError(NAME, 0, name === undefined ? `unknown datatype id ${id}` : `datatype ${name} is not supported by this runtime`)
  }
  const count = reader.varuint()
  if (reader.remaining !== 0) throw decodeError(NAME, reader.pos, `${reader.remaining} unexpected bytes after the header`)
  return { datatype, count }
}

/** Checks the frames against their header and returns the datatype, count and the data bytes. */
const checked = (frames: Frames): Described => {
  const { count, datatype } = peek(frames)
  if (frames.buffers.length !== 1) {
    throw decodeError(NAME, frames.header.byteLength, `expected 1 data buffer, got ${frames.buffers.length}`)
  }
  const bytes = frames.buffers[0]!
  if (bytes.byteLength !== count * datatype.size) {
    throw decodeError(
      NAME,
      frames.header.byteLength,
      `the header declares ${count} ${datatype.name} (${count * datatype.size} bytes) but the data buffer has ${bytes.byteLength} bytes`
    )
  }
  return { datatype, count, bytes }
}

const decodeSync = (frames: Frames): TypedArray => {
  const { bytes, count, datatype } = checked(frames)
  // Bytes are already the array: a new view would need `bytes.buffer`, which moves a small
  // array's memory off the V8 heap (a malloc, ~0.3 µs per message).
  if (datatype.ctor === Uint8Array && bytes.constructor === Uint8Array) return bytes
  if (bytes.byteOffset % datatype.size === 0) return new datatype.ctor(bytes.buffer, bytes.byteOffset, count)
  // A typed array view must start at a multiple of its element size: copy.
  const out = new datatype.ctor(count)
  new Uint8Array(out.buffer).set(bytes)
  return out
}

/**
 * The raw buffer path as a codec (id 0): `encodeSync` takes a `BufferSpec`,
 * `decodeSync` returns a typed array of the message's datatype.
 *
 * @example
 * ```ts
 * const frames = raw.encodeSync(new Float64Array([1, 2]))
 * raw.decodeSync(frames)   // Float64Array [1, 2]
 * ```
 */
export const raw: Codec.Codec = register(Codec.make({ name: NAME, id: Codec.CodecIds.raw, encodeSync, decodeSync }))

/** The class name of a receive buffer, or its datatype for the `[buffer, datatype]` form, for messages. */
const receiveBufferName = (target: BufferSpec): string =>
  Datatype.isTypedArray(target) ? Datatype.of(target).ctor.name
  : isDerived(target[1]) ? `${target[1].name} buffer` : `${String(target[1])} buffer`

/**
 * Copies a raw message into a buffer the caller owns (MPI's `Recv` into a
 * user buffer) and returns the number of elements received. The target is a
 * typed array or `[buffer, datatype, count?]` (`count` = its capacity in
 * elements).
 *
 * Throws `DatatypeMismatch` when the target's datatype differs from the
 * message's, `Truncated` when the message has more elements than the target
 * holds, `DecodeError` for malformed frames and `EncodeError` for a malformed
 * target spec. The frames are never modified, so they can be decoded again
 * after any failure.
 *
 * @example
 * ```ts
 * const into = new Float64Array(8)
 * const count = RawBuffer.decodeInto(raw.encodeSync(Float64Array.of(1, 2, 3)), into)   // 3
 * ```
 */
export const decodeInto = (frames: Frames, target: BufferSpec): number => {
  const message = checked(frames)
  const into = describeTarget(target)
  if (into.datatype !== message.datatype) {
    throw new DatatypeMismatch({
      expected: into.datatype.name,
      received: message.datatype.name,
      message: `message holds ${message.datatype.name} but the receive buffer is ${receiveBufferName(target)}`
    })
  }
  if (message.count > into.count) {
    throw new Truncated({
      capacity: into.count,
      count: message.count,
      message: `message of ${message.count} ${message.datatype.name} does not fit a receive buffer of ${into.count}`
    })
  }
  into.bytes.set(message.bytes)
  scatter(into, message.bytes.byteLength)
  return message.count
}
