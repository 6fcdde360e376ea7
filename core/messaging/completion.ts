/**
 * Turns a callback that may complete synchronously or later into an Effect,
 * without an async boundary when it completes at once: a small message sent
 * into a ring, or a receive whose message already arrived, costs no suspension.
 */
import { Effect, Exit } from "effect"
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
 * Polls `spin` while `waiting(arg)`, until `spin.spinMicros` (or the budget
 * `spin.spinBudget` gives) pass without progress, then (where the transport
 * can) sleeps in `spin.sleep` until `spin.sleepMicros` more pass without
 * progress: a transfer that keeps moving keeps the wait going, an idle wait
 * gives up after the budgets, tells `spin.park`, and its caller suspends.
 * (`waiting` takes its state as `arg` so that callers pass a module-level
 * function, not a closure per wait: see "Code that outlives a collection"
 * below.)
 */
export const spinWhile = <T = undefined>(spin: Spin, waiting: (arg: T) => boolean, arg?: T): void => {
  const busy = (spin.spinBudget !== undefined ? spin.spinBudget() : spin.spinMicros) / 1000
  const sleeping = spin.sleep !== undefined ? (spin.sleepMicros ?? 0) / 1000 : 0
  if (busy <= 0 && sleeping <= 0) return spin.park?.()
  let moved = performance.now()
  // Made only once a wait comes to sleep (no closure per receive that merely spins).
  let idle: (() => boolean) | undefined
  while (waiting(arg as T)) {
    const now = performance.now()
    if (spin.poll()) moved = now
    else if (now - moved < busy) spin.pause?.((now - moved) * 1000)
    else {
      const left = moved + busy + sleeping - now
      if (left <= 0) return spin.park?.()
      spin.sleep!(left * 1000, (idle ??= () => waiting(arg as T) && !spin.poll()))
    }
  }
}

/*
 * Code that outlives a collection. V8 keeps the optimized code of a closure
 * written inside a function only while some closure made there is alive: a
 * major collection that finds none drops it, and the next call compiles it
 * again on a background thread (Maglev, then TurboFan: 0.3-1.5 ms each).
 * Where ranks fill the cores that compile preempts a rank, and its peers wait
 * for it. A closure made per message dies with the message, so after every
 * major collection (a large message's buffers bring them on) the hot path
 * compiled anew. The hot paths therefore make no closures: they bind
 * module-level functions (`f.bind(undefined, state)`, as cheap as a closure,
 * and the function and its code live as long as the module) or call methods.
 */

/**
 * Runs `start`; if it settles synchronously the result is returned directly.
 * Otherwise, with `spin`, polls it for up to `spin.spinMicros` (a thread
 * wake-up costs far more), then suspends until it settles; the resumption is
 * deferred out of the caller of `settle` (see defer.ts). `start` may return a
 * cancel function, run if the fiber is interrupted while waiting.
 */
export const completion = <A, E>(start: (settle: Settle<A, E>) => (() => void) | void, spin?: Spin): Effect.Effect<A, E> =>
  Effect.suspend((completeNow<A, E>).bind(undefined, start, spin))

/** A completion's state: its result once settled, or the resumption of the fiber waiting for it. */
interface Completing<A, E> {
  result: Exit.Exit<A, E> | undefined
  resume: ((effect: Effect.Effect<A, E>) => void) | undefined
  cancel: (() => void) | void
}

function settleCompleting<A, E>(state: Completing<A, E>, exit: Exit.Exit<A, E>): void {
  if (state.resume !== undefined) {
    const r = state.resume
    state.resume = undefined
    defer(r.bind(undefined, exit))
  } else if (state.result === undefined) state.result = exit
}

const unsettled = (state: { readonly result: unknown }): boolean => state.result === undefined

function awaitCompleting<A, E>(state: Completing<A, E>, resume: (effect: Effect.Effect<A, E>) => void): Effect.Effect<void> | void {
  if (state.result !== undefined) return resume(state.result)
  state.resume = resume
  if (state.cancel) return Effect.sync(state.cancel)
}

/**
 * The body of `completion`, for callers already inside `Effect.suspend`: runs
 * `start` now (one closure and one Effect fewer per message on hot paths).
 */
export const completeNow = <A, E>(start: (settle: Settle<A, E>) => (() => void) | void, spin?: Spin): Effect.Effect<A, E> => {
  const state: Completing<A, E> = { result: undefined, resume: undefined, cancel: undefined }
  state.cancel = start((settleCompleting<A, E>).bind(undefined, state))
  if (state.result === undefined && spin !== undefined && waitsInPlace(spin)) spinWhile(spin, unsettled, state)
  if (state.result !== undefined) return state.result
  return Effect.callback<A, E>((awaitCompleting<A, E>).bind(undefined, state))
}

/*
 * Effects that may have completed at the call. A collective on a board that
 * the other ranks reached first, or a send into a ring, returns its Exit at
 * once; these apply the next step to it directly instead of queueing one
 * more step on the fiber's run loop (~80 ns each). Otherwise they are
 * `Effect.as`, `Effect.map` and `Effect.flatMap`.
 */

/** The Exit `effect` already is, or undefined where it has yet to run. */
const doneNow = <A, E>(effect: Effect.Effect<A, E>): Exit.Exit<A, E> | undefined => Exit.isExit(effect) ? (effect as Exit.Exit<A, E>) : undefined

/** `Effect.as(effect, value)`, at once where `effect` is already an Exit. */
export const asNow = <A, B, E>(effect: Effect.Effect<A, E>, value: B): Effect.Effect<B, E> => {
  const done = doneNow(effect)
  if (done === undefined) return Effect.as(effect, value)
  return Exit.isSuccess(done) ? Exit.succeed(value) : (done as Exit.Exit<never, E>)
}

/** `Effect.map(effect, f)`, at once where `effect` is already an Exit. */
export const mapNow = <A, B, E>(effect: Effect.Effect<A, E>, f: (a: A) => B): Effect.Effect<B, E> => {
  const done = doneNow(effect)
  if (done === undefined) return Effect.map(effect, f)
  return Exit.isSuccess(done) ? Exit.succeed(f(done.value)) : (done as Exit.Exit<never, E>)
}

/** `Effect.flatMap(effect, f)`, at once where `effect` is already an Exit. */
export const flatMapNow = <A, B, E, E2>(effect: Effect.Effect<A, E>, f: (a: A) => Effect.Effect<B, E2>): Effect.Effect<B, E | E2> => {
  const done = doneNow(effect)
  if (done === undefined) return Effect.flatMap(effect, f)
  return Exit.isSuccess(done) ? f(done.value) : (done as Exit.Exit<never, E>)
}
