/**
 * `marshal`: compact primitives only, the role of Python's marshal.
 *
 * Carries null, undefined, booleans, numbers (-0 and NaN exactly), bigints,
 * strings (lone surrogates included), dense arrays, plain objects and typed
 * arrays (class kept), by value: a shared sub-object is written twice, and a
 * cycle, a Map, a Date or a class instance is an `EncodeError` naming the path.
 * Built for the smallest bytes and the fastest round trip of small messages;
 * the wire format is in `format.ts` and docs/codecs-marshal.md.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { marshal } from "rankflow/codecs"
 *
 * const roundTrip = Effect.gen(function* () {
 *   const frames = yield* marshal.encode({ id: 42, tags: ["a", "b"], at: 2.72 })
 *   return yield* marshal.decode(frames)
 * })
 * ```
 */
import * as Codec from "../Codec.ts"
import { decodeError } from "../errors.ts"
import { register } from "../registry.ts"
import { Decoder } from "./decode.ts"
import { Encoder } from "./encode.ts"

const NAME = "marshal"
const noBuffers: ReadonlyArray<Uint8Array> = Object.freeze([])

const encoder = new Encoder()
const decoder = new Decoder()

const encodeBytes = (value: unknown): Uint8Array =>
  // A getter that calls back into marshal while a message is being written gets its own encoder.
  encoder.busy ? new Encoder().encode(value) : encoder.encode(value)

/**
 * The marshal codec (id `CodecIds.marshal`), registered under the name "marshal".
 *
 * @example
 * ```ts
 * yield* world.send([1, 2.5, "three", true, null], { dest: 1, codec: "marshal" })
 * ```
 */
export const marshal: Codec.Codec = register(
  Codec.make({
    name: NAME,
    id: Codec.CodecIds.marshal,
    encodeSync: (value) => ({ header: encodeBytes(value), buffers: noBuffers }),
    decodeSync: (frames, options) => {
      if (frames.buffers.length > 0) {
        throw decodeError(NAME, 0, `marshal carries no out-of-band buffers, got ${frames.buffers.length}`)
      }
      return decoder.decode(frames.header, options)
    }
  })
)
