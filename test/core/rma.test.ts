/**
 * Windows on shm and NATS, on 1, 2, 3, 4 and 8 ranks: each test runs a rank
 * program from test/programs/rma.ts that checks its rule on every rank.
 */
import { describe, it } from "@effect/vitest"
import { program, TRANSPORTS, useWorlds } from "../support/worlds.ts"

const SIZES = [1, 2, 3, 4, 8] as const
const cases = TRANSPORTS.flatMap((transport) => SIZES.map((size) => [transport, size] as const))

describe.each(cases)("windows on %s, %i ranks", (transport, size) => {
  const worlds = useWorlds({ transport })
  const run = (name: string) => worlds.run(size, program("rma.ts", name))

  it.effect("put and get under fence, guards untouched, fence assertions", () => run("putGetFence"))
  it.effect("accumulate with SUM, MAX, MIN, PROD, NO_OP; getAccumulate with REPLACE under lock", () => run("accumulateOps"))
  it.effect("a shared counter from fetchAndOp under lock hands out 0..5·size−1; one compareAndSwap wins", () => run("counter"))
  it.effect("post/start/complete/wait", () => run("pscw"))
  it.effect("rput/rget requests, lockAll, PROC_NULL, a window over existing memory", () => run("requestsAndProcNull"))
  it.effect("errors name the operation and target, and the window stays usable", () => run("errors"))
  it.effect("a dynamic window: attach, addresses, put and get through them, errors outside them and after detach", () => run("dynamicWindow"))
  it.effect(transport === "shm" ? "allocateShared: direct loads and stores into every rank's part" : "allocateShared says it needs shared memory", () =>
    worlds.run(size, program("rma.ts", "sharedWindow", transport === "shm")))
})
