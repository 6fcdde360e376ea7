/**
 * The pipeline benchmark. In one run, with each baseline next to it:
 *
 * - per-item overhead: a no-op three-stage pipeline (source → map → sink)
 *   across two ranks and within one, against the same stages as one Effect
 *   Stream in one thread;
 * - a CPU-bound map (about 50 µs per item) on 1, 2, 4 and 8 ranks, against a
 *   plain loop in one thread, against plain worker threads each looping over
 *   its share (the machine's ceiling: no framework at all), and against
 *   piscina with as many threads (one task per item, and one task per batch
 *   of 16 items);
 * - keyed word count, against a single-thread Map count;
 * - latency per item (p50, p99) at half the no-op pipeline's throughput;
 * - memory under a slow sink: the heap of each rank sampled while a fast
 *   source feeds a sink that takes a millisecond per item.
 *
 * Run: npm run bench:pipelines [-- --quick] [-- --transport nats]
 * Writes bench/results/pipelines.json (or pipelines-nats.json).
 */
import { Effect, Exit, Scope, Stream } from "effect"
import { availableParallelism, loadavg } from "node:os"
import { fileURLToPath } from "node:url"
import { Worker } from "node:worker_threads"
import { Piscina } from "piscina"
import { World } from "rankflow"
import { corpus } from "../examples/corpus.ts"
import { startServer, type NatsServer } from "../test/support/nats-server.ts"
import { calibrate, work } from "./programs/work.ts"
import { machine, printTable, progress, writeResults } from "./support/results.ts"

const quick = process.argv.includes("--quick")
const TRANSPORT = process.argv.includes("nats") ? "nats" : "shm"
const programs = new URL("./programs/pipelines.ts", import.meta.url)
let server: NatsServer | undefined

/** One world per size, kept for the whole run: every measurement after the first finds its ranks started and their code compiled, as in a long job. */
const worlds = new Map<number, World.World>()
let scope: Scope.Closeable | undefined

const onRanks = async <A>(size: number, name: string, ...args: ReadonlyArray<unknown>): Promise<A> => {
  scope ??= await Effect.runPromise(Scope.make())
  let world = worlds.get(size)
  if (world === undefined) {
    world = await Effect.runPromise(Scope.provide(World.make({
      size,
      prefixOutput: false,
      ...(TRANSPORT === "nats" ? { transport: "nats" as const, transportOptions: { servers: server!.url } } : {})
    }), scope))
    worlds.set(size, world)
  }
  const results = await Effect.runPromise(world.run<A>({ module: programs, export: name, args }))
  return results.find((r) => r !== undefined && r !== null)!
}

/** The best of `runs` tries (the machine is shared; the best is the least disturbed). */
const best = async <A>(runs: number, f: () => Promise<A>, score: (a: A) => number): Promise<A> => {
  let top: A | undefined
  for (let i = 0; i < runs; i++) {
    const a = await f()
    if (top === undefined || score(a) > score(top)) top = a
  }
  return top!
}

const RUNS = quick ? 1 : 3

