/**
 * Pipelines of actors on 1, 2, 4 and 8 ranks, on the shared-memory transport
 * and on NATS: results equal a single-thread computation, order and
 * backpressure rules hold (checked by counts, never by clocks), failures fail
 * the run on every rank with the stage's name, and graphs that cannot run are
 * refused before anything starts. The programs are in test/programs/pipelines.ts.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { corpus } from "../../examples/corpus.ts"
import { describe as describeGraph, PipelineInvalid } from "../../core/pipeline/Pipeline.ts"
import * as Pipeline from "../../core/pipeline/Pipeline.ts"
import { rankflow } from "../support/cli.ts"
import { startServer } from "../support/nats-server.ts"
import { program, SIZES, TRANSPORTS, useWorlds } from "../support/worlds.ts"

const WORDS = 1_000_000

const singleThreadCount = (() => {
  let counts: Record<string, number> | undefined
  return () => {
    if (counts !== undefined) return counts
    const m = new Map<string, number>()
    for (const line of corpus(WORDS)) for (const w of line.split(/\W+/).filter(Boolean)) m.set(w, (m.get(w) ?? 0) + 1)
    counts = Object.fromEntries(m)
    return counts
  }
})()

const run = (file: string, name: string, ...args: ReadonlyArray<unknown>) => program(file, name, ...args)
const p = (name: string, ...args: ReadonlyArray<unknown>) => run("pipelines.ts", name, ...args)

interface Stats {
  readonly stage: string
  readonly replica: number
  readonly itemsIn: number
  readonly mailboxPeak: number
  readonly mailboxBound: number
  readonly inFlightPeak: number
  readonly blockedWaits: number
  readonly skipped: number
}
/** A sink's result as the programs return it: `{ some: value }` where it ran, `null` elsewhere. */
type Opt<A> = { readonly some: A } | null
const sm = <A>(value: A) => ({ some: value })
const some = <A>(o: Opt<A> | undefined): A => {
  if (o === null || o === undefined) throw new Error("expected a result on this rank, got none")
  return o.some
}
type Failure = { readonly ok: false; readonly error: Record<string, any> } | { readonly ok: true; readonly value: any }

