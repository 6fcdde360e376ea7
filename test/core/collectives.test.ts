/**
 * Collectives conformance on 1, 2, 3, 4, 5 and 8 ranks (shared-memory
 * transport), in the spirit of mpi4py's collective tests: each test runs a
 * suite from test/programs/collectives.ts on the world communicator, where
 * every rank checks its own results.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program, useWorlds } from "../support/worlds.ts"

/** Powers of two and not: the algorithms pair ranks up differently when p is not a power of two. */
const COLLECTIVE_SIZES = [1, 2, 3, 4, 5, 8] as const

const onWorld = (suite: string) => program("collectives.ts", "world", suite)

describe.each(COLLECTIVE_SIZES)("collectives on %i ranks", (size) => {
  const worlds = useWorlds()
  const run = (suite: string) => worlds.run(size, onWorld(suite))

  it.effect("barrier: nobody leaves before every rank has entered", () => run("barrier"))
  it.effect("bcast: every message and every typed array class, from every root", () => run("bcast"))
  it.effect("gather: the root gets every rank's value in rank order, the others undefined", () => run("gather"))
  it.effect("scatter: rank i gets item i of the root's list or block i of its buffer", () => run("scatter"))
  it.effect("allgather: every rank gets every value in rank order", () => run("allgather"))
  it.effect("alltoall: rank j gets item j of every rank", () => run("alltoall"))
  it.effect("scatterv, gatherv, allgatherv, alltoallv follow counts and displacements", () => run("vVariants"))
  it.effect("reduce and allreduce give mpi4py's results for every op; non-commutative ops go in rank order", () => run("reduceOps"))
  it.effect("scan and exscan give mpi4py's results; exscan gives rank 0 undefined", () => run("scans"))
  it.effect("buffer reductions on every typed array class, small and large, equal a fold in rank order", () => run("bufferReductions"), 60_000)
  it.effect("reduceScatterBlock and reduceScatter give each rank its part of the reduction", () => run("reduceScatters"))
  it.effect("non-blocking collectives in flight together complete independently of wait order and of p2p traffic", () => run("nonBlocking"))
  it.effect("a bad root or bad arguments fail every rank's call before anything is sent", () => run("invalidRoots"))
})

describe("contributions that do not fit together", () => {
  const worlds = useWorlds()
  for (const which of ["allreduce", "allgather", "reduce"] as const) {
    it.effect(`${which} of buffers of different lengths fails the run with an error naming the rank`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(worlds.run(2, program("collectives.ts", "mismatchedLengths", which)))
        expect((error as { _tag: string })._tag).toBe("RankFailed")
        expect(String((error as { message: string }).message)).toMatch(/rank \d contributed \d float64 where \d are expected/)
      }), 30_000)
  }
})
