/**
 * comm.spawn on shm, on 1, 2 and 4 parent ranks in a universe of 12, and on
 * NATS: each test runs a rank program of test/programs/spawn.ts that checks
 * its rule on every parent and every spawned rank. (A run that spawned
 * restarts the world's ranks for the next, so each test gets every free slot.)
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program, useWorlds } from "../support/worlds.ts"

const UNIVERSE = 12
const spawn = (name: string, ...args: ReadonlyArray<unknown>) => program("spawn.ts", name, ...args)

describe.each([1, 2, 4])("spawn on shm, %i parent ranks", (size) => {
  const worlds = useWorlds({ universe: UNIVERSE })
  const run = (name: string, ...args: ReadonlyArray<unknown>) => worlds.run(size, spawn(name, ...args))
  it.effect("maxprocs 1 and 3: sizes, a barrier through the intercomm, the root's arguments only, disconnect", () => run("basics"))
  it.effect("spawnMultiple: one remote group of every program's ranks, in order", () => run("multiple"))
  it.effect("merge: the parents first, then the spawned ranks", () => run("merge"))
  it.effect("the cpi master/worker: bcast n with ROOT, reduce π back", () =>
    Effect.gen(function*() {
      const results = yield* run("cpi")
      expect(Math.abs((results[0] as number) - Math.PI)).toBeLessThan(1e-8)
    }))
  it.effect("bad arguments, a missing program, one that fails to load, too many ranks: SpawnError on every rank", () => run("errors", UNIVERSE))
})

describe("spawn failures", () => {
  const worlds = useWorlds({ universe: 6 })
  it.effect("a spawned rank that fails fails the run with RankFailed naming it", () =>
    Effect.gen(function*() {
      const error = (yield* Effect.flip(worlds.run(2, spawn("childFails")))) as { _tag: string; message: string }
      expect(error._tag).toBe("RankFailed")
      expect(error.message).toMatch(/rank [23] failed: .*spawned rank [01] gives up/)
      // The world's next run starts fresh ranks, with every slot free.
      yield* worlds.run(2, spawn("cpi"))
    }))
})

// On NATS the spare ranks of the universe are processes started with the job, which wait until a spawn gives them a program.
describe("spawn on nats, 2 parent ranks in a universe of 7", () => {
  const worlds = useWorlds({ transport: "nats", universe: 7 })
  const run = (name: string, ...args: ReadonlyArray<unknown>) => worlds.run(2, spawn(name, ...args))
  it.effect("maxprocs 1 and 3: sizes, a barrier through the intercomm, the root's arguments only, disconnect", () => run("basics"))
  it.effect("the cpi master/worker: bcast n with ROOT, reduce π back", () => run("cpi"))
  it.effect("bad arguments, a missing program, one that fails to load, too many ranks: SpawnError on every rank", () => run("errors", 7))
})