for (const transport of TRANSPORTS) {
  describe(`pipelines on ${transport}`, () => {
    const worlds = useWorlds({ transport })

    for (const size of SIZES) {
      describe(`${size} rank${size === 1 ? "" : "s"}`, () => {
        it.effect(`word count of ${WORDS} words (source, 2 split replicas, 4 keyed count replicas) equals a single-thread count`, () =>
          Effect.gen(function*() {
            const results = yield* worlds.run<Opt<Record<string, number>>>(size, p("wordcount", WORDS, { split: 2, count: 4 }))
            expect(some(results[0]!)).toEqual(singleThreadCount())
            for (const r of results.slice(1)) expect(r === null).toBe(true)
          }), 120_000)

        it.effect("a key's items keep their order through an ordered map with replicas and a keyed stage", () =>
          Effect.gen(function*() {
            const [result] = yield* worlds.run<Opt<Array<[number, Array<number>]>>>(size, p("perKeyOrder", 2000, 5))
            const entries = some(result!)
            expect(entries.map(([k]) => k).sort()).toEqual([0, 1, 2, 3, 4])
            for (const [k, seen] of entries) expect(seen).toEqual(Array.from({ length: 400 }, (_, i) => i * 5 + k))
          }), 60_000)

        it.effect("map with ordered: true restores source order across replicas; one replica keeps it without", () =>
          Effect.gen(function*() {
            const [ordered] = yield* worlds.run<Opt<Array<number>>>(size, p("orderedMap", 1500, 3, true))
            expect(some(ordered!)).toEqual(Array.from({ length: 1500 }, (_, i) => 2 * i))
            const [single] = yield* worlds.run<Opt<Array<number>>>(size, p("orderedMap", 500, 1, false))
            expect(some(single!)).toEqual(Array.from({ length: 500 }, (_, i) => 2 * i))
          }), 60_000)

        it.effect("a sink slowed to one item per millisecond keeps every mailbox and window within bounds and pauses the source", () =>
          Effect.gen(function*() {
            const results = yield* worlds.run<{ result: Opt<number>; stats: ReadonlyArray<Stats> }>(size, p("slowSink", 400))
            const { stats } = results[0]!
            expect(results.reduce((n, r) => n + (r.result?.some ?? 0), 0)).toBe(400)
            expect(stats.map((s) => s.stage).sort()).toEqual(["inc", "inc", "numbers", "slow"])
            for (const s of stats) {
              expect(s.mailboxPeak).toBeLessThanOrEqual(s.mailboxBound)
              expect(s.inFlightPeak).toBeLessThanOrEqual(2)
            }
            const source = stats.find((s) => s.stage === "numbers")!
            expect(source.blockedWaits).toBeGreaterThan(0)
            // 400 items in batches of 16 is 25 batches; the windows hold at most 2 per pair.
            expect(stats.find((s) => s.stage === "slow")!.mailboxBound).toBe(4)
          }), 60_000)

        it.effect("a throwing stage fails the run on every rank with StageFailed naming the stage, replica, rank and item", () =>
          Effect.gen(function*() {
            const results = yield* worlds.run<Failure>(size, p("throwing", 3000, 1234))
            for (const r of results) {
              expect(r.ok).toBe(false)
              if (r.ok) continue
              expect(r.error._tag).toBe("StageFailed")
              expect(r.error.stage).toBe("explode")
              expect(r.error.position).toEqual({ source: "numbers", replica: 0, index: 1234 })
              expect(r.error.message).toMatch(/^stage "explode" \(replica \d+, rank \d+\) failed on item 1234 of source "numbers": cannot handle 1234$/)
            }
            // Every rank reports the same failure.
            expect(new Set(results.map((r) => JSON.stringify(r))).size).toBe(1)
            // The world is still usable: the next run succeeds.
            const again = yield* worlds.run<Failure>(size, p("throwing", 100, -1))
            expect(again.every((r) => r.ok)).toBe(true)
          }), 60_000)
      })
    }

    it.effect("onError: \"skip\" drops the failing items and counts them", () =>
      Effect.gen(function*() {
        const [r] = yield* worlds.run<{ result: Opt<number>; skipped: number }>(4, p("skipping", 1000))
        const expected = Array.from({ length: 1000 }, (_, i) => i).filter((i) => i % 10 !== 0).reduce((a, b) => a + b, 0)
        expect(some(r!.result)).toBe(expected)
        expect(r!.skipped).toBe(100)
      }), 60_000)

    it.effect("onError: { retry } tries items again on its schedule (functions and Effects); exhausted retries fail the stage", () =>
      Effect.gen(function*() {
        const [r] = yield* worlds.run<{ result: Opt<Array<number>>; retries: Record<string, number> }>(2, p("retrying", 100))
        expect([...some(r!.result)].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i))
        expect(r!.retries["flaky"]).toBe(2 * 20)
        expect(r!.retries["flakyEffect"]).toBe(15)
        const [exhausted] = yield* worlds.run<Failure>(2, p("retriesExhausted"))
        expect(exhausted!.ok).toBe(false)
        if (!exhausted!.ok) expect(exhausted!.error.message).toMatch(/stage "hopeless" .* failed on item 4 of source "numbers": always/)
      }), 60_000)

    it.effect("restart starts the replica over with fresh state while its schedule goes on, then the stage fails", () =>
      Effect.gen(function*() {
        const [restarted] = yield* worlds.run<Failure>(2, p("restarting", 100, [30], 2))
        expect(restarted).toEqual({ ok: true, value: { counts: sm(69), restarts: 1 } })
        const [exhausted] = yield* worlds.run<Failure>(2, p("restarting", 100, [10, 20, 30], 2))
        expect(exhausted!.ok).toBe(false)
        if (!exhausted!.ok) expect(exhausted!.error.message).toMatch(/stage "count" .* failed on item 30 of source "numbers": bad 30/)
      }), 60_000)

    it.effect("an item that breaks its edge's schema fails the stage with its position and the schema's issue", () =>
      Effect.gen(function*() {
        const results = yield* worlds.run<Failure>(2, p("schemaViolation"))
        for (const r of results) {
          expect(r.ok).toBe(false)
          if (r.ok) continue
          expect(r.error.stage).toBe("toText")
          expect(r.error.position).toEqual({ source: "numbers", replica: 0, index: 7 })
          expect(r.error.reason).toMatch(/the item does not match the schema of "toText"'s output: Expected string.*\(the item: 7\)/s)
        }
      }), 60_000)

    it.effect.each([2, 4])("a rank that stops consuming a streamed pipeline (Stream.take) ends the run, and the others fail instead of waiting (%i ranks)", (size) =>
      Effect.gen(function*() {
        const results = yield* worlds.run<Failure>(size, p("abandoned"))
        expect(results[0]).toEqual({ ok: true, value: [1, 2, 3, 4, 5] })
        for (const r of results.slice(1)) {
          expect(r.ok).toBe(false)
          if (!r.ok) expect(r.error.message).toMatch(/rank 0 stopped its part of the pipeline/)
        }
        // The world still runs pipelines afterwards.
        const again = yield* worlds.run<Failure>(size, p("throwing", 10, -1))
        expect(again.every((r) => r.ok)).toBe(true)
      }), 60_000)

    it.effect.each([1, 4])("a graph whose source is empty completes with empty results (%i ranks)", (size) =>
      Effect.gen(function*() {
        const results = yield* worlds.run<any>(size, p("empty"))
        expect({ ...results[0], seen: undefined }).toEqual({ items: sm([]), counts: sm(0), total: sm(0), seen: undefined })
        expect(results.filter((r) => r.seen !== null).map((r) => r.seen)).toEqual([sm(0)])
      }), 60_000)

    it.effect.each([1, 2, 4, 8])("more replicas than ranks, sinks on the last rank, two pipelines in a row (%i ranks)", (size) =>
      Effect.gen(function*() {
        const results = yield* worlds.run<{ first: Opt<number>; second: Opt<Array<number>> }>(size, p("manyReplicasTwice", 500))
        const last = results[size - 1]!
        expect(last.first).toEqual(sm(Array.from({ length: 500 }, (_, i) => i * i).reduce((a, b) => a + b, 0)))
        expect(last.second).toEqual(sm(Array.from({ length: 250 }, (_, i) => 2 * i + 1)))
        if (size > 1) expect(results[0]!.first === null).toBe(true)
      }), 60_000)

    it.effect("broadcast, merge, batch, count and time windows, mapEffect, several sinks and toStream", () =>
      Effect.gen(function*() {
        const results = yield* worlds.run<any>(4, p("shapes", 100))
        const r = results[0]
        const n = 100
        // forEach counts per rank: every replica saw all 100 items; replicas spread over the ranks.
        expect(results.reduce((k: number, x: any) => k + (x.everyReplica?.some ?? 0), 0)).toBe(3 * n)
        expect(some(r.merged)).toEqual([...Array.from({ length: n }, (_, i) => `${i}`), "a", "b", "c"].sort())
        const batches = some(r.batches) as Array<Array<number>>
        expect(batches.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i))
        expect(batches.every((b) => b.length >= 1 && b.length <= 7)).toBe(true)
        // Sums of each run of ten evens and ten odds.
        const windows: Array<[number, number]> = []
        for (const parity of [0, 1]) for (let w = 0; w < 5; w++) windows.push([parity, Array.from({ length: 10 }, (_, i) => 20 * w + 2 * i + parity).reduce((a, b) => a + b, 0)])
        expect(some(r.windows)).toEqual(windows.sort((a, b) => a[0] - b[0] || a[1] - b[1]))
        expect(r.effects).toEqual(sm(-(n * (n - 1)) / 2))
        // Time windows: however the items fell into windows, each key's windows add up to its total.
        const ticks = some(r.ticks) as Array<[number, number]>
        const perKey = [0, 0, 0]
        for (const [k, total] of ticks) perKey[k]! += total
        expect(perKey).toEqual([0, 1, 2].map((k) => Array.from({ length: 60 }, (_, i) => i).filter((i) => i % 3 === k).reduce((a, b) => a + b, 0)))
        expect(r.streamed).toEqual(Array.from({ length: n }, (_, i) => 3 * i))
        for (const other of results.slice(1)) expect(other.streamed).toEqual([])
      }), 60_000)

    it.effect.each(["duplicate", "rank", "ordered", "batchSize", "rerunOnce", "mismatch"])("a graph that cannot run is refused on every rank before it starts (%s)", (which) =>
      Effect.gen(function*() {
        const results = yield* worlds.run<Failure>(2, p("invalid", which))
        for (const r of results) {
          expect(r.ok).toBe(false)
          if (!r.ok) expect(r.error._tag).toBe("PipelineInvalid")
        }
        const message = (results[0] as unknown as { error: { message: string } }).error.message
        expect(message).toMatch(
          {
            duplicate: /two stages are named "numbers"/,
            rank: /placed on rank 2, but the communicator has 2 ranks/,
            ordered: /"shuffled" has 2 replicas/,
            batchSize: /batchSize must be/,
            rerunOnce: /source "generated" is an iterator that can be read once/,
            mismatch: /rank 1 runs another pipeline graph than rank 0:\n.*far .*×2.*\nand rank 0 this one:\n.*far .*×1/s
          }[which]!
        )
      }), 60_000)
  })
}