const main = async () => {
  if (TRANSPORT === "nats") server = await startServer()
  const load = loadavg()[0]
  // ---- per-item overhead ----------------------------------------------------
  const NOOP_ITEMS = quick ? 500_000 : 2_000_000
  progress(`no-op pipeline, ${NOOP_ITEMS} items`)
  const streamBaseline = await best(RUNS, async () => {
    const t0 = performance.now()
    const n = await Effect.runPromise(Stream.fromIterable({
      *[Symbol.iterator]() {
        for (let i = 0; i < NOOP_ITEMS; i++) yield i
      }
    }).pipe(Stream.map((x: number) => x), Stream.runFold(() => 0, (k: number) => k + 1)))
    if (n !== NOOP_ITEMS) throw new Error("stream baseline miscounted")
    return { itemsPerSecond: NOOP_ITEMS / ((performance.now() - t0) / 1000) }
  }, (r) => r.itemsPerSecond)
  const noopRows: Array<Record<string, string | number>> = []
  const noop: Record<string, number> = {}
  for (const batchSize of [512, 2048]) {
    const twoRanks = await best(RUNS, () => onRanks<{ itemsPerSecond: number }>(2, "noop", NOOP_ITEMS, [0, 1, 0], batchSize), (r) => r.itemsPerSecond)
    const oneRank = await best(RUNS, () => onRanks<{ itemsPerSecond: number }>(1, "noop", NOOP_ITEMS, [0, 0, 0], batchSize), (r) => r.itemsPerSecond)
    noop[`twoRanksBatch${batchSize}`] = twoRanks.itemsPerSecond
    noop[`oneRankBatch${batchSize}`] = oneRank.itemsPerSecond
    noopRows.push({
      batch: batchSize,
      "2 ranks items/s": twoRanks.itemsPerSecond,
      "1 rank items/s": oneRank.itemsPerSecond,
      "Effect Stream items/s": streamBaseline.itemsPerSecond,
      "2 ranks / Stream": twoRanks.itemsPerSecond / streamBaseline.itemsPerSecond
    })
  }
  printTable(noopRows)

  // ---- CPU-bound map ----------------------------------------------------------
  const iterations = calibrate(50)
  const CPU_ITEMS = quick ? 4000 : 16000
  progress(`CPU-bound map: ${CPU_ITEMS} items of ~50 µs (${iterations} iterations)`)
  const oneThread = await best(RUNS, async () => {
    const t0 = performance.now()
    let acc = 0
    for (let i = 0; i < CPU_ITEMS; i++) acc = (acc + work(i, iterations)) | 0
    return { itemsPerSecond: CPU_ITEMS / ((performance.now() - t0) / 1000), checksum: acc }
  }, (r) => r.itemsPerSecond)
  const cpuRows: Array<Record<string, string | number>> = []
  const cpu: Array<Record<string, number>> = []
  for (const size of [1, 2, 4, 8]) {
    await onRanks(size, "cpuMap", Math.min(CPU_ITEMS, 2000), iterations) // warm-up: start the ranks, compile the code
    const ours = await best(RUNS, () => onRanks<{ itemsPerSecond: number; checksum: number }>(size, "cpuMap", CPU_ITEMS, iterations), (r) => r.itemsPerSecond)
    if (ours.checksum !== oneThread.checksum) throw new Error(`checksum differs on ${size} ranks`)
    progress(`CPU-bound map on ${size} ranks: ${Math.round(ours.itemsPerSecond)} items/s`)
    const threads = await best(RUNS, async () => {
      const share = Math.ceil(CPU_ITEMS / size)
      const workers = Array.from({ length: size }, (_, k) =>
        new Worker(new URL("./baselines/threads-work.ts", import.meta.url), { workerData: { from: k * share, to: Math.min(CPU_ITEMS, (k + 1) * share), iterations } }))
      const next = (w: Worker) => new Promise<unknown>((resolve, reject) => w.once("message", resolve).once("error", reject))
      await Promise.all(workers.map(next))
      const t0 = performance.now()
      const done = Promise.all(workers.map(next)) as Promise<Array<number>>
      for (const w of workers) w.postMessage("go")
      const hs = await done
      const seconds = (performance.now() - t0) / 1000
      await Promise.all(workers.map((w) => w.terminate()))
      return { itemsPerSecond: CPU_ITEMS / seconds, checksum: hs.reduce((a, h) => (a + h) | 0, 0) }
    }, (r) => r.itemsPerSecond)
    const pool = new Piscina({ filename: fileURLToPath(new URL("./baselines/piscina-work.ts", import.meta.url)), minThreads: size, maxThreads: size })
    const piscinaPerItem = await best(RUNS, async () => {
      const t0 = performance.now()
      const hs = await Promise.all(Array.from({ length: CPU_ITEMS }, (_, i) => pool.run({ items: i, iterations }) as Promise<number>))
      const seconds = (performance.now() - t0) / 1000
      return { itemsPerSecond: CPU_ITEMS / seconds, checksum: hs.reduce((a, h) => (a + h) | 0, 0) }
    }, (r) => r.itemsPerSecond)
    const piscinaBatched = await best(RUNS, async () => {
      const t0 = performance.now()
      const tasks = []
      for (let i = 0; i < CPU_ITEMS; i += 16) tasks.push(pool.run({ items: Array.from({ length: Math.min(16, CPU_ITEMS - i) }, (_, k) => i + k), iterations }) as Promise<number>)
      const hs = await Promise.all(tasks)
      return { itemsPerSecond: CPU_ITEMS / ((performance.now() - t0) / 1000), checksum: hs.reduce((a, h) => (a + h) | 0, 0) }
    }, (r) => r.itemsPerSecond)
    await pool.destroy()
    if (piscinaPerItem.checksum !== oneThread.checksum || piscinaBatched.checksum !== oneThread.checksum) throw new Error("piscina checksum differs")
    const row = {
      ranks: size,
      pipelineItemsPerSecond: ours.itemsPerSecond,
      oneThreadItemsPerSecond: oneThread.itemsPerSecond,
      plainThreadsItemsPerSecond: threads.itemsPerSecond,
      piscinaPerItemItemsPerSecond: piscinaPerItem.itemsPerSecond,
      piscinaBatchedItemsPerSecond: piscinaBatched.itemsPerSecond,
      vsOneThread: ours.itemsPerSecond / oneThread.itemsPerSecond,
      plainThreadsVsOneThread: threads.itemsPerSecond / oneThread.itemsPerSecond,
      vsPlainThreads: ours.itemsPerSecond / threads.itemsPerSecond,
      vsPiscinaPerItem: ours.itemsPerSecond / piscinaPerItem.itemsPerSecond,
      vsPiscinaBatched: ours.itemsPerSecond / piscinaBatched.itemsPerSecond
    }
    cpu.push(row)
    cpuRows.push({
      ranks: size,
      "pipeline items/s": row.pipelineItemsPerSecond,
      "1 thread": row.oneThreadItemsPerSecond,
      "plain threads": row.plainThreadsItemsPerSecond,
      "piscina per item": row.piscinaPerItemItemsPerSecond,
      "piscina ×16": row.piscinaBatchedItemsPerSecond,
      "vs 1 thread": row.vsOneThread,
      "plain threads vs 1": row.plainThreadsVsOneThread,
      "vs piscina": row.vsPiscinaPerItem,
      "vs piscina ×16": row.vsPiscinaBatched
    })
  }
  printTable(cpuRows)

  // ---- keyed word count ---------------------------------------------------------
  const WORDS = quick ? 300_000 : 1_000_000
  progress(`keyed word count, ${WORDS} words`)
  const single = await best(RUNS, async () => {
    const t0 = performance.now()
    const m = new Map<string, number>()
    for (const line of corpus(WORDS)) for (const w of line.split(" ")) m.set(w, (m.get(w) ?? 0) + 1)
    return { wordsPerSecond: WORDS / ((performance.now() - t0) / 1000), distinct: m.size }
  }, (r) => r.wordsPerSecond)
  const wc: Array<Record<string, number>> = []
  for (const size of [1, 2, 4]) {
    const ours = await best(RUNS, () => onRanks<{ wordsPerSecond: number; distinct: number }>(size, "wordcount", WORDS), (r) => r.wordsPerSecond)
    if (ours.distinct !== single.distinct) throw new Error("word count differs")
    wc.push({ ranks: size, pipelineWordsPerSecond: ours.wordsPerSecond, singleThreadWordsPerSecond: single.wordsPerSecond, ratio: ours.wordsPerSecond / single.wordsPerSecond })
  }
  printTable(wc.map((r) => ({ ranks: r.ranks!, "pipeline words/s": r.pipelineWordsPerSecond!, "Map count words/s": r.singleThreadWordsPerSecond!, ratio: r.ratio! })))

  // ---- latency at half throughput ------------------------------------------------
  const half = noop["twoRanksBatch512"]! / 2
  progress(`latency at ${Math.round(half)} items/s`)
  const lat = await onRanks<{ items: number; achievedPerSecond: number; p50Millis: number; p99Millis: number }>(2, "latency", quick ? 1 : 3, half)
  const light = await onRanks<{ items: number; achievedPerSecond: number; p50Millis: number; p99Millis: number }>(2, "latency", quick ? 1 : 2, 1000)
  printTable([
    { rate: "half of max", "target items/s": half, "achieved items/s": lat.achievedPerSecond, "p50 ms": lat.p50Millis, "p99 ms": lat.p99Millis },
    { rate: "1,000/s", "target items/s": 1000, "achieved items/s": light.achievedPerSecond, "p50 ms": light.p50Millis, "p99 ms": light.p99Millis }
  ])

  // ---- memory under a slow sink -----------------------------------------------
  const SLOW_ITEMS = quick ? 1500 : 5000
  const ITEM_BYTES = 4096
  progress(`memory under a slow sink: ${SLOW_ITEMS} items of ${ITEM_BYTES} B, the sink ~1 ms per item${typeof (globalThis as { gc?: unknown }).gc === "function" ? "" : " (without --expose-gc: heap samples include garbage)"}`)
  // On fresh ranks, so that no garbage of the runs above is in the samples; rank
  // processes (NATS) take --expose-gc from the environment, threads from this process.
  if (typeof (globalThis as { gc?: unknown }).gc === "function") process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ""} --expose-gc`.trim()
  const slow = (await Effect.runPromise(World.run<{ heapSamplesByRank: Array<Array<number>>; mailboxes: Array<{ peak: number; bound: number }>; sourceBlockedWaits: number } | undefined>(
    { module: programs, export: "slowSinkMemory", args: [SLOW_ITEMS, ITEM_BYTES] },
    { size: 2, prefixOutput: false, ...(TRANSPORT === "nats" ? { transport: "nats" as const, transportOptions: { servers: server!.url } } : {}) }
  )))[0]!
  // Growth: the heap's last quarter against its first quarter (after the first second), per rank, in MiB.
  const growth = slow.heapSamplesByRank.map((xs) => {
    const settled = xs.slice(Math.min(10, Math.floor(xs.length / 4)))
    const q = Math.max(1, Math.floor(settled.length / 4))
    const mean = (a: Array<number>) => a.reduce((x, y) => x + y, 0) / a.length
    return (mean(settled.slice(-q)) - mean(settled.slice(0, q))) / 2 ** 20
  })
  const itemsMiB = (SLOW_ITEMS * ITEM_BYTES) / 2 ** 20
  printTable(slow.heapSamplesByRank.map((xs, rank) => ({
    rank,
    samples: xs.length,
    "heap min MiB": Math.min(...xs) / 2 ** 20,
    "heap max MiB": Math.max(...xs) / 2 ** 20,
    "growth MiB": growth[rank]!,
    "all items MiB": itemsMiB
  })))
  const memoryFlat = growth.every((g) => g < itemsMiB / 4) && slow.mailboxes.every((m) => m.peak <= m.bound) && slow.sourceBlockedWaits > 0

  const cpu2 = cpu.find((r) => r.ranks === 2)!
  const targets = {
    noopEdgeAtLeast1MItemsPerSecond: { value: noop["twoRanksBatch512"]!, met: noop["twoRanksBatch512"]! >= 1_000_000 },
    cpuMap2RanksAtLeast1_7xOneThread: { value: cpu2.vsOneThread!, met: cpu2.vsOneThread! >= 1.7 },
    cpuMap2RanksAtLeast1xPiscina: { value: cpu2.vsPiscinaPerItem!, met: cpu2.vsPiscinaPerItem! >= 1.0 },
    cpuMap2RanksVsPiscinaBatched: { value: cpu2.vsPiscinaBatched!, met: cpu2.vsPiscinaBatched! >= 1.0 },
    memoryFlatUnderSlowSink: { value: Math.max(...growth), met: memoryFlat },
    machineCeilingTwoPlainThreadsVsOne: { value: cpu2.plainThreadsVsOneThread!, met: cpu2.plainThreadsVsOneThread! >= 1.7 }
  }
  console.log(targets)
  const file = writeResults(TRANSPORT === "nats" ? "pipelines-nats" : "pipelines", {
    transport: TRANSPORT,
    loadAverageAtStart: load,
    cores: availableParallelism(),
    quick,
    noop: { streamBaselineItemsPerSecond: streamBaseline.itemsPerSecond, ...noop, ratioTwoRanksVsStream: noop["twoRanksBatch512"]! / streamBaseline.itemsPerSecond },
    cpuMap: { microsPerItem: 50, iterations, items: CPU_ITEMS, rows: cpu },
    wordcount: { words: WORDS, rows: wc },
    latency: { halfOfMax: lat, light },
    slowSink: { items: SLOW_ITEMS, itemBytes: ITEM_BYTES, gcBeforeEachSample: typeof (globalThis as { gc?: unknown }).gc === "function", heapGrowthMiBByRank: growth, allItemsMiB: itemsMiB, mailboxes: slow.mailboxes, sourceBlockedWaits: slow.sourceBlockedWaits },
    targets,
    machine: machine()
  })
  console.log(`wrote ${file}`)
  if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
  await server?.stop()
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
