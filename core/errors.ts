/**
 * rankflow's errors: one tagged class per MPI error class that applies. Each
 * message says what was wrong and what to do about it.
 */
import { Data } from "effect"

export { DatatypeMismatch, DecodeError, EncodeError, Truncated } from "../codecs/errors.ts"
export { TransportError } from "../transports/Transport.ts"

/**
 * A rank outside the communicator (MPI_ERR_RANK).
 *
 * @example
 * ```ts
 * yield* world.send(1, { dest: world.size }).pipe(
 *   Effect.catchTag("InvalidRank", (e) => Effect.logError(e.message))   // names the rank and the size
 * )
 * ```
 */
export class InvalidRank extends Data.TaggedError("InvalidRank")<{
  readonly rank: number
  readonly size: number
  readonly message: string
}> {}

/**
 * A root outside the communicator in a collective (MPI_ERR_ROOT).
 *
 * @example
 * ```ts
 * yield* world.bcast(x, { root: -1 }).pipe(Effect.catchTag("InvalidRoot", (e) => Effect.logError(e.message)))
 * ```
 */
export class InvalidRoot extends Data.TaggedError("InvalidRoot")<{
  readonly root: number
  readonly size: number
  readonly message: string
}> {}

/**
 * A tag that is negative, too large, or a wildcard where one is not allowed (MPI_ERR_TAG).
 *
 * @example
 * ```ts
 * yield* world.send(1, { dest: 1, tag: -5 }).pipe(Effect.catchTag("InvalidTag", (e) => Effect.logError(e.message)))
 * ```
 */
export class InvalidTag extends Data.TaggedError("InvalidTag")<{
  readonly tag: number
  readonly message: string
}> {}

/**
 * An argument that is not valid for the call (MPI_ERR_ARG, MPI_ERR_COUNT, MPI_ERR_BUFFER).
 *
 * @example
 * ```ts
 * yield* world.split(-2).pipe(Effect.catchTag("InvalidArgument", (e) => Effect.logError(`${e.argument}: ${e.message}`)))
 * ```
 */
export class InvalidArgument extends Data.TaggedError("InvalidArgument")<{
  readonly argument: string
  readonly message: string
}> {}

/**
 * A communicator that was freed, or that this rank is not part of (MPI_ERR_COMM).
 *
 * @example
 * ```ts
 * const sub = yield* world.dup()
 * yield* sub.free()
 * yield* sub.barrier().pipe(Effect.catchTag("InvalidCommunicator", (e) => Effect.logError(e.message)))
 * ```
 */
export class InvalidCommunicator extends Data.TaggedError("InvalidCommunicator")<{
  readonly message: string
}> {}

/**
 * A received value that does not satisfy the receive's schema; the message was consumed.
 *
 * @example
 * ```ts
 * const Point = Schema.Struct({ x: Schema.Number, y: Schema.Number })
 * yield* world.recv({ source: 0, schema: Point }).pipe(
 *   Effect.catchTag("MessageInvalid", (e) => Effect.logError(e.message))   // the message is consumed
 * )
 * ```
 */
export class MessageInvalid extends Data.TaggedError("MessageInvalid")<{
  readonly source: number
  readonly tag: number
  readonly message: string
}> {}

/**
 * A codec name or id that is not registered (MPI_ERR_TYPE's role for codecs).
 *
 * @example
 * ```ts
 * yield* world.send(x, { dest: 1, codec: "yaml" }).pipe(Effect.catchTag("UnknownCodec", (e) => Effect.logError(e.message)))
 * ```
 */
export class UnknownCodec extends Data.TaggedError("UnknownCodec")<{
  readonly codec: string
  readonly message: string
}> {}

/**
 * A rank died or failed; operations that depend on it fail with this (MPI_ERR_PROC_FAILED).
 *
 * @example
 * ```ts
 * yield* world.recv({ source: 3 }).pipe(
 *   Effect.catchTag("RankFailed", (e) => Effect.logWarning(`rank ${e.rank} failed: ${e.details ?? e.message}`))
 * )
 * ```
 */
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
 *
 * @example
 * ```ts
 * // Every rank receives and none sends: instead of hanging, each wait fails with the picture.
 * yield* world.recv({ source: (world.rank + 1) % world.size }).pipe(
 *   Effect.catchTag("Deadlock", (e) => Effect.logError(e.message))
 * )
 * ```
 */
export class Deadlock extends Data.TaggedError("Deadlock")<{
  readonly message: string
  readonly waits: ReadonlyArray<string>
  readonly cycle?: ReadonlyArray<number> | undefined
}> {}

/**
 * Waiting on a request that was cancelled.
 *
 * @example
 * ```ts
 * const req = yield* world.irecv({ source: 1, tag: 9 })
 * yield* Request.cancel(req)
 * yield* Request.wait(req).pipe(Effect.catchTag("RequestCancelled", () => Effect.log("withdrawn")))
 * ```
 */
export class RequestCancelled extends Data.TaggedError("RequestCancelled")<{
  readonly message: string
}> {}

/**
 * Shared memory for the zero-copy path is exhausted or not offered by the transport.
 *
 * @example
 * ```ts
 * const big = yield* world.alloc(Float64Array, 1 << 30).pipe(
 *   Effect.catchTag("AllocationFailed", () => Effect.succeed(new Float64Array(1 << 20)))   // a private array instead
 * )
 * ```
 */
export class AllocationFailed extends Data.TaggedError("AllocationFailed")<{
  readonly bytes: number
  readonly message: string
}> {}

/**
 * Where an item came from: the source stage, its replica, and the item's index in what that replica produced.
 *
 * @example
 * ```ts
 * Effect.catchTag("StageFailed", (e) =>
 *   Effect.logError(e.position === undefined ? e.reason : `item ${e.position.index} from ${e.position.source}: ${e.reason}`))
 * ```
 */
export interface ItemPosition {
  readonly source: string
  readonly replica: number
  readonly index: number
}

/**
 * A pipeline stage failed (its function threw or failed, or an item broke
 * the schema of the edge it arrived on); the whole run fails on every rank
 * with this, and every actor is stopped.
 *
 * @example
 * ```ts
 * yield* Pipeline.run(graph).pipe(
 *   Effect.catchTag("StageFailed", (e) => Effect.logError(`stage ${e.stage} (replica ${e.replica}, rank ${e.rank}): ${e.reason}`))
 * )
 * ```
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

/**
 * A pipeline that cannot run as built: a duplicate stage name, a rank outside the communicator, an option out of range.
 *
 * @example
 * ```ts
 * yield* Pipeline.run(graph).pipe(Effect.catchTag("PipelineInvalid", (e) => Effect.logError(e.message)))
 * ```
 */
export class PipelineInvalid extends Data.TaggedError("PipelineInvalid")<{
  readonly stage?: string | undefined
  readonly message: string
}> {}
