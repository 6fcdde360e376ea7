/**
 * Ports and names (comm.accept/connect, Comm.openPort, publishName,
 * lookupName) on shm and NATS, on 1, 2, 4 and 8 ranks: each test runs a rank
 * program of test/programs/ports.ts that checks its rule on every rank.
 */
import { describe, it } from "@effect/vitest"
import { program, SIZES, TRANSPORTS, useWorlds } from "../support/worlds.ts"

const cases = TRANSPORTS.flatMap((transport) => SIZES.map((size) => [transport, size] as const))

describe.each(cases)("ports on %s, %i ranks", (transport, size) => {
  const worlds = useWorlds({ transport })
  const run = (name: string) => worlds.run(size, program("ports.ts", name))
  it.effect("names: publish, look up, unpublish; refusals are PortErrors on every rank", () => run("names"))
  if (size >= 2) {
    it.effect("the evens accept, the odds connect: sizes, bcast and allreduce across, merge, disconnect, close", () => run("acceptConnect"))
    it.effect("a second accept on a port is refused", () => run("twoAccepts"))
  }
})