describe("pipelines: progress and the placed graph", () => {
  const worlds = useWorlds()
  it.effect("the progress line, once a second on rank 0, names the stage that holds the others back", () =>
    Effect.gen(function*() {
      const results = yield* worlds.run<ReadonlyArray<string>>(2, p("progress"))
      const lines = results[0]!
      const ticks = lines.slice(0, -1)
      expect(ticks.length).toBeGreaterThan(0)
      expect(ticks[ticks.length - 1]).toMatch(/^pipeline \d+s: numbers .* · fast .* · slowest .*; slowest holds the others back \(busy \d+%, mailbox \d+\/\d+\)$/)
      expect(lines[lines.length - 1]).toMatch(/^pipeline done in [\d.]+s: numbers 600 items \(.*\) · fast 600 items \(.*\) · slowest 600 items \(.*\)$/)
      expect(results[1]).toEqual([])
    }), 60_000)

  it.effect("every replica's counts are Effect metrics, with the stage and replica as attributes", () =>
    Effect.gen(function*() {
      const results = yield* worlds.run<Array<{ id: string; stage: string; replica: string; count: number }>>(2, p("metrics", 1000))
      const all = results.flat()
      const total = (id: string, stage: string) => all.filter((m) => m.id === id && m.stage === stage).reduce((n, m) => n + m.count, 0)
      expect(total("rankflow_pipeline_items_out", "measured")).toBe(1000)
      expect(total("rankflow_pipeline_items_in", "twice")).toBe(1000)
      expect(total("rankflow_pipeline_items_out", "twice")).toBe(1000)
      expect(total("rankflow_pipeline_items_in", "measuredSum")).toBe(1000)
      expect(new Set(all.filter((m) => m.stage === "twice").map((m) => m.replica))).toEqual(new Set(["0", "1"]))
    }), 60_000)

  it("describe prints the placed graph: stages, replicas, ranks and edges", () => {
    const sink = Pipeline.source("lines", ["a b"]).pipe(
      Pipeline.flatMap("split", (l: string) => l.split(" "), { replicas: 2 }),
      Pipeline.keyBy("count", (w: string) => w, Pipeline.count(), { replicas: 4 }),
      Pipeline.collect("result")
    )
    expect(describeGraph(sink, 8)).toBe([
      "pipeline on 8 ranks: 4 stages, 8 actors",
      "  lines   source   ×1  rank 0            → split (balance)",
      "  split   flatMap  ×2  ranks 1, 2        → count (keyed)",
      "  count   keyBy    ×4  ranks 3, 4, 5, 6  → result (balance)",
      "  result  collect  ×1  rank 0            (sink)"
    ].join("\n"))
    expect(() => describeGraph(sink, 0)).toThrow(PipelineInvalid)
  })
})

