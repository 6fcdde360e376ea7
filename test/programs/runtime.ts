/**
 * What a rank's program sees of the runtime rankflow runs it in.
 */
import { Effect, References } from "effect"
import { getHeapSpaceStatistics } from "node:v8"

/** Effect's operation budget before a fiber yields: the rank's default, and the program's own where it provides one. */
export const yieldBudget = Effect.gen(function*() {
  const rankDefault = yield* References.MaxOpsBeforeYield
  const own = yield* Effect.provideService(References.MaxOpsBeforeYield, 512)(References.MaxOpsBeforeYield)
  return { rankDefault, own }
})

/** Megabytes of the rank's V8 new space (one semi-space) as its isolate started. */
export const newSpaceMb = Effect.sync(() => {
  const space = getHeapSpaceStatistics().find((s) => s.space_name === "new_space")
  return space === undefined ? undefined : space.space_size / 2 ** 20
})
