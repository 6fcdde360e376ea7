/**
 * Wall-clock timers (MPI_Wtime / MPI_Wtick): seconds as a double from an
 * arbitrary origin fixed for the process, and the timer's resolution.
 */
import { Effect } from "effect"

/**
 * Seconds since an arbitrary origin (MPI_Wtime).
 *
 * @example
 * ```ts
 * const t0 = yield* wtime()
 * yield* world.barrier()
 * yield* Effect.log(`barrier took ${(yield* wtime()) - t0} s`)
 * ```
 */
export const wtime = (): Effect.Effect<number> => Effect.sync(() => (performance.timeOrigin + performance.now()) / 1000)

let tick: number | undefined

const measureTick = (): number => {
  let best = Infinity
  for (let i = 0; i < 1000; i++) {
    const a = performance.now()
    let b = performance.now()
    while (b === a) b = performance.now()
    best = Math.min(best, b - a)
  }
  return Math.max(best / 1000, 1e-9)
}

/**
 * The resolution of `wtime` in seconds (MPI_Wtick).
 *
 * @example
 * ```ts
 * const resolution = yield* wtick()   // seconds between two distinct wtime() values
 * ```
 */
export const wtick = (): Effect.Effect<number> => Effect.sync(() => (tick ??= measureTick()))
