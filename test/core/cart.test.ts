/**
 * Cartesian topologies: the pure math (computeDims against MPI's known
 * answers, coordinates and ranks, shifts at edges), then Cartesian
 * communicators, sub-grids and neighbour collectives on 1, 2, 3, 4, 5 and 8
 * ranks (programs in test/programs/cart.ts).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import fc from "fast-check"
import * as Cart from "../../core/comm/Cart.ts"
import { PROC_NULL } from "../../core/messaging/Matching.ts"
import { program, useWorlds } from "../support/worlds.ts"

const dims = (n: number, given: number | ReadonlyArray<number>) => Result.getOrThrow(Cart.computeDims(n, given))
const dimsError = (n: number, given: number | ReadonlyArray<number>) => {
  const r = Cart.computeDims(n, given)
  if (Result.isSuccess(r)) throw new Error(`expected computeDims(${n}, ${JSON.stringify(given)}) to fail, got ${JSON.stringify(r.success)}`)
  return r.failure
}

const divisors = (n: number) => Array.from({ length: n }, (_, i) => i + 1).filter((f) => n % f === 0)

/** Whether `n` is a product of `parts` factors each at most `max`. */
const fitsUnder = (n: number, parts: number, max: number): boolean =>
  parts === 1 ? n <= max : divisors(n).some((f) => f <= max && fitsUnder(n / f, parts - 1, max))

describe("computeDims (MPI_Dims_create)", () => {
  it("gives MPI's answers, including the MPI standard's examples", () => {
    expect(dims(6, [0, 0])).toEqual([3, 2])
    expect(dims(7, [0, 0])).toEqual([7, 1])
    expect(dims(6, [0, 3, 0])).toEqual([2, 3, 1])
    expect(dims(8, 2)).toEqual([4, 2])
    expect(dims(8, 3)).toEqual([2, 2, 2])
    expect(dims(12, 2)).toEqual([4, 3])
    expect(dims(12, 3)).toEqual([3, 2, 2])
    expect(dims(16, 3)).toEqual([4, 2, 2])
    expect(dims(24, 3)).toEqual([4, 3, 2])
    expect(dims(36, 2)).toEqual([6, 6])
    expect(dims(60, 2)).toEqual([10, 6])
    expect(dims(64, 3)).toEqual([4, 4, 4])
    expect(dims(1024, 2)).toEqual([32, 32])
    expect(dims(1, 3)).toEqual([1, 1, 1])
    expect(dims(5, 1)).toEqual([5])
    expect(dims(1, 0)).toEqual([])
  })

  it("keeps the non-zero extents and fills only the zeros", () => {
    expect(dims(12, [0, 2, 0])).toEqual([3, 2, 2])
    expect(dims(12, [3, 0])).toEqual([3, 4])
    expect(dims(12, [3, 4])).toEqual([3, 4])
    expect(dims(30, [0, 0, 5])).toEqual([3, 2, 5])
  })

  it("fails, saying why, when the fixed extents cannot make a grid of n", () => {
    expect(dimsError(7, [0, 3, 0]).message).toContain("does not divide 7")
    expect(dimsError(6, [2, 2]).message).toContain("grid of 4")
    expect(dimsError(6, [-1, 0]).argument).toBe("dims")
    expect(dimsError(0, 2).argument).toBe("n")
    expect(dimsError(4, 1.5).argument).toBe("dims")
    expect(dimsError(2, 0).message).toContain("not 2")
  })

  it("always gives a non-increasing factorization of n with the largest extent as small as possible", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 4 }), (n, k) => {
        const d = dims(n, k)
        expect(d.reduce((a, b) => a * b, 1)).toBe(n)
        for (let i = 1; i < k; i++) expect(d[i]!).toBeLessThanOrEqual(d[i - 1]!)
        // No factorization into k factors has a smaller largest factor.
        expect(fitsUnder(n, k, d[0]! - 1)).toBe(false)
      }),
      { numRuns: 300 }
    )
  })
})

