/**
 * The young generation of an shm rank's heap (`YoungGeneration.ts`,
 * `ShmOptions.minSemiSpaceMb` and `youngGenerationMb`): which jobs get a
 * floor or a cap, that the process's flag is the largest floor held and
 * V8's own once none is, and that a rank's isolate starts with the floor.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as World from "../../core/launching/World.ts"
import { geometry } from "../../transports/shm/Layout.ts"
import { SemiSpaceFloor, semiSpaceFloor, semiSpaceFloorOf, youngGenerationCapOf } from "../../transports/shm/YoungGeneration.ts"
import { program } from "../support/worlds.ts"

describe("which jobs get a floor or a cap", () => {
  it("a floor of 16 MB where the ranks fit the cores and no cap is given; minSemiSpaceMb given decides", () => {
    expect(semiSpaceFloorOf({}, 2, 2)).toBe(16)
    expect(semiSpaceFloorOf({}, 1, 8)).toBe(16)
    expect(semiSpaceFloorOf({}, 3, 2)).toBe(0)
    expect(semiSpaceFloorOf({ youngGenerationMb: 24 }, 2, 2)).toBe(0)
    expect(semiSpaceFloorOf({ minSemiSpaceMb: 0 }, 2, 2)).toBe(0)
    expect(semiSpaceFloorOf({ minSemiSpaceMb: 4 }, 8, 2)).toBe(4)
  })

  it("a cap of 8 MB where ranks outnumber the cores; youngGenerationMb given decides", () => {
    expect(youngGenerationCapOf({}, 2, 2)).toBeUndefined()
    expect(youngGenerationCapOf({}, 3, 2)).toBe(8)
    expect(youngGenerationCapOf({ youngGenerationMb: 32 }, 3, 2)).toBe(32)
  })

  it("a floor that is not a whole number of megabytes from 0 to 1024 is refused, naming the option", () => {
    for (const bad of [-1, 1.5, 2048, Number.NaN]) {
      expect(() => geometry(2, { minSemiSpaceMb: bad }, 2)).toThrow(/minSemiSpaceMb/)
    }
    expect(geometry(2, { minSemiSpaceMb: 0 }, 2).size).toBe(2)
  })
})

describe("the floor switch", () => {
  it("sets the largest floor held, and V8's own (0) after the last release (each release counts once)", () => {
    const set: Array<string> = []
    const sw = new SemiSpaceFloor((f) => set.push(f), [])
    const a = sw.hold(16)
    const b = sw.hold(32)
    const c = sw.hold(16)
    expect(set).toEqual(["--min-semi-space-size=16", "--min-semi-space-size=32"])
    expect(sw.current).toBe(32)
    b()
    b()
    expect(sw.current).toBe(16)
    a()
    expect(set).toEqual(["--min-semi-space-size=16", "--min-semi-space-size=32", "--min-semi-space-size=16"])
    c()
    expect(set.at(-1)).toBe("--min-semi-space-size=0")
    expect(sw.current).toBe(0)
    sw.hold(0)()
    expect(set).toHaveLength(4)
  })

  it("a runtime that refuses the flag leaves V8's sizing alone from then on, and holding still works", () => {
    let calls = 0
    const sw = new SemiSpaceFloor(() => {
      calls++
      throw new Error("flags are frozen")
    }, [])
    expect(() => sw.hold(16)()).not.toThrow()
    sw.hold(32)()
    expect(calls).toBe(1)
    expect(sw.current).toBe(0)
  })

  it("never touches a process started with a floor of its own", () => {
    for (const own of ["--min-semi-space-size=8", "--min_semi_space_size=8"]) {
      const set: Array<string> = []
      const sw = new SemiSpaceFloor((f) => set.push(f), ["--enable-source-maps", own])
      sw.hold(16)()
      expect(set).toEqual([])
    }
  })
})

describe("an shm job", () => {
  const newSpace = program("runtime.ts", "newSpaceMb")
  const run = (transportOptions: Record<string, unknown>) =>
    Effect.scoped(Effect.gen(function*() {
      const world = yield* World.make({ size: 1, prefixOutput: false, transportOptions })
      const [mb] = yield* world.run(newSpace)
      return { mb: mb as number, during: semiSpaceFloor.current }
    }))

  it.effect("whose one rank fits the cores starts it with 16 MB semi-spaces, holding the floor only while it runs", () =>
    Effect.gen(function*() {
      const before = semiSpaceFloor.current
      const { mb, during } = yield* run({})
      expect(during).toBe(Math.max(before, 16))
      expect(mb).toBeGreaterThanOrEqual(16)
      expect(semiSpaceFloor.current).toBe(before)
    }), 60_000)

  it.effect("given minSemiSpaceMb starts its ranks with that floor; given 0, holds none", () =>
    Effect.gen(function*() {
      const before = semiSpaceFloor.current
      const larger = yield* run({ minSemiSpaceMb: 32 })
      expect(larger.during).toBe(Math.max(before, 32))
      expect(larger.mb).toBeGreaterThanOrEqual(32)
      const none = yield* run({ minSemiSpaceMb: 0 })
      expect(none.during).toBe(before)
    }), 60_000)
})
