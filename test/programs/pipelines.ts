/**
 * Rank programs for the pipelines suite (test/core/pipelines.test.ts). Each
 * export runs one pipeline on the world communicator and returns what the
 * test checks: a sink's result (at its rank), every actor's stats, or the
 * error the run failed with (as plain data, so every rank's can be compared).
 */
import { Effect, Metric, Option, Schedule, Schema, Stream } from "effect"
import { Comm, Pipeline } from "rankflow"
import { corpus } from "../../examples/corpus.ts"

/** The error a run failed with, as data. */
const failure = <A, E extends { readonly _tag: string }, R>(run: Effect.Effect<A, E, R>) =>
  run.pipe(
    Effect.map((value) => ({ ok: true as const, value: plain(value) })),
    Effect.catch((e: E) => Effect.succeed({ ok: false as const, error: { ...(e as object), _tag: e._tag, message: (e as { message?: string }).message } }))
  )

/** Options become `{ some: value }` or `null` (the launcher gets results through pickle, which has no Option class). */
export const plain = (u: unknown): unknown =>
  Option.isOption(u)
    ? (Option.isSome(u) ? { some: plain(u.value) } : null)
    : Array.isArray(u)
    ? u.map(plain)
    : u !== null && typeof u === "object" && Object.getPrototypeOf(u) === Object.prototype
    ? Object.fromEntries(Object.entries(u).map(([k, v]) => [k, plain(v)]))
    : u

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

/** Busy work of about `micros` µs (deterministic, no timers). */
const spin = (micros: number) => {
  const end = performance.now() + micros / 1000
  let x = 0
  while (performance.now() < end) x++
  return x
}

export const wordcount = (words: number, replicas: { split: number; count: number }) =>
  Effect.map(Effect.gen(function*() {
    const sink = Pipeline.source("lines", Stream.fromIterable({ [Symbol.iterator]: () => corpus(words) }), { schema: Schema.String }).pipe(
      Pipeline.flatMap("split", (line: string) => line.split(/\W+/).filter(Boolean), { replicas: replicas.split }),
      Pipeline.keyBy("count", (word: string) => word, Pipeline.count(), { replicas: replicas.count }),
      Pipeline.collect("result")
    )
    const result = yield* Pipeline.run(sink)
    return Option.map(result, (m) => Object.fromEntries(m))
  }), plain)

/** Items of a key keep their order through an ordered map with replicas and a keyed stage. */
export const perKeyOrder = (n: number, keys: number) =>
  Effect.map(Effect.gen(function*() {
    const world = yield* Comm.World
    const sink = Pipeline.source("events", range(n).map((i) => [i % keys, i] as const)).pipe(
      Pipeline.map("touch", ([k, i]: readonly [number, number]) => {
        if (i % 7 === 0) spin(50)
        return [k, i] as const
      }, { replicas: Math.max(2, world.size), ordered: true }),
      Pipeline.keyBy("perKey", ([k]: readonly [number, number]) => k, Pipeline.fold<readonly [number, number], ReadonlyArray<number>>([], (seen, [, i]) => [...seen, i]), { replicas: 3 }),
      Pipeline.collect("result")
    )
    return Option.map(yield* Pipeline.run(sink, { batchSize: 16 }), (m) => [...m.entries()])
  }), plain)

/** `ordered: true` restores source order across replicas that take uneven time; without it one replica keeps its order. */
export const orderedMap = (n: number, replicas: number, ordered: boolean) =>
  Effect.map(Effect.gen(function*() {
    const sink = Pipeline.source("numbers", range(n)).pipe(
      Pipeline.map("double", (x: number) => {
        if (x % 13 < 3) spin(100)
        return 2 * x
      }, { replicas, ordered }),
      Pipeline.collect("result")
    )
    return yield* Pipeline.run(sink, { batchSize: 8 })
  }), plain)

/** A sink slowed to about one item per millisecond: every mailbox and window stays within its bound and the source waits. */
export const slowSink = (n: number) =>
  Effect.map(Effect.gen(function*() {
    const sink = Pipeline.source("numbers", range(n)).pipe(
      Pipeline.map("inc", (x: number) => x + 1, { replicas: 2 }),
      Pipeline.forEach("slow", () => Effect.sleep("1 millis"))
    )
    const { result, stats } = yield* Pipeline.runWithStats(sink, { batchSize: 16, window: 2 })
    return { result, stats }
  }), plain)

