/**
 * Typed failures of the codecs and of the raw buffer path.
 *
 * Each carries where it went wrong: a path into the value for encoding
 * (`$.a.b[3]`), a byte offset for decoding.
 */
import { Data } from "effect"

/** A value could not be encoded; `path` locates the offending part (`$.a.b[3]`). */
export class EncodeError extends Data.TaggedError("EncodeError")<{
  readonly codec: string
  readonly path: string
  readonly message: string
}> {}

/** Bytes could not be decoded; `offset` is the byte offset into the header frame. */
export class DecodeError extends Data.TaggedError("DecodeError")<{
  readonly codec: string
  readonly offset: number
  readonly message: string
}> {}

/** A receive buffer's element type does not match the incoming message's datatype. */
export class DatatypeMismatch extends Data.TaggedError("DatatypeMismatch")<{
  readonly expected: string
  readonly received: string
  readonly message: string
}> {}

/** An incoming message holds more elements than the receive buffer (MPI_ERR_TRUNCATE). */
export class Truncated extends Data.TaggedError("Truncated")<{
  readonly capacity: number
  readonly count: number
  readonly message: string
}> {}

export const encodeError = (codec: string, path: string, what: string): EncodeError =>
  new EncodeError({ codec, path, message: `${codec}: cannot encode ${path}: ${what}` })

export const decodeError = (codec: string, offset: number, what: string): DecodeError =>
  new DecodeError({ codec, offset, message: `${codec}: malformed input at byte ${offset}: ${what}` })
