/**
 * Intercommunicators on shm and NATS, on 2, 3, 4 and 8 ranks (the world split
 * into its even and odd ranks): each test runs a rank program from
 * test/programs/intercomm.ts that checks its rule on every rank.
 */
import { describe, it } from "@effect/vitest"
import { program, TRANSPORTS, useWorlds } from "../support/worlds.ts"

const cases = TRANSPORTS.flatMap((transport) => [2, 3, 4, 8].map((size) => [transport, size] as const))

describe.each(cases)("intercommunicators on %s, %i ranks", (transport, size) => {
  const worlds = useWorlds({ transport })
  const run = (name: string) => worlds.run(size, program("intercomm.ts", name))
  it.effect("sizes, point-to-point by remote rank, barrier, bcast, gather, scatter, allgather, allreduce, alltoall, a bad root", () => run("basics"))
  it.effect("reduce at the root of one group of the other group's values", () => run("reduceToRoot"))
  it.effect("merge in either order keeps the groups' world ranks; disconnect", () => run("mergeAndDisconnect"))
})
