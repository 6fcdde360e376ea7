/**
 * Rank-to-rank traffic across worker threads: nothing lost, duplicated or
 * reordered, bytes intact, on every path at once.
 */
import { describe, expect, it } from "@effect/vitest"
import { runJob } from "./fixtures/job.ts"

const TOTAL = 100_000

describe("ordering across worker threads", () => {
  for (const size of [1, 2, 4, 8]) {
    it(`${TOTAL} packets of 0 B to 1 MiB on ${size} rank(s): every packet arrives once, in send order per pair, bytes intact`, async () => {
      const perPair = Math.ceil(TOTAL / (size * size))
      const outcome = await runJob(size, { scenario: "ordering", perPair }, { timeoutMs: 60_000 })
      for (let r = 0; r < size; r++) {
        expect(outcome.exits.get(r)).toMatchObject({ code: 0 })
        expect(outcome.exits.get(r)!.error).toBeUndefined()
        const report = outcome.messages[r]![0] as { received: number; errors: Array<string>; errorCount: number }
        expect(report.errors).toEqual([])
        expect(report.received).toBe(perPair * size)
      }
    }, 120_000)
  }
})
