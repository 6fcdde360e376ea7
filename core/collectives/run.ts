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

type Started<A, E> = { readonly run: Effect.Effect<A, E> } | { readonly invalid: CollectiveInvalid }

const started = <A, E>(start: () => Effect.Effect<A, E>): Started<A, E> => {
  try {
    return { run: start() }
  } catch (e) {
    if (isTypedError(e)) return { invalid: e as CollectiveInvalid }
    throw e
  }
}

/** Runs a collective and waits for it. */
export const blocking = <A, E>(start: () => Effect.Effect<A, E>): Effect.Effect<A, E | CollectiveInvalid> =>
  Effect.suspend((startNow<A, E>).bind(undefined, start))

/** `start`'s algorithm, or its typed error as a failure. (Bound per call, not a closure: see messaging/completion.ts.) */
function startNow<A, E>(start: () => Effect.Effect<A, E>): Effect.Effect<A, E | CollectiveInvalid> {
  try {
    return start()
  } catch (e) {
    if (isTypedError(e)) return Effect.fail(e as CollectiveInvalid)
    throw e
  }
}

/** Starts a collective and returns its request at once (the `i`-prefixed forms). */
export const nonBlocking = <A, E>(c: CommState, start: () => Effect.Effect<A, E>): Effect.Effect<Request<A, E>, CollectiveInvalid> =>
  Effect.suspend((): Effect.Effect<Request<A, E>, CollectiveInvalid> => {
    const s = started(start)
    return "run" in s ? Requests.fromEffect(s.run, c.engine.transport) : Effect.fail(s.invalid)
  })
