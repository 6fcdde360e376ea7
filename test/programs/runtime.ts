/**
 * What a rank's program sees of the runtime rankflow runs it in.
 */
import { Effect, References } from "effect"

/** Effect's operation budget before a fiber yields: the rank's default, and the program's own where it provides one. */
export const yieldBudget = Effect.gen(function*() {
  const rankDefault = yield* References.MaxOpsBeforeYield
  const own = yield* Effect.provideService(References.MaxOpsBeforeYield, 512)(References.MaxOpsBeforeYield)
  return { rankDefault, own }
})
