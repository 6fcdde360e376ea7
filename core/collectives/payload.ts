/**
 * Values and buffers as the messages of a collective: the object form goes
 * through the communicator's codec (or the one the call names), the buffer
 * form (typed arrays, `[data, datatype, count]`) through the raw path.
 */
import { type BufferSpec, describe, isBufferSpec, peek, raw } from "../../codecs/buffer.ts"
import type { Datatype, TypedArray } from "../../codecs/Datatype.ts"
import type { CommState } from "../CommState.ts"
import * as Message from "../Message.ts"
import { mismatch } from "./checks.ts"

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

/** Decodes a received value (throws `DecodeError`). */
export const decodeValue = (message: Message.Encoded, source: number, tag: number): unknown =>
  Message.decode(message.codec, message.frames, undefined, source, tag)

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
