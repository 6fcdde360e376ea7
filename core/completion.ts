/**
 * Turns a callback that may complete synchronously or later into an Effect,
 * without an async boundary when it completes at once: a small message sent
 * into a ring, or a receive whose message already arrived, costs no suspension.
 */
import { Effect, type Exit } from "effect"

export type Settle<A, E> = (exit: Exit.Exit<A, E>) => void

/**
 * Runs `start`; if it settles synchronously the result is returned directly,
 * otherwise the fiber suspends until it settles. `start` may return a cancel
 * function, run if the fiber is interrupted while waiting.
 */
export const completion = <A, E>(start: (settle: Settle<A, E>) => (() => void) | void): Effect.Effect<A, E> =>
  Effect.suspend(() => {
    let result: Exit.Exit<A, E> | undefined
    let resume: ((effect: Effect.Effect<A, E>) => void) | undefined
    const cancel = start((exit) => {
      if (resume !== undefined) {
        const r = resume
        resume = undefined
        r(exit)
      } else if (result === undefined) result = exit
    })
    if (result !== undefined) return result
    return Effect.callback<A, E>((r) => {
      if (result !== undefined) return r(result)
      resume = r
      if (cancel) return Effect.sync(cancel)
    })
  })
