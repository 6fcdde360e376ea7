/**
 * A GPU device for a test file: acquired once in `beforeAll` (under vitest's
 * worker threads, acquiring an adapter inside a test body crashed dawn.node,
 * see NOTES), released in `afterAll`; tests provide its context.
 */
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { afterAll, beforeAll } from "vitest"
import * as Gpu from "../../gpu/Gpu.ts"

export interface TestDevice {
  /** Runs an effect that needs the device. */
  provide<A, E>(effect: Effect.Effect<A, E, Gpu.Device | Scope.Scope>): Effect.Effect<A, E>
  /** The device itself (valid from the first test on). */
  readonly gpu: () => Gpu.GpuDevice
}

export const useGpu = (): TestDevice => {
  let scope: Scope.Closeable | undefined
  let context: Context.Context<Gpu.Device> | undefined
  beforeAll(async () => {
    scope = await Effect.runPromise(Scope.make())
    context = await Effect.runPromise(Layer.buildWithScope(Gpu.layer(), scope))
  }, 120_000)
  afterAll(async () => {
    if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
  }, 120_000)
  return {
    provide: (effect) => effect.pipe(Effect.scoped, Effect.provide(context!)),
    gpu: () => Context.get(context!, Gpu.Device)
  }
}

/** A deterministic generator of floats in ±[0.5, 1.5) (never zero), seeded per test. */
export const randoms = (seed: number) => {
  let s = seed >>> 0 || 1
  const next = () => {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    return s / 4294967296
  }
  return {
    next,
    /** A float in ±[0.5, 1.5). */
    value: () => (next() < 0.5 ? -1 : 1) * (0.5 + next()),
    /** An integer in [lo, hi], never 0 unless lo..hi is only 0. */
    int: (lo: number, hi: number) => {
      const v = lo + Math.floor(next() * (hi - lo + 1))
      return v === 0 ? (hi > 0 ? 1 : -1) : v
    }
  }
}
