/**
 * Collectives conformance on 1, 2, 3, 4, 5 and 8 ranks, on the shared-memory
 * transport and on NATS, in the spirit of mpi4py's collective tests: each test runs a
 * suite from test/programs/collectives.ts on the world communicator, where
 * every rank checks its own results.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { afterAll, beforeAll } from "vitest"
import { knomial } from "../../core/collectives/tree.ts"
import { program, TRANSPORTS, useWorlds } from "../support/worlds.ts"

/** Powers of two and not: the algorithms pair ranks up differently when p is not a power of two. */
const COLLECTIVE_SIZES = [1, 2, 3, 4, 5, 8] as const

const onWorld = (suite: string) => program("collectives.ts", "world", suite)

const SUITES = [
  ["barrier", "barrier: nobody leaves before every rank has entered"],
  ["bcast", "bcast: every message and every typed array class, from every root"],
  ["gather", "gather: the root gets every rank's value in rank order, the others undefined"],
  ["scatter", "scatter: rank i gets item i of the root's list or block i of its buffer"],
  ["allgather", "allgather: every rank gets every value in rank order"],
  ["alltoall", "alltoall: rank j gets item j of every rank"],
  ["vVariants", "scatterv, gatherv, allgatherv, alltoallv follow counts and displacements"],
  ["reduceOps", "reduce and allreduce give mpi4py's results for every op; non-commutative ops go in rank order"],
  ["scans", "scan and exscan give mpi4py's results; exscan gives rank 0 undefined"],
  ["bufferReductions", "buffer reductions on every typed array class, small and large, equal a fold in rank order"],
  ["reduceScatters", "reduceScatterBlock and reduceScatter give each rank its part of the reduction"],
  ["nonBlocking", "non-blocking collectives in flight together complete independently of wait order and of p2p traffic"],
  ["invalidRoots", "a bad root or bad arguments fail every rank's call before anything is sent"]
] as const

describe("k-nomial trees", () => {
  it("give every rank but the root one parent, with contiguous subtrees above it in ascending order", () => {
    for (const k of [2, 3, 4, 16]) {
      for (let p = 1; p <= 40; p++) {
        const parents = new Array<number>(p).fill(-2)
        for (let rel = 0; rel < p; rel++) {
          const node = knomial(rel, p, k)
          expect(node.parent < 0).toBe(rel === 0)
          let next = rel + 1
          for (const child of node.children) {
            expect(child.rel).toBe(next)
            expect(parents[child.rel]).toBe(-2)
            parents[child.rel] = rel
            expect(knomial(child.rel, p, k).parent).toBe(rel)
            next += child.size
          }
          // The subtree of rel spans [rel, next): its parent's child entry says the same.
          if (rel > 0) expect(knomial(node.parent, p, k).children.find((c) => c.rel === rel)?.size).toBe(next - rel)
        }
        expect(parents.slice(1).every((q) => q >= 0)).toBe(true)
      }
    }
  })

  it("is flat when the radix reaches the number of ranks, binomial with radix 2", () => {
    expect(knomial(0, 8, 16).children.map((c) => c.rel)).toEqual([1, 2, 3, 4, 5, 6, 7])
    expect(knomial(0, 8, 2).children).toEqual([{ rel: 1, size: 1 }, { rel: 2, size: 2 }, { rel: 4, size: 4 }])
    expect(knomial(6, 8, 2)).toEqual({ parent: 4, children: [{ rel: 7, size: 1 }] })
  })
})

const cases = TRANSPORTS.flatMap((transport) => COLLECTIVE_SIZES.map((size) => [transport, size] as const))

describe.each(cases)("collectives on %s, %i ranks", (transport, size) => {
  const worlds = useWorlds({ transport })
  const run = (suite: string) => worlds.run(size, onWorld(suite))

  for (const [suite, rule] of SUITES) it.effect(rule, () => run(suite), 60_000)
})

/** Sets environment variables for a describe block (the ranks of the worlds it starts read them when they start). */
const withEnv = (vars: Record<string, string>): void => {
  const before = new Map<string, string | undefined>()
  beforeAll(() => {
    for (const [k, v] of Object.entries(vars)) {
      before.set(k, process.env[k])
      process.env[k] = v
    }
  })
  afterAll(() => {
    for (const [k, v] of before) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  })
}

/**
 * On shm the collectives above met in shared memory (collectives/shared);
 * these run the same suites on shm with the point-to-point algorithms
 * forced (RANKFLOW_COLL=p2p), as NATS runs them: with the default trees on
 * 1, 2 and 4 ranks, and on 3, 5 and 8 with the trees of ranks that spin
 * (binomial) and with radix 3 (a k-nomial tree of several levels), forced
 * through RANKFLOW_COLL_RADIX. (On this machine's few cores, ranks beyond two
 * sleep while waiting, which makes the default trees flat.)
 */
describe.each([
  [0, 1],
  [0, 2],
  [0, 4],
  [2, 3],
  [2, 5],
  [2, 8],
  [3, 8]
] as const)("collectives on shm, point-to-point algorithms forced, radix-%i trees on %i ranks", (radix, size) => {
  withEnv(radix === 0 ? { RANKFLOW_COLL: "p2p" } : { RANKFLOW_COLL: "p2p", RANKFLOW_COLL_RADIX: String(radix) })
  const worlds = useWorlds()
  for (const [suite, rule] of SUITES) it.effect(rule, () => worlds.run(size, onWorld(suite)), 60_000)
})

describe.each(COLLECTIVE_SIZES)("collectives in shared memory beyond one slot, %i ranks", (size) => {
  const worlds = useWorlds()
  it.effect("messages larger than a slot take several phases; empty ones work too", () => worlds.run(size, onWorld("beyondSlots")), 60_000)
  it.effect("a rank whose collective is interrupted plays its part in the background: the communicator stays usable", () =>
    worlds.run(size, onWorld("interrupted")), 60_000)
})

describe.each([2, 8] as const)("the same beyond one slot, point-to-point algorithms forced, %i ranks", (size) => {
  withEnv({ RANKFLOW_COLL: "p2p" })
  const worlds = useWorlds()
  it.effect("messages larger than a slot", () => worlds.run(size, onWorld("beyondSlots")), 60_000)
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
  it.effect("allreduce of a value on one rank and a buffer on another fails the run with an error naming the rank", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(worlds.run(2, program("collectives.ts", "mismatchedLengths", "mixed")))
      expect((error as { _tag: string })._tag).toBe("RankFailed")
      expect(String((error as { message: string }).message)).toMatch(/rank \d contributed a (value|buffer) where this rank has a (buffer|value)/)
    }), 30_000)
})