describe("pipelines: a dead rank", () => {
  /** Runs `file` as one job of 3 ranks from two launchers, as on two hosts: ranks 0-1, and rank 2. */
  const twoHosts = async (file: string, tag: string) => {
    const server = await startServer()
    try {
      const job = `${tag}-${process.pid}`
      const common = ["run", "--transport", "nats", "--nats", server.url, "--job", job, "--size", "3", "--heartbeat-timeout", "4"]
      return await Promise.all([rankflow([...common, "--ranks", "0-1", file]), rankflow([...common, "--ranks", "2", file])])
    } finally {
      await server.stop()
    }
  }

  it("a rank hosting a stage killed with SIGKILL fails the run on the other host with RankFailed naming the rank and its stages", async () => {
    const [a, b] = await twoHosts("test/programs/pipeline-killed.ts", "pipeline-kill")
    expect(a.code).not.toBe(0)
    expect(b.code).not.toBe(0)
    expect(a.stderr).toMatch(/rank 2 failed; it ran "split" \(replica 0\)/)
  }, 120_000)

  it("with onRankFailure: \"rerun\", the ranks left place the graph again and re-run it from its source: the result of a clean run", async () => {
    const [a, b] = await twoHosts("test/programs/pipeline-rerun.ts", "pipeline-rerun")
    expect(b.code).not.toBe(0)
    expect(a.stdout).toMatch(/rank 2 failed .*; running it again from its sources on ranks 0, 1/)
    expect(a.stdout).toContain("sum 19999900000 (expected 19999900000)")
    expect(a.code).toBe(0)
  }, 120_000)
})
