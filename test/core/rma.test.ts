/**
 * Windows on shm and NATS, on 1, 2, 3, 4 and 8 ranks: each test runs a rank
 * program from test/programs/rma.ts that checks its rule on every rank.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { program, TRANSPORTS, useWorlds } from "../support/worlds.ts"

const SIZES = [1, 2, 3, 4, 8] as const
const cases = TRANSPORTS.flatMap((transport) => SIZES.map((size) => [transport, size] as const))

describe.each(cases)("windows on %s, %i ranks", (transport, size) => {
  const worlds = useWorlds({ transport })
  const run = (name: string, ...args: ReadonlyArray<unknown>) => worlds.run(size, program("rma.ts", name, ...args))

  it.effect("put and get under fence, guards untouched, fence assertions", () => run("putGetFence"))
  it.effect("accumulate with SUM, MAX, MIN, PROD, NO_OP; getAccumulate with REPLACE under lock", () => run("accumulateOps"))
  it.effect("a shared counter from fetchAndOp under lock hands out 0..5·size−1; one compareAndSwap wins", () => run("counter"))
  it.effect("post/start/complete/wait", () => run("pscw"))
  it.effect("rput/rget requests, lockAll, PROC_NULL, a window over existing memory", () => run("requestsAndProcNull"))
  it.effect("errors name the operation and target, and the window stays usable", () => run("errors"))
  it.effect("a dynamic window: attach, addresses, put and get through them, errors outside them and after detach", () => run("dynamicWindow"))
  it.effect("derived datatypes as target layouts, origins and results (window memory from allocate)", () => run("derivedLayouts", "allocate"))
  it.effect("derived datatypes as target layouts, origins and results (a window over private memory)", () => run("derivedLayouts", "private"))
  // The direct path (shm): passive target needs nothing from the target's thread.
  it.effect.skipIf(transport !== "shm" || size < 2)("passive target while the target's thread is busy, over Win.allocate and over Win.create of comm.alloc memory", () =>
    Effect.andThen(run("passiveWhileBusy", "allocate"), run("passiveWhileBusy", "create")))
  it.effect(transport === "shm" ? "allocateShared: direct loads and stores into every rank's part" : "allocateShared says it needs shared memory", () =>
    worlds.run(size, program("rma.ts", "sharedWindow", transport === "shm")))
})

const deadCases = TRANSPORTS.flatMap((transport) => [2, 4].map((size) => [transport, size] as const))

describe.each(deadCases)("a rank that fails, on %s, %i ranks", (transport, size) => {
  const worlds = useWorlds({ transport })
  it.effect("releases the lock it held, and operations on its window fail with its RankFailed", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "rankflow-rma-"))
      const file = join(dir, "seen.json")
      const error = yield* Effect.flip(worlds.run(size, program("rma.ts", "deadPeer", file)))
      expect((error as { _tag: string })._tag).toBe("RankFailed")
      expect((error as { rank: number }).rank).toBe(1)
      const seen = JSON.parse(readFileSync(file, "utf8"))
      rmSync(dir, { recursive: true, force: true })
      expect(seen).toMatchObject({ tag: "WinError", target: 1, cause: "RankFailed", causeRank: 1 })
    }), 60_000)
})