/** A stage that throws fails the run on every rank, naming itself. */
export const throwing = (n: number, at: number) =>
  failure(Effect.gen(function*() {
    const world = yield* Comm.World
    const sink = Pipeline.source("numbers", range(n)).pipe(
      Pipeline.map("explode", (x: number) => {
        if (x === at) throw new Error(`cannot handle ${x}`)
        return x
      }, { replicas: Math.max(1, world.size - 1) }),
      Pipeline.collect("result")
    )
    return yield* Pipeline.run(sink, { batchSize: 32 })
  }))

/** `onError: "skip"` drops the failing items, counts them, and the run goes on. */
export const skipping = (n: number) =>
  Effect.map(Effect.gen(function*() {
    const sink = Pipeline.source("numbers", range(n)).pipe(
      Pipeline.map("picky", (x: number) => {
        if (x % 10 === 0) throw new Error(`no multiples of ten (${x})`)
        return x
      }, { replicas: 2, onError: "skip" }),
      Pipeline.foldTo("sum", 0, (s, x: number) => s + x)
    )
    const { result, stats } = yield* Pipeline.runWithStats(sink)
    return { result, skipped: stats.filter((s) => s.stage === "picky").reduce((k, s) => k + s.skipped, 0) }
  }), plain)

/** `onError: { retry }` tries an item again on its schedule; a mapEffect failure is retried the same way. */
export const retrying = (n: number) =>
  Effect.map(Effect.gen(function*() {
    const attempts = new Map<number, number>()
    const flaky = (x: number) => {
      const a = (attempts.get(x) ?? 0) + 1
      attempts.set(x, a)
      if (x % 5 === 0 && a < 3) throw new Error(`flaky ${x}`)
      return x
    }
    const sink = Pipeline.source("numbers", range(n)).pipe(
      Pipeline.map("flaky", flaky, { onError: { retry: Schedule.recurs(3) } }),
      Pipeline.mapEffect("flakyEffect", (x: number) => {
        const a = (attempts.get(-x - 1) ?? 0) + 1
        attempts.set(-x - 1, a)
        return x % 7 === 0 && a < 2 ? Effect.fail(`transient ${x}`) : Effect.succeed(x)
      }, { concurrency: 4, onError: { retry: Schedule.recurs(2) } }),
      Pipeline.collect("result")
    )
    const { result, stats } = yield* Pipeline.runWithStats(sink)
    return { result, retries: Object.fromEntries(stats.map((s) => [s.stage, s.retries])) }
  }), plain)

/** Retries that run out fail the stage. */
export const retriesExhausted = () =>
  failure(Pipeline.run(
    Pipeline.source("numbers", range(10)).pipe(
      Pipeline.map("hopeless", (x: number) => {
        if (x === 4) throw new Error("always")
        return x
      }, { onError: { retry: Schedule.recurs(2) } }),
      Pipeline.collect("result")
    )
  ))

/** `restart` starts the replica over with fresh state: a keyed count restarted at item `at` counts only what came after. */
export const restarting = (n: number, at: ReadonlyArray<number>, restarts: number) =>
  failure(Effect.gen(function*() {
    const sink = Pipeline.source("numbers", range(n)).pipe(
      Pipeline.keyBy("count", () => "all", Pipeline.fold(0, (k: number, x: number) => {
        if (at.includes(x)) throw new Error(`bad ${x}`)
        return k + 1
      }), { restart: Schedule.recurs(restarts) }),
      Pipeline.collect("result")
    )
    const { result, stats } = yield* Pipeline.runWithStats(sink)
    return { counts: Option.map(result, (m) => m.get("all")), restarts: stats.find((s) => s.stage === "count")!.restarts }
  }))

/** An item that breaks its edge's schema fails the stage with the item's position and the schema's issue. */
export const schemaViolation = () =>
  failure(Effect.gen(function*() {
    const sink = Pipeline.source("numbers", range(20)).pipe(
      Pipeline.map("toText", (x: number) => (x === 7 ? (x as unknown as string) : String(x)), { schema: Schema.String }),
      Pipeline.collect("result")
    )
    return yield* Pipeline.run(sink)
  }))

