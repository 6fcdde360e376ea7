/**
 * Assertions inside rank programs: a failed check fails the rank with a
 * typed error, which fails the run with RankFailed naming the rank and the check.
 */
import { Data, Effect } from "effect"
import { isDeepStrictEqual, inspect } from "node:util"

export class CheckFailed extends Data.TaggedError("CheckFailed")<{ readonly message: string }> {}

export const check = (condition: boolean, message: string): Effect.Effect<void, CheckFailed> =>
  condition ? Effect.void : Effect.fail(new CheckFailed({ message }))

export const checkEqual = (actual: unknown, expected: unknown, what: string): Effect.Effect<void, CheckFailed> =>
  isDeepStrictEqual(actual, expected)
    ? Effect.void
    : Effect.fail(new CheckFailed({ message: `${what}: expected ${inspect(expected, { depth: 4 })}, got ${inspect(actual, { depth: 4 })}` }))
