/**
 * Values and buffers as the messages of a collective: the object form goes
 * through the communicator's codec (or the one the call names), the buffer
 * form (typed arrays, `[data, datatype, count]`) through the raw path.
 */
import { type BufferSpec, describe, isBufferSpec, peek, raw } from "../../codecs/buffer.ts"
import type { Datatype, TypedArray } from "../../codecs/Datatype.ts"
import * as Datatypes from "../../codecs/Datatype.ts"
import type { CommState } from "../comm/CommState.ts"
import { InvalidArgument } from "../errors.ts"
import * as Message from "../messaging/Message.ts"
import { checkInto, extent, mismatch } from "./checks.ts"
import { release } from "./link.ts"

/** Whether a value takes the buffer form: a buffer spec, unless a codec is named. */
export const isBufferForm = (value: unknown, codec: Message.CodecChoice | undefined): value is BufferSpec =>
  codec === undefined && isBufferSpec(value)

/** A buffer spec as a typed array (a view of the same memory where aligned, else a copy). */
export const asTypedArray = (spec: BufferSpec): TypedArray => {
  if (!Array.isArray(spec)) return spec as TypedArray
  const { bytes, count, datatype } = describe(spec)
  if (bytes.byteOffset % datatype.size === 0) return new datatype.ctor(bytes.buffer, bytes.byteOffset, count)
  const copy = new datatype.ctor(count)
  new Uint8Array(copy.buffer).set(bytes)
  return copy
}

/** Encodes a value through the codec (throws `EncodeError` / `UnknownCodec`). */
export const encodeValue = (c: CommState, value: unknown, codec: Message.CodecChoice | undefined): Message.Encoded =>
  Message.encode(value, c.codec, codec, undefined)

/** A typed array as a raw message (a view: no copy). */
export const encodeBuffer = (array: TypedArray): Message.Encoded => ({ codec: raw.id, frames: raw.encodeSync(array) })

/** Decodes a received value within the communicator's decoding limit (throws `DecodeError`). */
export const decodeValue = (c: CommState, message: Message.Encoded, source: number, tag: number): unknown =>
  Message.decode(message.codec, message.frames, undefined, source, tag, c.decodeOptions)

/** Whether a received message is a buffer (raw) rather than an encoded value. */
export const isBufferMessage = (message: Message.Encoded): boolean => message.codec === raw.id

/**
 * A received buffer, checked against what this rank expects: the datatype,
 * and `count` elements unless undefined. Throws `InvalidArgument` naming
 * the rank whose contribution does not fit.
 */
export const decodeBuffer = (name: string, message: Message.Encoded, source: number, datatype: Datatype | undefined, count?: number): TypedArray => {
  if (message.codec !== raw.id) throw mismatch(name, source, "a value where this rank has a buffer")
  const info = peek(message.frames)
  if (datatype !== undefined && info.datatype !== datatype) throw mismatch(name, source, `${info.datatype.name} data where this rank has ${datatype.name}`)
  if (count !== undefined && info.count !== count) throw mismatch(name, source, `${info.count} ${info.datatype.name} where ${count} are expected`)
  return raw.decodeSync(message.frames) as TypedArray
}

/** Checks an `into` option: a typed array, or absent. */
export const intoOption = (name: string, into: unknown): TypedArray | undefined => {
  if (into === undefined || Datatypes.isTypedArray(into)) return into
  throw new InvalidArgument({ argument: "into", message: `${name}: into must be a typed array to receive the result` })
}

/** Throws when `into` is given for a call that is not in the buffer form. */
export const noInto = (name: string, into: TypedArray | undefined): void => {
  if (into !== undefined) throw new InvalidArgument({ argument: "into", message: `${name}: into is for the buffer form (typed arrays), but this call passes values` })
}

/** The array a buffer result goes into: `into` (checked) or a fresh one of `needed` elements. */
export const output = (name: string, into: TypedArray | undefined, datatype: Datatype, needed: number): TypedArray => {
  if (into === undefined) return new datatype.ctor(needed)
  checkInto(name, into, datatype, needed)
  return into
}

/**
 * A received item as the caller's result: a value decoded, or a buffer (in
 * `into` when given). `own` marks this rank's own item, whose buffer is the
 * caller's memory and so is copied.
 */
export const finishItem = (c: CommState, name: string, item: Message.Encoded, source: number, tag: number, into: TypedArray | undefined, own: boolean): unknown => {
  if (!isBufferMessage(item)) {
    if (into !== undefined) throw mismatch(name, source, "a value where this rank expects a buffer (into)")
    return decodeValue(c, item, source, tag)
  }
  const array = decodeBuffer(name, item, source, undefined)
  if (into === undefined) return own ? array.slice() : array
  checkInto(name, into, Datatypes.of(array), array.length)
  into.set(array as any)
  if (!own) release(c, array)
  return into
}

/**
 * Copies every rank's buffer item into `out`: rank i's `counts[i]` elements
 * at `displs[i]`, each checked against the datatype.
 */
export const assemble = (
  c: CommState,
  name: string,
  items: ReadonlyArray<Message.Encoded>,
  datatype: Datatype,
  counts: ReadonlyArray<number>,
  displs: ReadonlyArray<number>,
  out: TypedArray
): TypedArray => {
  const received: Array<TypedArray> = []
  for (let i = 0; i < items.length; i++) {
    const array = decodeBuffer(name, items[i]!, i, datatype, counts[i])
    out.set(array as any, displs[i]!)
    if (i !== c.rank) received.push(array)
  }
  // Items may share one received blob: release only once every item is copied.
  for (const array of received) release(c, array)
  return out
}

/** A typed array split into views of `counts[i]` elements at `displs[i]`, as raw messages. */
export const blocks = (buffer: TypedArray, counts: ReadonlyArray<number>, displs: ReadonlyArray<number>): Array<Message.Encoded> =>
  counts.map((n, i) => encodeBuffer(buffer.subarray(displs[i]!, displs[i]! + n)))

/** Checks that the blocks fit the buffer. */
export const checkFits = (name: string, what: string, length: number, counts: ReadonlyArray<number>, displs: ReadonlyArray<number>): void => {
  const end = extent(counts, displs)
  if (end > length) {
    throw new InvalidArgument({ argument: what, message: `${name}: ${what} reach element ${end} but the buffer has ${length}` })
  }
}

/**
 * The object form of the v-variants: each rank's decoded list, checked
 * against `counts` when given, placed at `displs` when given, else
 * concatenated in rank order.
 */
export const joinLists = (
  name: string,
  lists: ReadonlyArray<unknown>,
  counts: ReadonlyArray<number> | undefined,
  displs: ReadonlyArray<number> | undefined
): Array<unknown> => {
  for (let i = 0; i < lists.length; i++) {
    const list = lists[i]
    if (!Array.isArray(list)) throw mismatch(name, i, "something other than an array of values")
    if (counts !== undefined && list.length !== counts[i]) throw mismatch(name, i, `${list.length} values where counts says ${counts[i]}`)
  }
  const arrays = lists as ReadonlyArray<ReadonlyArray<unknown>>
  if (displs === undefined) return arrays.flat()
  const out = new Array<unknown>(extent(arrays.map((l) => l.length), displs))
  arrays.forEach((list, i) => list.forEach((v, k) => (out[displs[i]! + k] = v)))
  return out
}
