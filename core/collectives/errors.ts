/**
 * The errors of collectives, in two groups: those a call reports at once,
 * before it communicates (the same on every rank that passes the same
 * arguments), and those that arise while it runs.
 */
import type { DatatypeMismatch, DecodeError } from "../../codecs/errors.ts"
import type { InvalidArgument, MessageInvalid } from "../errors.ts"
import type { SendFailure } from "../messaging/PointToPoint.ts"
import type { CollectiveInvalid } from "./checks.ts"

export type { CollectiveInvalid } from "./checks.ts"

/**
 * Why a collective failed while it ran: a peer failed, or contributions did not fit together.
 *
 * @example
 * ```ts
 * yield* world.allreduce(x, Op.SUM).pipe(Effect.catchTag("RankFailed", (e) => Effect.logError(`lost rank ${e.rank}`)))
 * ```
 */
export type CollectiveFailure = SendFailure | DecodeError | InvalidArgument | DatatypeMismatch | MessageInvalid

/**
 * Every error a blocking collective may fail with.
 *
 * @example
 * ```ts
 * const all: Effect.Effect<Array<number>, Comm.CollectiveError> = world.allgather(world.rank)
 * ```
 */
export type CollectiveError = CollectiveInvalid | CollectiveFailure
