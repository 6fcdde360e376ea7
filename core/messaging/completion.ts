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
  /** How long to poll busily without progress before sleeping (or suspending). */
  readonly spinMicros: number
  poll(): boolean
  /** Where present, the spin budget of a wait that begins now, in place of `spinMicros`. */
  readonly spinBudget?: () => number
  /** Called when a wait in place gives up (or, without a budget, begins) and its waiter suspends. */
  readonly park?: () => void
  /** Called between polls that found nothing, with the microseconds spun since the last progress: may let another runnable thread have the core (absent: a plain spin). */
  pause?(spun: number): void
  /** After the busy spin, how long to sleep in `sleep` without progress before suspending; 0 or absent: never. */
  readonly sleepMicros?: number
  /**
   * Blocks the thread until news may have come or `micros` passed. It first
   * announces that it may sleep, then asks `idle()` (which looks for news
   * once more, so that news sent before the announcement is not missed) and
   * sleeps only if it says there is none.
   */
  sleep?(micros: number, idle: () => boolean): void
}

/** Whether a waiter should wait synchronously on `spin` (spinning or sleeping) before it suspends, or tell it that it suspends (`park`). */
export const waitsInPlace = (spin: Spin): boolean =>
  spin.spinMicros > 0 || (spin.sleepMicros ?? 0) > 0 || spin.spinBudget !== undefined || spin.park !== undefined

/**
 * Polls `spin` while `waiting()`, until `spin.spinMicros` (or the budget
 * `spin.spinBudget` gives) pass without progress, then (where the transport
 * can) sleeps in `spin.sleep` until `spin.sleepMicros` more pass without
 * progress: a transfer that keeps moving keeps the wait going, an idle wait
 * gives up after the budgets, tells `spin.park`, and its caller suspends.
 */
export const spinWhile = (spin: Spin, waiting: () => boolean): void => {
  const busy = (spin.spinBudget !== undefined ? spin.spinBudget() : spin.spinMicros) / 1000
  const sleeping = spin.sleep !== undefined ? (spin.sleepMicros ?? 0) / 1000 : 0
  if (busy <= 0 && sleeping <= 0) return spin.park?.()
  let moved = performance.now()
  // Made only once a wait comes to sleep (no closure per receive that merely spins).
  let idle: (() => boolean) | undefined
  while (waiting()) {
    const now = performance.now()
    if (spin.poll()) moved = now
    else if (now - moved < busy) spin.pause?.((now - moved) * 1000)
    else {
      const left = moved + busy + sleeping - now
      if (left <= 0) return spin.park?.()
      spin.sleep!(left * 1000, (idle ??= () => waiting() && !spin.poll()))
    }
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
  if (result === undefined && spin !== undefined && waitsInPlace(spin)) spinWhile(spin, () => result === undefined)
  if (result !== undefined) return result
  return Effect.callback<A, E>((r) => {
    if (result !== undefined) return r(result)
    resume = r
    if (cancel) return Effect.sync(cancel)
  })
}
