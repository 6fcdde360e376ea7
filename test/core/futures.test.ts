/**
 * The pool executor on shm and NATS, on 1, 2, 4 and 8 ranks: each test runs a
 * rank program from test/programs/futures.ts (CommExecutor at rank 0, the
 * others serving) that checks its rule at the root.
 */
import { describe, it } from "@effect/vitest"
import { program, SIZES, TRANSPORTS, useWorlds } from "../support/worlds.ts"

const cases = TRANSPORTS.flatMap((transport) => SIZES.map((size) => [transport, size] as const))

describe.each(cases)("the pool executor on %s, %i ranks", (transport, size) => {
  const worlds = useWorlds({ transport })
  const run = (name: string) => worlds.run(size, program("futures.ts", name))

  it.effect("submit: pow(2, 8), poll, await, numWorkers, a task returning an Effect", () => run("submit"))
  it.effect("map against a local map for chunk sizes 1/6/40/50 and buffer sizes; unordered as a set; starmap", () => run("map"))
  it.effect("TaskFailed with the remote error; a map fails at the third item; encoding errors leave the pool usable", () => run("errors"))
  it.effect("map's timeout; cancel; shutdown with cancelFutures; no submissions after shutdown", () => run("timeoutsAndShutdown"))
  it.effect("an initializer on every worker; maxWorkers", () => run("initializer"))
  it.effect("a failing initializer breaks the pool", () => run("brokenInitializer"))
  it.effect("maxWorkers 0 is an error on every rank", () => run("badOptions"))
})

describe.each(TRANSPORTS)("PoolExecutor.make outside a --pool job (%s)", (transport) => {
  const worlds = useWorlds({ transport, universe: 6 })
  it.effect("spawns its workers on the first submission, or at once with bootup, into the job's free slots; a worker that dies is replaced", () =>
    worlds.run(1, program("futures.ts", "spawnedPool")))
})
