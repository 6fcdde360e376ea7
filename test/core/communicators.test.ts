/**
 * Communicators on 1, 2, 3, 4 and 8 ranks (shared-memory transport): dup,
 * split, groups and createFromGroup, compare, free, the isolation of message
 * spaces, and the collective conformance suites run on a dup and on a split.
 * Each test runs a rank program from test/programs/communicators.ts that
 * checks its rules on every rank.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as World from "../../core/launching/World.ts"
import { program, useWorlds } from "../support/worlds.ts"

const comms = (name: string, ...args: ReadonlyArray<unknown>) => program("communicators.ts", name, ...args)

/** The suites of test/programs/collectives.ts that the conformance run repeats on derived communicators. */
const SUITES = ["barrier", "bcast", "gather", "scatter", "allgather", "alltoall", "vVariants", "reduceOps", "scans", "bufferReductions", "reduceScatters", "nonBlocking", "invalidRoots"]

describe.each([1, 2, 3, 4, 8])("communicators on %i ranks", (size) => {
  const worlds = useWorlds()
  const run = (name: string, ...args: ReadonlyArray<unknown>) => worlds.run(size, comms(name, ...args))

  it.effect("a dup has the world's members and a message space of its own (same tags never match)", () =>
    Effect.gen(function*() {
      expect(yield* run("dupIsolates")).toEqual(Array.from({ length: size }, (_, i) => i))
    }))
  it.effect("split orders each color by key then rank; UNDEFINED gives none; p2p and collectives work on the parts", () => run("splitColorsAndKeys"))
  it.effect("a bad color or key fails split on every rank, naming the rank", () => run("splitInvalid"))
  it.effect("groups: world.group, incl, difference, translateRanks; createFromGroup gives members a communicator in group order", () =>
    run("groupsAndCreate"))
  it.effect("compare gives IDENT, CONGRUENT, SIMILAR and UNEQUAL", () => run("compareOutcomes"))
  it.effect("a freed communicator fails later calls with InvalidCommunicator; started requests complete; the world cannot be freed", () =>
    run("freeing"))
  // Intercommunicators need two groups: 2 ranks and up (on NATS: test/core/intercomm.test.ts).
  it.effect.skipIf(size < 2)("an intercommunicator of the even and odd ranks: p2p by remote rank, every collective, reduce, merge both ways, disconnect", () =>
    Effect.gen(function*() {
      for (const name of ["basics", "reduceToRoot", "mergeAndDisconnect"]) yield* worlds.run(size, program("intercomm.ts", name))
    }))
})

// The world's own conformance run covers every size; here a dup (3 and 8 ranks) and the halves of a split (1, 2 and 4 ranks).
describe.each([3, 8])("collective conformance on derived communicators, %i ranks", (size) => {
  const worlds = useWorlds()
  it.effect("every collective suite passes on a dup of the world", () =>
    Effect.gen(function*() {
      expect(yield* worlds.run(size, comms("collectivesOn", "dup", SUITES))).toEqual(new Array(size).fill(size))
    }), 120_000)
  it.effect("every collective suite passes on a split (two halves, ranks reversed)", () =>
    Effect.gen(function*() {
      const sizes = yield* worlds.run(size, comms("collectivesOn", "split", SUITES))
      expect(sizes).toEqual(Array.from({ length: size }, (_, r) => (r % 2 === 0 ? Math.ceil(size / 2) : Math.floor(size / 2))))
    }), 120_000)
})

describe("creation calls overlapping on one rank", () => {
  it.effect("stop the rank with a defect that names the cause, instead of letting messages cross", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(World.run(comms("overlappingCreations"), { size: 2, prefixOutput: false }))
      expect(error._tag).toBe("RankFailed")
      if (error._tag !== "RankFailed") return
      expect(error.rank).toBe(0)
      expect(`${error.message}\n${error.details}`).toContain("creation calls overlapped on rank 0")
    }), 30_000)
})
