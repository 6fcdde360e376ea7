/**
 * Turns a callback that may complete synchronously or later into an Effect,
 * without an async boundary when it completes at once: a small message sent
 * into a ring, or a receive whose message already arrived, costs no suspension.
 */
import { Effect, type Exit } from "effect"
import { defer } from "./defer.ts"

export type Settle<A, E> = (exit: Exit.Exit<A, E>) => void

/** Something to poll while waiting briefly before suspending (the transport). */
export interface Spin {
  readonly spinMicros: number
  poll(): boolean
}

/**
 * Polls `spin` while `waiting()`, until `spin.spinMicros` pass without
 * progress: a transfer that keeps moving keeps the spin going, an idle wait
 * gives up after the budget (and sleeps).
 */
export const spinWhile = (spin: Spin, waiting: () => boolean): void => {
  const budget = spin.spinMicros / 1000
  let deadline = performance.now() + budget
  while (waiting()) {
    const now = performance.now()
    if (spin.poll()) deadline = now + budget
    else if (now >= deadline) return
  }
}

/**
 * Runs `start`; if it settles synchronously the result is returned directly.
 * Otherwise, with `spin`, polls it for up to `spin.spinMicros` (a thread
 * wake-up costs far more), then suspends until it settles; the resumption is
 * deferred out of the caller of `settle` (see defer.ts). `start` may return a
 * cancel function, run if the fiber is interrupted while waiting.
 */
export const completion = <A, E>(start: (settle: Settle<A, E>) => (() => void) | void, spin?: Spin): Effect.Effect<A, E> =>
  Effect.suspend(() => completeNow(start, spin))

/**
 * The body of `completion`, for callers already inside `Effect.suspend`: runs
 * `start` now (one closure and one Effect fewer per message on hot paths).
 */
export const completeNow = <A, E>(start: (settle: Settle<A, E>) => (() => void) | void, spin?: Spin): Effect.Effect<A, E> => {
  let result: Exit.Exit<A, E> | undefined
  let resume: ((effect: Effect.Effect<A, E>) => void) | undefined
  const cancel = start((exit) => {
    if (resume !== undefined) {
      const r = resume
      resume = undefined
      defer(() => r(exit))
    } else if (result === undefined) result = exit
  })
  if (result === undefined && spin !== undefined && spin.spinMicros > 0) spinWhile(spin, () => result === undefined)
  if (result !== undefined) return result
  return Effect.callback<A, E>((r) => {
    if (result !== undefined) return r(result)
    resume = r
    if (cancel) return Effect.sync(cancel)
  })
}
