/**
 * Rank programs of the pipeline benchmark. Each runs one pipeline on the
 * world and returns, from rank 0, what it measured.
 */
import { Effect, Option, Stream } from "effect"
import { Comm, Pipeline } from "rankflow"
import { corpus } from "../../examples/corpus.ts"
import { work } from "./work.ts"

const range = (n: number) => ({
  *[Symbol.iterator]() {
    for (let i = 0; i < n; i++) yield i
  }
})

/** Items per second through source → map → sink, with `ranks` saying where each stage runs. */
export const noop = (items: number, ranks: readonly [number, number, number], batchSize: number) =>
  Effect.gen(function*() {
    const sink = Pipeline.source("source", range(items), { rank: ranks[0] }).pipe(
      Pipeline.map("map", (x: number) => x, { ranks: [ranks[1]] }),
      Pipeline.foldTo("sink", 0, (n: number) => n + 1, { rank: ranks[2] })
    )
    const world = yield* Comm.World
    yield* world.barrier()
    const t0 = performance.now()
    const result = yield* Pipeline.run(sink, { batchSize })
    const seconds = (performance.now() - t0) / 1000
    if (Option.isSome(result) && result.value !== items) return yield* Effect.die(new Error(`the sink counted ${result.value} of ${items} items`))
    return world.rank === 0 ? { itemsPerSecond: items / seconds, seconds } : undefined
  })

/** A CPU-bound map with one replica per rank (the source on rank 0 too): items per second. */
export const cpuMap = (items: number, iterations: number) =>
  Effect.gen(function*() {
    const world = yield* Comm.World
    const sink = Pipeline.source("source", range(items)).pipe(
      Pipeline.map("work", (x: number) => work(x, iterations), { replicas: world.size, ranks: Array.from({ length: world.size }, (_, r) => r) }),
      Pipeline.foldTo("sink", 0, (acc: number, h: number) => (acc + h) | 0)
    )
    yield* world.barrier()
    const t0 = performance.now()
    const result = yield* Pipeline.run(sink, { batchSize: 16, window: 4 })
    const seconds = (performance.now() - t0) / 1000
    return Option.isSome(result) ? { itemsPerSecond: items / seconds, checksum: result.value } : undefined
  })

/** Keyed word count (1 split replica and 1 count replica per rank): words per second. */
export const wordcount = (words: number) =>
  Effect.gen(function*() {
    const world = yield* Comm.World
    const sink = Pipeline.source("lines", { [Symbol.iterator]: () => corpus(words) }).pipe(
      Pipeline.flatMap("split", (line: string) => line.split(" "), { replicas: world.size }),
      Pipeline.keyBy("count", (w: string) => w, Pipeline.count(), { replicas: world.size }),
      Pipeline.collect("result")
    )
    yield* world.barrier()
    const t0 = performance.now()
    const result = yield* Pipeline.run(sink)
    const seconds = (performance.now() - t0) / 1000
    return Option.isSome(result) ? { wordsPerSecond: words / seconds, distinct: result.value.size } : undefined
  })

/**
 * Latency per item at a given rate: the source (rank 0) emits `perTick`
 * items stamped with the time every millisecond, a map on rank 1 passes them
 * on, and a sink on rank 0 notes how long each took (same clock as the source).
 */
export const latency = (seconds: number, itemsPerSecond: number) =>
  Effect.gen(function*() {
    const world = yield* Comm.World
    const perTick = Math.max(1, Math.round(itemsPerSecond / 1000))
    const ticks = Math.round(seconds * 1000)
    const now = () => performance.timeOrigin + performance.now()
    const stamped = Stream.fromEffectRepeat(Effect.as(Effect.sleep("1 millis"), 0)).pipe(
      Stream.take(ticks),
      Stream.flatMap(() => {
        const t = now()
        return Stream.fromIterable(Array.from({ length: perTick }, () => t))
      })
    )
    const delays: Array<number> = []
    const sink = Pipeline.source("source", stamped).pipe(
      Pipeline.map("map", (t: number) => t, { ranks: [Math.min(1, world.size - 1)] }),
      Pipeline.forEach("sink", (t: number) => void delays.push(now() - t), { ranks: [0] })
    )
    yield* world.barrier()
    const t0 = performance.now()
    yield* Pipeline.run(sink, { maxDelay: "1 millis" })
    const elapsed = (performance.now() - t0) / 1000
    if (world.rank !== 0) return undefined
    delays.sort((a, b) => a - b)
    const at = (q: number) => delays[Math.min(delays.length - 1, Math.floor(q * delays.length))]!
    return { items: delays.length, achievedPerSecond: delays.length / elapsed, p50Millis: at(0.5), p99Millis: at(0.99) }
  })

/**
 * Memory under a slow sink: a fast source of `itemBytes`-long strings, a map on rank 1,
 * and a sink on rank 0 that takes about a millisecond per item. Every rank
 * samples its heap every 100 ms while it runs; rank 0 returns the samples of
 * all ranks and the mailbox peaks against their bounds.
 */
export const slowSinkMemory = (items: number, itemBytes: number) =>
  Effect.gen(function*() {
    const world = yield* Comm.World
    const payload = "x".repeat(itemBytes)
    const samples: Array<number> = []
    // Live memory: collected first where the run has `--expose-gc` (npm run bench:pipelines does).
    const gc = (globalThis as { gc?: () => void }).gc
    const sample = Effect.sync(() => {
      gc?.()
      samples.push(process.memoryUsage().heapUsed)
    })
    const sampler = Effect.forever(Effect.andThen(sample, Effect.sleep("100 millis")))
    const sink = Pipeline.source("source", range(items)).pipe(
      Pipeline.map("make", (i: number) => `${i}:${payload}`, { ranks: [Math.min(1, world.size - 1)] }),
      Pipeline.forEach("slow", () => Effect.sleep("1 millis"), { ranks: [0] })
    )
    yield* world.barrier()
    const { stats } = yield* Pipeline.runWithStats(sink, { batchSize: 64 }).pipe(Effect.raceFirst(Effect.andThen(sampler, Effect.never)))
    const all = yield* world.gather(samples, { root: 0 })
    if (world.rank !== 0) return undefined
    return {
      heapSamplesByRank: all!,
      mailboxes: stats.map((s) => ({ stage: s.stage, replica: s.replica, peak: s.mailboxPeak, bound: s.mailboxBound })),
      sourceBlockedWaits: stats.find((s) => s.stage === "source")!.blockedWaits
    }
  })
