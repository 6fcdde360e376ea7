/**
 * Running a collective, blocking or non-blocking. `start` does everything
 * that must happen at the call, synchronously: it checks the arguments
 * (throwing a typed error), takes the call's tag and encodes what it sends;
 * it returns the algorithm as an Effect. The non-blocking form runs that
 * Effect in the background as a `Request`, so the tag is taken in call
 * order even though the work progresses later.
 */
import { Effect } from "effect"
import type { CommState } from "../comm/CommState.ts"
import type { Request } from "../messaging/Request.ts"
import * as Requests from "../messaging/Request.ts"
import { type CollectiveInvalid, isTypedError } from "./checks.ts"

/** A typed error that `start` threw, as the call's failure; anything else is a defect and is thrown on. */
const invalidOrThrow = (e: unknown): CollectiveInvalid => {
  if (isTypedError(e)) return e as CollectiveInvalid
  throw e
}

/** Runs a collective and waits for it. */
export const blocking = <A, E>(start: () => Effect.Effect<A, E>): Effect.Effect<A, E | CollectiveInvalid> =>
  Effect.suspend((startNow<A, E>).bind(undefined, start))

/** `start`'s algorithm, or its typed error as a failure. (Bound per call, not a closure: see messaging/completion.ts.) */
function startNow<A, E>(start: () => Effect.Effect<A, E>): Effect.Effect<A, E | CollectiveInvalid> {
  try {
    return start()
  } catch (e) {
    return Effect.fail(invalidOrThrow(e))
  }
}

/** Starts a collective and returns its request at once (the `i`-prefixed forms). */
export const nonBlocking = <A, E>(c: CommState, start: () => Effect.Effect<A, E>): Effect.Effect<Request<A, E>, CollectiveInvalid> =>
  Effect.suspend((startRequest<A, E>).bind(undefined, c, start))

/** `start`'s algorithm running in the background as a request, or its typed error as a failure. */
function startRequest<A, E>(c: CommState, start: () => Effect.Effect<A, E>): Effect.Effect<Request<A, E>, CollectiveInvalid> {
  let run: Effect.Effect<A, E>
  try {
    run = start()
  } catch (e) {
    return Effect.fail(invalidOrThrow(e))
  }
  return Requests.fromEffect(run, c.engine.transport)
}
