/**
 * rankflow's errors: one tagged class per MPI error class that applies. Each
 * message says what was wrong and what to do about it.
 */
import { Data } from "effect"

export { DatatypeMismatch, DecodeError, EncodeError, Truncated } from "../codecs/errors.ts"
export { TransportError } from "../transports/Transport.ts"

/** A rank outside the communicator (MPI_ERR_RANK). */
export class InvalidRank extends Data.TaggedError("InvalidRank")<{
  readonly rank: number
  readonly size: number
  readonly message: string
}> {}

/** A root outside the communicator in a collective (MPI_ERR_ROOT). */
export class InvalidRoot extends Data.TaggedError("InvalidRoot")<{
  readonly root: number
  readonly size: number
  readonly message: string
}> {}

/** A tag that is negative, too large, or a wildcard where one is not allowed (MPI_ERR_TAG). */
export class InvalidTag extends Data.TaggedError("InvalidTag")<{
  readonly tag: number
  readonly message: string
}> {}

/** An argument that is not valid for the call (MPI_ERR_ARG, MPI_ERR_COUNT, MPI_ERR_BUFFER). */
export class InvalidArgument extends Data.TaggedError("InvalidArgument")<{
  readonly argument: string
  readonly message: string
}> {}

/** A communicator that was freed, or that this rank is not part of (MPI_ERR_COMM). */
export class InvalidCommunicator extends Data.TaggedError("InvalidCommunicator")<{
  readonly message: string
}> {}

/** A received value that does not satisfy the receive's schema; the message was consumed. */
export class MessageInvalid extends Data.TaggedError("MessageInvalid")<{
  readonly source: number
  readonly tag: number
  readonly message: string
}> {}

/** A codec name or id that is not registered (MPI_ERR_TYPE's role for codecs). */
export class UnknownCodec extends Data.TaggedError("UnknownCodec")<{
  readonly codec: string
  readonly message: string
}> {}

/** A rank died or failed; operations that depend on it fail with this (MPI_ERR_PROC_FAILED). */
export class RankFailed extends Data.TaggedError("RankFailed")<{
  readonly rank: number
  readonly message: string
  /** The failed rank's own account (its error and stack), where known. */
  readonly details?: string
  /** The failed rank in the world communicator (where `rank` is in another communicator). */
  readonly worldRank?: number
  /** The exit code the rank's thread or process ended with, where it ended by exiting (`process.exit(3)`). */
  readonly exitCode?: number
}> {}

/**
 * A wait that can never end: a receive (or a synchronous send) on a rank
 * whose program has finished, or, found by the launcher, every rank waiting
 * with nothing in flight (shm), or a rank without progress past the stall
 * timeout (`--stall-timeout`, `--stall-action fail`). `waits` says what each
 * rank waits for, one line per rank; `cycle` is a cycle of ranks (world)
 * each waiting for the next, where one was found.
 */
export class Deadlock extends Data.TaggedError("Deadlock")<{
  readonly message: string
  readonly waits: ReadonlyArray<string>
  readonly cycle?: ReadonlyArray<number> | undefined
}> {}

/** Waiting on a request that was cancelled. */
export class RequestCancelled extends Data.TaggedError("RequestCancelled")<{
  readonly message: string
}> {}

/** Shared memory for the zero-copy path is exhausted or not offered by the transport. */
export class AllocationFailed extends Data.TaggedError("AllocationFailed")<{
  readonly bytes: number
  readonly message: string
}> {}

/** Where an item came from: the source stage, its replica, and the item's index in what that replica produced. */
export interface ItemPosition {
  readonly source: string
  readonly replica: number
  readonly index: number
}

/**
 * A pipeline stage failed (its function threw or failed, or an item broke
 * the schema of the edge it arrived on); the whole run fails on every rank
 * with this, and every actor is stopped.
 */
export class StageFailed extends Data.TaggedError("StageFailed")<{
  /** The stage's name. */
  readonly stage: string
  /** Which replica of the stage (0-based). */
  readonly replica: number
  /** The rank (of the pipeline's communicator) the replica ran on. */
  readonly rank: number
  /** The item being handled, where there was one. */
  readonly position?: ItemPosition | undefined
  /** What went wrong, in words (the thrown error's message, the schema issue). */
  readonly reason: string
  readonly message: string
}> {}

/** A pipeline that cannot run as built: a duplicate stage name, a rank outside the communicator, an option out of range. */
export class PipelineInvalid extends Data.TaggedError("PipelineInvalid")<{
  readonly stage?: string | undefined
  readonly message: string
}> {}