export const empty = () =>
  Effect.map(Effect.gen(function*() {
    const rows = Pipeline.source("nothing", [] as Array<number>).pipe(Pipeline.map("inc", (x: number) => x + 1, { replicas: 3 }))
    const result = yield* Pipeline.run({
      items: rows.pipe(Pipeline.collect("items")),
      counts: rows.pipe(Pipeline.keyBy("count", (x: number) => x, Pipeline.count(), { replicas: 2 }), Pipeline.collect("counts")),
      total: rows.pipe(Pipeline.foldTo("total", 0, (s, x: number) => s + x)),
      seen: rows.pipe(Pipeline.forEach("seen", () => undefined))
    })
    return { items: result.items, counts: Option.map(result.counts, (m) => m.size), total: result.total, seen: result.seen }
  }), plain)

/** More replicas than ranks, the sinks on the last rank, and two pipelines one after the other on the same world. */
export const manyReplicasTwice = (n: number) =>
  Effect.map(Effect.gen(function*() {
    const world = yield* Comm.World
    const last = world.size - 1
    const first = yield* Pipeline.run(
      Pipeline.source("numbers", range(n)).pipe(
        Pipeline.map("square", (x: number) => x * x, { replicas: 3 * world.size }),
        Pipeline.foldTo("sum", 0, (s, x: number) => s + x, { rank: last })
      )
    )
    const second = yield* Pipeline.run(
      Pipeline.partitioned("shares", (replica, replicas) => range(n).filter((i) => i % replicas === replica), { replicas: 2 * world.size }).pipe(
        Pipeline.filter("odd", (x: number) => x % 2 === 1, { replicas: world.size + 1 }),
        Pipeline.collect("odds", { rank: last })
      )
    )
    return { first, second: Option.map(second, (xs) => [...xs].sort((a, b) => a - b)) }
  }), plain)

/** broadcast, merge, batch, windows, mapEffect, toStream and several sinks. */
export const shapes = (n: number) =>
  Effect.map(Effect.gen(function*() {
    const world = yield* Comm.World
    const numbers = Pipeline.source("numbers", range(n))
    const letters = Pipeline.source("letters", Stream.fromIterable(["a", "b", "c"]), { rank: world.size - 1 })
    const result = yield* Pipeline.run({
      everyReplica: numbers.pipe(Pipeline.broadcast, Pipeline.forEach("each", () => undefined, { replicas: 3 })),
      merged: Pipeline.merge(numbers.pipe(Pipeline.map("show", (x: number) => `${x}`)), letters).pipe(Pipeline.collect("merged")),
      batches: numbers.pipe(Pipeline.batch("groups", 7, "1 second"), Pipeline.collect("batches")),
      windows: numbers.pipe(
        Pipeline.keyBy("tens", (x: number) => x % 2, Pipeline.sum(), { window: { items: 10 }, replicas: 2 }),
        Pipeline.collect("windows")
      ),
      ticks: Pipeline.source("slow", Stream.fromIterable(range(60)).pipe(Stream.tap(() => Effect.sleep("1 millis")))).pipe(
        Pipeline.keyBy("perTick", (x: number) => x % 3, Pipeline.sum(), { window: { every: "10 millis" }, replicas: 2 }),
        Pipeline.collect("ticks")
      ),
      effects: numbers.pipe(
        Pipeline.mapEffect("later", (x: number) => Effect.as(Effect.sleep(`${x % 3} millis`), -x), { concurrency: 8, replicas: 2 }),
        Pipeline.foldTo("negSum", 0, (s, x: number) => s + x)
      )
    })
    const streamed = yield* Stream.runCollect(Pipeline.runStream(numbers.pipe(Pipeline.map("triple", (x: number) => 3 * x), Pipeline.toStream("out"))))
    return {
      everyReplica: result.everyReplica,
      merged: Option.map(result.merged, (xs) => [...xs].sort()),
      batches: result.batches,
      windows: Option.map(result.windows, (ws) => [...ws].sort((a, b) => a[0] - b[0] || a[1] - b[1])),
      effects: result.effects,
      ticks: result.ticks,
      streamed: [...streamed]
    }
  }), plain)