describe("Cartesian math", () => {
  const grid = (dims: ReadonlyArray<number>, periods: ReadonlyArray<boolean>) => Result.getOrThrow(Cart.topology(dims, periods, 1e9))

  it("coordinates are row-major, the last dimension fastest (as MPI)", () => {
    const g = grid([2, 3], [false, false])
    expect([0, 1, 2, 3, 4, 5].map((r) => Cart.coordsOf(g, r))).toEqual([[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]])
  })

  it("rankOf inverts coordsOf on every grid", () => {
    const shape = fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 0, maxLength: 4 })
    fc.assert(
      fc.property(shape, fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), (ds, ps) => {
        const g = grid(ds, ps.slice(0, ds.length))
        for (let r = 0; r < Cart.cellCount(g); r++) expect(Result.getOrThrow(Cart.rankOf(g, Cart.coordsOf(g, r)))).toBe(r)
      })
    )
  })

  it("rankOf wraps periodic dimensions and refuses coordinates past a non-periodic edge", () => {
    const g = grid([3, 4], [true, false])
    expect(Result.getOrThrow(Cart.rankOf(g, [-1, 2]))).toBe(2 * 4 + 2)
    expect(Result.getOrThrow(Cart.rankOf(g, [7, 0]))).toBe(1 * 4)
    const r = Cart.rankOf(g, [0, 4])
    expect(Result.isFailure(r) && r.failure.message).toContain("not periodic")
  })

  it("shift gives PROC_NULL past non-periodic edges and wraps periodic ones", () => {
    const g = grid([3, 4], [true, false])
    // Rank 0 is at (0, 0).
    expect(Result.getOrThrow(Cart.shift(g, 0, 0, 1))).toEqual({ source: 8, dest: 4 })
    expect(Result.getOrThrow(Cart.shift(g, 0, 1, 1))).toEqual({ source: PROC_NULL, dest: 1 })
    expect(Result.getOrThrow(Cart.shift(g, 0, 1, -1))).toEqual({ source: 1, dest: PROC_NULL })
    expect(Result.getOrThrow(Cart.shift(g, 3, 1, 1))).toEqual({ source: 2, dest: PROC_NULL })
    expect(Result.getOrThrow(Cart.shift(g, 0, 1, 4))).toEqual({ source: PROC_NULL, dest: PROC_NULL })
    expect(Result.getOrThrow(Cart.shift(g, 0, 0, 3))).toEqual({ source: 0, dest: 0 })
    expect(Result.getOrThrow(Cart.shift(g, 5, 1, 0))).toEqual({ source: 5, dest: 5 })
    expect(Result.isFailure(Cart.shift(g, 0, 2, 1))).toBe(true)
    expect(Result.isFailure(Cart.shift(g, 0, 0, 0.5))).toBe(true)
  })

  it("neighbours come per dimension, the -1 neighbour first", () => {
    const g = grid([3, 4], [true, false])
    expect(Cart.neighbors(g, 5)).toEqual([1, 9, 4, 6])
    expect(Cart.neighbors(g, 0)).toEqual([8, 4, PROC_NULL, 1])
    expect(Cart.neighbors(grid([2], [true]), 0)).toEqual([1, 1])
    expect(Cart.neighbors(grid([1], [true]), 0)).toEqual([0, 0])
  })

  it("a grid needs positive extents, one period per dimension, and no more cells than ranks", () => {
    expect(Result.isFailure(Cart.topology([0, 2], [false, false], 4))).toBe(true)
    expect(Result.isFailure(Cart.topology([2, 2], [false], 4))).toBe(true)
    const tooBig = Cart.topology([3, 2], [false, false], 4)
    expect(Result.isFailure(tooBig) && tooBig.failure.message).toContain("needs 6 ranks")
    expect(Result.isSuccess(Cart.topology([3], [true], 4))).toBe(true)
  })
})

const cart = (name: string) => program("cart.ts", name)

describe.each([1, 2, 3, 4, 5, 8])("Cartesian communicators on %i ranks", (size) => {
  const worlds = useWorlds()
  it.effect("grids: ranks beyond get none; coords, rankOf, coordsOf and shift agree with row-major order; p2p and collectives work", () =>
    Effect.gen(function*() {
      expect(yield* worlds.run(size, cart("gridMath"))).toEqual(Array.from({ length: size }, (_, i) => i))
    }))
  it.effect("sub keeps the chosen dimensions: the sub-grid through each rank", () => worlds.run(size, cart("subGrids")))
  it.effect("neighbour collectives: MPI's order, block s lands in block s^1, PROC_NULL gives nothing; blocking and non-blocking", () =>
    worlds.run(size, cart("neighborCollectives")))
  it.effect("bad arguments fail with typed errors that say what is wrong", () => worlds.run(size, cart("invalidArguments")))
})
