/**
 * The Effect runtime a rank runs its program in, on both transports.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { RANK_MAX_OPS_BEFORE_YIELD } from "../../core/launching/runner.ts"
import { program, TRANSPORTS, useWorlds } from "../support/worlds.ts"

for (const transport of TRANSPORTS) {
  describe(`a rank's runtime (${transport})`, () => {
    const worlds = useWorlds({ transport })

    it.effect("fibers yield to the event loop after the rank's operation budget (8× Effect's), and a program may provide its own", () =>
      Effect.gen(function*() {
        const seen = yield* worlds.run<{ rankDefault: number; own: number }>(2, program("runtime.ts", "yieldBudget"))
        expect(RANK_MAX_OPS_BEFORE_YIELD).toBe(16_384)
        expect(seen).toEqual([{ rankDefault: 16_384, own: 512 }, { rankDefault: 16_384, own: 512 }])
      }), 60_000)
  })
}