/** Graphs that cannot run are refused on every rank before anything starts. */
export const invalid = (which: string) =>
  failure(Effect.gen(function*() {
    const world = yield* Comm.World
    const numbers = Pipeline.source("numbers", range(10))
    switch (which) {
      case "duplicate":
        return yield* Pipeline.run(numbers.pipe(Pipeline.map("numbers", (x: number) => x), Pipeline.collect("out")))
      case "rank":
        return yield* Pipeline.run(numbers.pipe(Pipeline.map("far", (x: number) => x, { ranks: [world.size] }), Pipeline.collect("out")))
      case "ordered":
        return yield* Pipeline.run(numbers.pipe(
          Pipeline.map("shuffled", (x: number) => x, { replicas: 2 }),
          Pipeline.map("sorted", (x: number) => x, { ordered: true }),
          Pipeline.collect("out")
        ))
      case "mismatch":
        return yield* Pipeline.run(numbers.pipe(Pipeline.map("far", (x: number) => x, { replicas: world.rank === 0 ? 1 : 2 }), Pipeline.collect("out")))
      case "rerunOnce": {
        function* once() {
          yield 1
        }
        return yield* Pipeline.run(Pipeline.source("generated", once()).pipe(Pipeline.collect("out")), { onRankFailure: "rerun" })
      }
      default:
        return yield* Pipeline.run(numbers.pipe(Pipeline.collect("out")), { batchSize: 0 })
    }
  }))

/** Rank 0 takes only the first 5 items of a streamed pipeline and drops the rest: the run stops there, and the other ranks are told. */
export const abandoned = () =>
  failure(Effect.gen(function*() {
    const world = yield* Comm.World
    const out = Pipeline.source("numbers", range(100_000)).pipe(
      Pipeline.map("inc", (x: number) => x + 1, { ranks: [world.size - 1] }),
      Pipeline.toStream("out")
    )
    const stream = Pipeline.runStream(out, { batchSize: 16 })
    return [...yield* Stream.runCollect(world.rank === 0 ? Stream.take(stream, 5) : stream)]
  }))

/** The Effect metrics every replica updates: items in and out per stage and replica, on the rank the replica ran on. */
export const metrics = (n: number) =>
  Effect.gen(function*() {
    yield* Pipeline.run(Pipeline.source("measured", range(n)).pipe(
      Pipeline.map("twice", (x: number) => 2 * x, { replicas: 2 }),
      Pipeline.foldTo("measuredSum", 0, (s, x: number) => s + x)
    ))
    const snapshot = yield* Metric.snapshot
    return snapshot
      .filter((m) => m.id === "rankflow_pipeline_items_in" || m.id === "rankflow_pipeline_items_out")
      .map((m) => ({ id: m.id, stage: m.attributes?.["stage"], replica: m.attributes?.["replica"], count: (m.state as { count: number }).count }))
  })

/** The progress line names the stage that holds the others back. */
export const progress = () =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    yield* Pipeline.run(
      Pipeline.source("numbers", range(600)).pipe(
        Pipeline.map("fast", (x: number) => x),
        Pipeline.forEach("slowest", () => Effect.sleep("3 millis"))
      ),
      { progress: (line) => Effect.sync(() => void lines.push(line)), batchSize: 8 }
    )
    return lines
  })

/**
 * Stage `split` runs on rank `victim`, which dies (SIGKILL) while the
 * pipeline runs; with `rerun`, the ranks left run the graph again and log
 * the sum.
 */
export const killed = (victim: number, rerun = false) =>
  Effect.gen(function*() {
    const world = yield* Comm.World
    const n = rerun ? 200_000 : 1_000_000
    const sink = Pipeline.source("numbers", Stream.fromIterable(range(n)), { rank: 0 }).pipe(
      Pipeline.map("split", (x: number) => {
        if (x === 5000 && world.rank === victim) process.kill(process.pid, "SIGKILL")
        return x
      }, { ranks: [victim] }),
      Pipeline.foldTo("sum", 0, (s, x: number) => s + x, { rank: world.size === 1 ? 0 : (victim + 1) % world.size })
    )
    const result = yield* Pipeline.run(sink, { onRankFailure: rerun ? "rerun" : "fail" })
    if (Option.isSome(result)) yield* Effect.log(`sum ${result.value} (expected ${(n * (n - 1)) / 2})`)
    return plain(result)
  })
