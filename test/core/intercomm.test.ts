/**
 * Intercommunicators on NATS, on 2, 4 and 8 ranks (the world split into its
 * even and odd ranks): each test runs a rank program from
 * test/programs/intercomm.ts that checks its rule on every rank. On shm the
 * same programs run in test/core/communicators.test.ts, on its worlds.
 */
import { describe, it } from "@effect/vitest"
import { program, useWorlds } from "../support/worlds.ts"

describe.each([2, 4, 8])("intercommunicators on nats, %i ranks", (size) => {
  const worlds = useWorlds({ transport: "nats" })
  const run = (name: string) => worlds.run(size, program("intercomm.ts", name))
  it.effect("sizes, point-to-point by remote rank, barrier, bcast, gather, scatter, allgather, allreduce, alltoall, a bad root", () => run("basics"))
  it.effect("reduce at the root of one group of the other group's values", () => run("reduceToRoot"))
  it.effect("merge in either order keeps the groups' world ranks; disconnect", () => run("mergeAndDisconnect"))
})
