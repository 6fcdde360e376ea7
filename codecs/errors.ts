/**
 * Typed failures of the codecs and of the raw buffer path.
 *
 * Each carries where it went wrong: a path into the value for encoding
 * (`$.a.b[3]`), a byte offset for decoding.
 */
import { Data } from "effect"

/**
 * A value could not be encoded; `path` locates the offending part (`$.a.b[3]`).
 *
 * @example
 * ```ts
 * yield* world.send({ f: () => 1 }, { dest: 1 }).pipe(
 *   Effect.catchTag("EncodeError", (e) => Effect.logError(`${e.codec} at ${e.path}: ${e.message}`))   // path "$.f"
 * )
 * ```
 */
export class EncodeError extends Data.TaggedError("EncodeError")<{
  readonly codec: string
  readonly path: string
  readonly message: string
}> {}

/**
 * Bytes could not be decoded; `offset` is the byte offset into the header frame.
 *
 * @example
 * ```ts
 * const value = yield* Effect.try({ try: () => marshal.decodeSync(frames), catch: (e) => e as DecodeError })
 * ```
 */
export class DecodeError extends Data.TaggedError("DecodeError")<{
  readonly codec: string
  readonly offset: number
  readonly message: string
}> {}

/**
 * A receive buffer's element type does not match the incoming message's datatype.
 *
 * @example
 * ```ts
 * // Rank 0 sent a Float64Array; an Int32Array cannot take it, and the message stays queued.
 * yield* world.recvInto(new Int32Array(8), { source: 0 }).pipe(
 *   Effect.catchTag("DatatypeMismatch", (e) => Effect.log(`expected ${e.expected}, received ${e.received}`))
 * )
 * ```
 */
export class DatatypeMismatch extends Data.TaggedError("DatatypeMismatch")<{
  readonly expected: string
  readonly received: string
  readonly message: string
}> {}

/**
 * An incoming message holds more elements than the receive buffer (MPI_ERR_TRUNCATE).
 *
 * @example
 * ```ts
 * yield* world.recvInto(new Float64Array(4), { source: 0 }).pipe(
 *   Effect.catchTag("Truncated", (e) => Effect.log(`${e.count} elements, room for ${e.capacity}`))   // still queued
 * )
 * ```
 */
export class Truncated extends Data.TaggedError("Truncated")<{
  readonly capacity: number
  readonly count: number
  readonly message: string
}> {}

/**
 * An `EncodeError` with the message every codec uses, for a codec of your own: `<codec>: cannot encode <path>: <what>`.
 *
 * @example
 * ```ts
 * if (typeof value === "function") throw encodeError("mycodec", "$.handler", "functions have no encoding")
 * ```
 */
export const encodeError = (codec: string, path: string, what: string): EncodeError =>
  new EncodeError({ codec, path, message: `${codec}: cannot encode ${path}: ${what}` })

/**
 * A `DecodeError` with the message every codec uses, for a codec of your own: `<codec>: malformed input at byte <offset>: <what>`.
 *
 * @example
 * ```ts
 * if (bytes[at] > 0x7f) throw decodeError("mycodec", at, `unknown tag 0x${bytes[at].toString(16)}`)
 * ```
 */
export const decodeError = (codec: string, offset: number, what: string): DecodeError =>
  new DecodeError({ codec, offset, message: `${codec}: malformed input at byte ${offset}: ${what}` })
