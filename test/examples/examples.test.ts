/** Every example runs, on the rank counts it is meant for, and computes what it says. */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as World from "../../core/launching/World.ts"
import { corpus } from "../../examples/corpus.ts"
import { parseSale, salesLines } from "../../examples/etl.ts"
import { addHistograms, BINS, blur, histogram, tileAt } from "../../examples/image.ts"

const example = (name: string) => new URL(`../../examples/${name}`, import.meta.url)

describe("examples", () => {
  it.effect.each([1, 2, 4, 8])("hello.ts on %i ranks", (size) =>
    Effect.gen(function*() {
      const results = yield* World.run(example("hello.ts"), { size, prefixOutput: false })
      expect(results).toEqual(Array.from({ length: size }, (_, i) => i))
    }))

  it.effect.each([1, 2, 4, 8])("parallel-write.ts on %i ranks: every rank's block lands in its place in one file", (size) =>
    Effect.gen(function*() {
      const results = yield* World.run(example("parallel-write.ts"), { size, prefixOutput: false })
      expect(results).toEqual(new Array(size).fill(true))
    }))

  it.effect.each([1, 2, 4, 8])("rma-counter.ts on %i ranks: the counter hands out every task exactly once", (size) =>
    Effect.gen(function*() {
      const results = yield* World.run<Array<number>>(example("rma-counter.ts"), { size, prefixOutput: false })
      expect(results.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i))
    }))

  it.effect("arrays.ts on 2 ranks: explicit and automatic datatypes", () =>
    Effect.gen(function*() {
      const results = yield* World.run(example("arrays.ts"), { size: 2, prefixOutput: false })
      expect(results[1]).toBe(4950)
    }))

  it.effect.each([1, 2, 4, 8])("ring.ts on %i ranks: every rank sums all ranks", (size) =>
    Effect.gen(function*() {
      const results = yield* World.run(example("ring.ts"), { size, prefixOutput: false })
      expect(results).toEqual(new Array(size).fill((size * (size - 1)) / 2))
    }))

  it.effect.each([1, 4])("bcast-dict.ts on %i ranks: every rank gets rank 0's dictionary, Complex included", (size) =>
    Effect.gen(function*() {
      const results = yield* World.run(example("bcast-dict.ts"), { size, prefixOutput: false })
      expect(results).toEqual(new Array(size).fill({ key1: [7, 2.72, [2, 3]], key2: ["abc", "xyz"] }))
    }))

  it.effect.each([1, 3, 4])("scatter-gather.ts on %i ranks: rank 0 gathers every square in order", (size) =>
    Effect.gen(function*() {
      const results = yield* World.run(example("scatter-gather.ts"), { size, prefixOutput: false })
      expect(results[0]).toEqual(Array.from({ length: 4 * size }, (_, i) => (i + 1) ** 2))
    }))

  it.effect.each([1, 2, 4])("pi.ts on %i ranks: reduce gives π to 12 digits", (size) =>
    Effect.gen(function*() {
      const [pi] = yield* World.run<number>(example("pi.ts"), { size, prefixOutput: false, argv: ["pi.ts", "200000"] })
      expect(Math.abs(pi! - Math.PI)).toBeLessThan(1e-11)
    }))

  describe("heat.ts: the same plate to the bit on any number of ranks", () => {
    interface Heat {
      readonly sweeps: number
      readonly change: number
      readonly plate: Float64Array
    }
    const heat = (size: number, neighbor: boolean) =>
      Effect.map(
        World.run<Heat | undefined>(example("heat.ts"), { size, prefixOutput: false, argv: neighbor ? ["heat.ts", "--neighbor"] : ["heat.ts"] }),
        (results) => results[0]!
      )
    const bytes = (a: Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)
    let reference: Heat | undefined
    const single = () =>
      Effect.gen(function*() {
        reference ??= yield* heat(1, false)
        return reference
      })

    it.effect("one rank converges (allreduce(MAX) of the change) with the top edge warming the plate", () =>
      Effect.gen(function*() {
        const one = yield* single()
        expect(one.sweeps).toBeGreaterThan(10)
        expect(one.change).toBeLessThan(0.1)
        expect(one.plate[0]!).toBeGreaterThan(one.plate[one.plate.length - 1]!)
      }))

    it.effect.each([
      [4, false],
      [8, false],
      [4, true],
      [8, true],
      [3, true]
    ] as const)("%i ranks (neighbour collective: %s) give exactly the one-rank plate", ([size, neighbor]) =>
      Effect.gen(function*() {
        const one = yield* single()
        const many = yield* heat(size, neighbor)
        expect(many.sweeps).toBe(one.sweeps)
        expect(many.change).toBe(one.change)
        expect(bytes(many.plate).equals(bytes(one.plate))).toBe(true)
      }), 60_000)

    it.effect.each([1, 3, 4, 8])("--checkpoint FILE on %i ranks writes exactly the plate, each rank its block through a subarray view", (size) =>
      Effect.gen(function*() {
        const one = yield* single()
        const path = join(mkdtempSync(join(tmpdir(), "rankflow-heat-")), "plate.bin")
        yield* World.run(example("heat.ts"), { size, prefixOutput: false, argv: ["heat.ts", "--checkpoint", path] })
        expect(readFileSync(path).equals(bytes(one.plate))).toBe(true)
        rmSync(path)
      }), 60_000)
  })

  describe("GPU examples (on lavapipe where there is no GPU)", () => {
    it.effect.each([1, 2])("gpu-axpy.ts on %i ranks: sum(2x + y) on each rank's GPU", (size) =>
      Effect.gen(function*() {
        const sums = yield* World.run<number>(example("gpu-axpy.ts"), { size, prefixOutput: false })
        // x repeats 0..9, y = rank: sum = 2·4.5·N + rank·N for N = 10⁶ (exact in f32 partial sums of integers).
        expect(sums).toEqual(Array.from({ length: size }, (_, r) => 9_000_000 + r * 1_000_000))
      }), 120_000)

    it.effect.each([1, 2, 4])("gpu-allreduce.ts on %i ranks: every rank's GPU total is Σ(r + 1) everywhere", (size) =>
      Effect.gen(function*() {
        const sums = yield* World.run<number>(example("gpu-allreduce.ts"), { size, prefixOutput: false })
        expect(sums).toEqual(new Array(size).fill((1 << 20) * ((size * (size + 1)) / 2)))
      }), 120_000)

    it.effect("heat-gpu.ts on 1, 2, 4 and 8 ranks: heat.ts's plate within 1e-3° in the same number of sweeps", () =>
      Effect.gen(function*() {
        const [reference] = yield* World.run<{ sweeps: number; plate: Float64Array }>(example("heat.ts"), { size: 1, prefixOutput: false })
        for (const size of [1, 2, 4, 8]) {
          const [gpu] = yield* World.run<{ sweeps: number; plate: Float64Array }>(example("heat-gpu.ts"), { size, prefixOutput: false })
          expect(gpu!.sweeps).toBe(reference!.sweeps)
          let worst = 0
          for (let i = 0; i < gpu!.plate.length; i++) worst = Math.max(worst, Math.abs(gpu!.plate[i]! - reference!.plate[i]!))
          expect(worst).toBeLessThan(1e-3)
        }
      }), 240_000)
  })

  it.effect.each([1, 2, 4, 8])("wordcount.ts on %i ranks: the counts equal a single-thread count", (size) =>
    Effect.gen(function*() {
      const [counts] = yield* World.run<Record<string, number>>(example("wordcount.ts"), { size, prefixOutput: false, argv: ["wordcount.ts", "50000"] })
      const expected = new Map<string, number>()
      for (const line of corpus(50_000)) for (const w of line.split(/\W+/).filter(Boolean)) expected.set(w, (expected.get(w) ?? 0) + 1)
      expect(counts).toEqual(Object.fromEntries(expected))
    }), 60_000)

  it.effect.each([1, 4])("etl.ts on %i ranks: bad lines are skipped and counted, the rest summed by city", (size) =>
    Effect.gen(function*() {
      const [r] = yield* World.run<{ totals: Record<string, number>; skipped: number }>(example("etl.ts"), { size, prefixOutput: false, argv: ["etl.ts", "5000"] })
      const totals = new Map<string, number>()
      let bad = 0
      for (const line of salesLines(5000)) {
        try {
          const sale = parseSale(line)
          totals.set(sale.city, (totals.get(sale.city) ?? 0) + sale.amount)
        } catch {
          bad++
        }
      }
      expect(r!.skipped).toBe(bad)
      expect(bad).toBeGreaterThan(0)
      expect(Object.keys(r!.totals).sort()).toEqual([...totals.keys()].sort())
      for (const [city, total] of totals) expect(r!.totals[city]).toBeCloseTo(total, 6)
    }), 60_000)

  it.effect.each([1, 4])("tiles.ts on %i ranks: the histogram of the blurred tiles equals a single-thread one", (size) =>
    Effect.gen(function*() {
      const [h] = yield* World.run<Uint32Array>(example("tiles.ts"), { size, prefixOutput: false, argv: ["tiles.ts", "24"] })
      let expected: Uint32Array = new Uint32Array(BINS)
      for (let i = 0; i < 24; i++) expected = addHistograms(expected, histogram(blur(tileAt(i))))
      expect([...h!]).toEqual([...expected])
    }), 60_000)
})
