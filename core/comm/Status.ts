/**
 * The status of a received (or probed) message: who sent it, with which tag,
 * how large it is and how it was encoded (MPI_Status).
 *
 * @example
 * ```ts
 * const { status } = yield* world.recvWithStatus({ source: Comm.ANY_SOURCE })
 * yield* Effect.log(`${status.byteCount} bytes from rank ${status.source}, tag ${status.tag}`)
 * ```
 */

export interface Status {
  /** Rank of the sender in the receiving communicator (PROC_NULL for a receive from PROC_NULL). */
  readonly source: number
  readonly tag: number
  /** Bytes of the encoded message: codec header plus out-of-band buffers. */
  readonly byteCount: number
  /** The codec's name (`"raw"` for the buffer path). */
  readonly codec: string
  /** For the buffer path: the element count and datatype of the message. */
  readonly count: number | undefined
  readonly datatype: string | undefined
}

export const make = (fields: Status): Status => fields
