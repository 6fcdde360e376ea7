/**
 * The Codec interface: a value becomes frames, frames become a value.
 *
 * Frames are one header (the encoded stream) plus zero or more out-of-band
 * buffers that are referenced, not copied (pickle protocol 5's role): a large
 * typed array travels as its own frame, and a transport moves it as it is.
 *
 * Every codec has a one-byte `id` that message headers carry, so a receiver
 * never guesses how to decode.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Codec, pickle } from "rankflow/codecs"
 *
 * const roundTrip = Effect.gen(function* () {
 *   const frames = yield* pickle.encode({ a: [1, 2n, new Date(0)] })
 *   return yield* pickle.decode(frames)
 * })
 * ```
 */
import { Effect } from "effect"
import type { DecodeOptions } from "./DecodeBudget.ts"
import { DecodeError, EncodeError } from "./errors.ts"

export type { DecodeOptions } from "./DecodeBudget.ts"

/**
 * An encoded value: the header stream and the out-of-band buffers it refers to.
 *
 * @example
 * ```ts
 * const frames: Frames = pickle.encodeSync({ grid: new Float64Array(1 << 20) })
 * frames.buffers.length   // 1: the array travels out of band, not copied into the header
 * ```
 */
export interface Frames {
  readonly header: Uint8Array
  readonly buffers: ReadonlyArray<Uint8Array>
}

/**
 * A codec: a name and a one-byte id, and a pair of functions between values and frames (as Effects, and throwing for hot paths).
 *
 * @example
 * ```ts
 * const frames = yield* marshal.encode([1, "two", 3.5])
 * const back = yield* marshal.decode(frames)   // [1, "two", 3.5]
 * ```
 */
export interface Codec {
  /** The registered name, e.g. `"pickle"`. */
  readonly name: string
  /** The one-byte id carried in message headers (0–255). */
  readonly id: number
  /** Encodes a value; fails with an `EncodeError` naming the path of what could not be encoded. */
  readonly encode: (value: unknown) => Effect.Effect<Frames, EncodeError>
  /**
   * Decodes frames; any bytes give a value or a `DecodeError`. No input makes
   * it allocate more than `options.maxDecodedBytes` (see DecodeBudget.ts)
   * plus twice the input's length.
   */
  readonly decode: (frames: Frames, options?: DecodeOptions) => Effect.Effect<unknown, DecodeError>
  /**
   * The same as `encode` for hot paths: returns the frames or throws an
   * `EncodeError` (never any other exception).
   */
  readonly encodeSync: (value: unknown) => Frames
  /** The same as `decode` for hot paths: returns the value or throws a `DecodeError`. */
  readonly decodeSync: (frames: Frames, options?: DecodeOptions) => unknown
}

/**
 * Ids 0–15 are reserved for rankflow's own codecs; user codecs take 16–255.
 *
 * @example
 * ```ts
 * Codec.CodecIds.pickle   // 1: the id a message's envelope carries
 * ```
 */
export const CodecIds = {
  raw: 0,
  pickle: 1,
  marshal: 2,
  cbor: 3,
  msgpack: 4
} as const

/**
 * Builds a codec from a throwing pair. The pair must throw only `EncodeError`
 * / `DecodeError`; anything else thrown (a bug) is converted to one, so no
 * raw exception ever leaves a codec.
 *
 * @example
 * ```ts
 * const json = Codec.make({
 *   name: "json",
 *   id: 16,   // user codecs take 16–255
 *   encodeSync: (v) => Codec.headerOnly(new TextEncoder().encode(JSON.stringify(v))),
 *   decodeSync: (f) => JSON.parse(new TextDecoder().decode(f.header))
 * })
 * CodecRegistry.register(json)   // now usable as { codec: "json" }
 * ```
 */
export const make = (options: {
  readonly name: string
  readonly id: number
  readonly encodeSync: (value: unknown) => Frames
  /** Must charge what it builds against `options` (see DecodeBudget.ts). */
  readonly decodeSync: (frames: Frames, options: DecodeOptions | undefined) => unknown
}): Codec => {
  const { name, id } = options
  if (!Number.isInteger(id) || id < 0 || id > 255) {
    throw new RangeError(`codec id must be an integer in 0..255, got ${id}`)
  }
  const encodeSync = (value: unknown): Frames => {
    try {
      return options.encodeSync(value)
    } catch (e) {
      throw e instanceof EncodeError ? e : new EncodeError({ codec: name, path: "$", message: `${name}: cannot encode $: ${describeThrown(e)}` })
    }
  }
  const decodeSync = (frames: Frames, decodeOptions?: DecodeOptions): unknown => {
    try {
      return options.decodeSync(frames, decodeOptions)
    } catch (e) {
      throw e instanceof DecodeError ? e : new DecodeError({ codec: name, offset: -1, message: `${name}: malformed input: ${describeThrown(e)}` })
    }
  }
  return {
    name,
    id,
    encodeSync,
    decodeSync,
    encode: (value) => Effect.try({ try: () => encodeSync(value), catch: (e) => e as EncodeError }),
    decode: (frames, decodeOptions) => Effect.try({ try: () => decodeSync(frames, decodeOptions), catch: (e) => e as DecodeError })
  }
}

/**
 * Frames of a single header with no out-of-band buffers.
 *
 * @example
 * ```ts
 * const frames = Codec.headerOnly(Uint8Array.of(1, 2, 3))   // { header, buffers: [] }
 * ```
 */
export const headerOnly = (header: Uint8Array): Frames => ({ header, buffers: [] })

/**
 * Total size in bytes of the header and every out-of-band buffer.
 *
 * @example
 * ```ts
 * Codec.byteLength(pickle.encodeSync(new Float64Array(1000)))   // about 8 KiB
 * ```
 */
export const byteLength = (frames: Frames): number => {
  let n = frames.header.byteLength
  for (const b of frames.buffers) n += b.byteLength
  return n
}

const describeThrown = (e: unknown): string =>
  e instanceof RangeError && /call stack/i.test(e.message) ? "nesting too deep" : e instanceof Error ? e.message : String(e)
