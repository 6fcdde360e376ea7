/** Every example runs, on the rank counts it is meant for, and computes what it says. */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as World from "../../core/World.ts"

const example = (name: string) => new URL(`../../examples/${name}`, import.meta.url)

describe("examples", () => {
  it.effect.each([1, 2, 4, 8])("hello.ts on %i ranks", (size) =>
    Effect.gen(function*() {
      const results = yield* World.run(example("hello.ts"), { size, prefixOutput: false })
      expect(results).toEqual(Array.from({ length: size }, (_, i) => i))
    }))

  it.effect("arrays.ts on 2 ranks: explicit and automatic datatypes", () =>
    Effect.gen(function*() {
      const results = yield* World.run(example("arrays.ts"), { size: 2, prefixOutput: false })
      expect(results[1]).toBe(4950)
    }))

  it.effect.each([1, 2, 4, 8])("ring.ts on %i ranks: every rank sums all ranks", (size) =>
    Effect.gen(function*() {
      const results = yield* World.run(example("ring.ts"), { size, prefixOutput: false })
      expect(results).toEqual(new Array(size).fill((size * (size - 1)) / 2))
    }))
})
