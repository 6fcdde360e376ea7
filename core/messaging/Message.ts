/**
 * Values to frames and back for point-to-point and collectives: the object
 * path (through a codec) and the buffer path (typed arrays through the raw
 * codec, no encoding), plus the optional Schema on either side.
 */
import * as Trace from "../observe/recorder.ts"
import { Result, Schema } from "effect"
import { byteLength, type Codec, type DecodeOptions, type Frames } from "../../codecs/Codec.ts"
import { isBufferSpec, raw } from "../../codecs/buffer.ts"
import { decodeError, DecodeError, EncodeError } from "../../codecs/errors.ts"
import "../../codecs/index.ts" // registers every built-in codec
import * as Registry from "../../codecs/registry.ts"
import { MessageInvalid, UnknownCodec } from "../errors.ts"

/** A codec given by name (`"pickle"`, `"marshal"`, `"cbor"`, `"msgpack"`, a registered one) or as a value. */
export type CodecChoice = string | Codec

/** A schema for typed messages: the sender encodes through it, the receiver decodes and validates. */
export type MessageSchema<A = any> = Schema.Codec<A, any, never, never>

export interface Encoded {
  readonly codec: number
  readonly frames: Frames
}

/** Resolves a codec choice; throws `UnknownCodec`. */
export const resolveCodec = (choice: CodecChoice): Codec => {
  if (typeof choice !== "string") return choice
  const codec = Registry.getByName(choice)
  if (codec === undefined) {
    throw new UnknownCodec({
      codec: choice,
      message: `no codec named "${choice}" is registered (known: ${Registry.names().join(", ")})`
    })
  }
  return codec
}

/**
 * Encodes a value for sending: typed arrays and `[data, datatype, count]`
 * take the buffer path unless a codec is named; everything else goes
 * through `codec`. Throws `EncodeError` or `UnknownCodec`.
 */
export const encode = (value: unknown, fallback: Codec, choice: CodecChoice | undefined, schema: MessageSchema | undefined): Encoded => {
  if (schema !== undefined) {
    const r = Schema.encodeUnknownResult(schema)(value)
    if (Result.isFailure(r)) {
      throw new EncodeError({ codec: "schema", path: "$", message: `the value does not match the message schema: ${r.failure.message}` })
    }
    value = r.success
  }
  if (choice === undefined && isBufferSpec(value)) return { codec: raw.id, frames: raw.encodeSync(value) }
  const codec = choice === undefined ? fallback : resolveCodec(choice)
  const timed = codecTiming.on && sampled()
  if (!Trace.tracing && !timed) return { codec: codec.id, frames: codec.encodeSync(value) }
  const t0 = performance.now()
  const frames = codec.encodeSync(value)
  const t1 = performance.now()
  if (timed) codecTiming.millis += (t1 - t0) * SAMPLE
  if (Trace.tracing) Trace.span(Trace.selfRank, "encode", "codec", Trace.at(t0), Trace.at(t1), { codec: codec.name, bytes: byteLength(frames) })
  return { codec: codec.id, frames }
}

/**
 * Codec work timed while a dashboard watches (`on`, set by the runner):
 * milliseconds so far, estimated from one encode or decode in SAMPLE (two
 * clock readings for every one would cost the 8 B ping-pong about 6 %).
 */
export const codecTiming = { on: false, millis: 0, count: 0 }
const SAMPLE = 16
const sampled = (): boolean => (++codecTiming.count & (SAMPLE - 1)) === 0

/** The codec a message names in its envelope; throws `DecodeError` for an unknown id. */
export const codecOf = (id: number): Codec => {
  const codec = Registry.getById(id)
  if (codec === undefined) throw decodeError("envelope", 1, `unknown codec id ${id}: register the codec on the receiving rank too`)
  return codec
}

/** Decodes received frames; throws `DecodeError` or `MessageInvalid` (for a schema). */
export const decode = (
  codecId: number,
  frames: Frames,
  schema: MessageSchema | undefined,
  source: number,
  tag: number,
  options?: DecodeOptions
): unknown => {
  const codec = codecOf(codecId)
  let value: unknown
  const timed = codec.id !== raw.id && codecTiming.on && sampled()
  if ((Trace.tracing && codec.id !== raw.id) || timed) {
    const t0 = performance.now()
    value = codec.decodeSync(frames, options)
    const t1 = performance.now()
    if (timed) codecTiming.millis += (t1 - t0) * SAMPLE
    if (Trace.tracing) Trace.span(Trace.selfRank, "decode", "codec", Trace.at(t0), Trace.at(t1), { codec: codec.name, bytes: byteLength(frames) })
  } else value = codec.decodeSync(frames, options)
  if (schema === undefined) return value
  const r = Schema.decodeUnknownResult(schema)(value)
  if (Result.isFailure(r)) {
    throw new MessageInvalid({
      source,
      tag,
      message: `message from rank ${source} with tag ${tag} does not match the receive's schema: ${r.failure.message}`
    })
  }
  return r.success
}

export const isDecodeFailure = (e: unknown): e is DecodeError | MessageInvalid =>
  e instanceof DecodeError || e instanceof MessageInvalid
