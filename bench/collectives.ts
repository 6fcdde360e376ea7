/**
 * The collectives benchmark (OSU style): latency of barrier, bcast,
 * allreduce (SUM of Float64Array), allgather and alltoall for messages of
 * 8 B … 1 MiB on 2, 4 and 8 ranks, next to the same operations written
 * naively over point-to-point (root sends to each rank in turn, linear
 * gather) in the same run, so that the algorithms' gain shows as a ratio.
 * Each rank times the collective alone; the figure is the mean over ranks
 * (see bench/programs/collectives.ts).
 *
 * Also, with tinybench (single-threaded, where it fits): the throughput of the
 * op kernels and of a copy, which give γ and β of the cost model in
 * docs/collectives.md.
 *
 * With `--transport nats` the ranks are processes joined through a
 * nats-server started on loopback (the naive baseline runs there too).
 *
 * Run: npm run bench:collectives [-- --quick] [-- --ranks 2,4,8] [-- --only bcast,allreduce] [-- --sizes 8,1048576] [-- --transport nats]
 * Writes bench/results/collectives.json (shm) or bench/results/collectives-nats.json.
 */
import { Effect } from "effect"
import { availableParallelism, loadavg } from "node:os"
import { Op, World } from "rankflow"
import { Bench } from "tinybench"
import type { Collective, Row } from "./programs/collectives.ts"
import { formatNumber, machine, printTable, progress, writeResults } from "./support/results.ts"
import { startServer, type NatsServer } from "../test/support/nats-server.ts"

/** The value of `--name a,b,c` on the command line, split at commas. */
const listArg = (name: string): Array<string> | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]!.split(",") : undefined
}

const quick = process.argv.includes("--quick")
const KiB = 1024
const MiB = 1024 * KiB
const RANKS = listArg("ranks")?.map(Number) ?? [2, 4, 8]
const BUDGET_MILLIS = quick ? 25 : 100
const SIZES = listArg("sizes")?.map(Number) ?? (quick ? [8, 512, 32 * KiB, 1 * MiB] : [8, 32, 128, 512, 2 * KiB, 8 * KiB, 32 * KiB, 128 * KiB, 512 * KiB, 1 * MiB])
const COLLECTIVES = (listArg("only") ?? ["barrier", "bcast", "allreduce", "allgather", "alltoall"]) as ReadonlyArray<Collective>

const programs = new URL("./programs/collectives.ts", import.meta.url)

const TRANSPORT = listArg("transport")?.[0] === "nats" ? "nats" : "shm"
let natsServer: NatsServer | undefined

const runSweep = (size: number, args: ReadonlyArray<unknown>): Promise<ReadonlyArray<Row>> =>
  Effect.runPromise(World.run<ReadonlyArray<Row>>({ module: programs, export: "sweep", args }, {
    size,
    prefixOutput: false,
    ...(TRANSPORT === "nats" ? { transport: "nats", transportOptions: { servers: natsServer!.url } } : {})
  })).then((results) => results[0]!)

/** The sweep with the trees of ranks that spin (binomial) forced: the ranks read RANKFLOW_COLL_RADIX when they start. */
const binomialSweep = async (size: number): Promise<ReadonlyArray<Row>> => {
  process.env.RANKFLOW_COLL_RADIX = "2"
  try {
    return await runSweep(size, [["barrier", "bcast", "allreduce"], [8], BUDGET_MILLIS, ["rankflow"], "binomial"])
  } finally {
    delete process.env.RANKFLOW_COLL_RADIX
  }
}

/** What rankflow runs for each collective, by regime (see docs/collectives.md). */
const ALGORITHMS: Record<Collective, string> = {
  barrier: "dissemination when ranks spin; fan-in/fan-out on a flat tree when they sleep and p > 4",
  bcast: "binomial tree when ranks spin; flat tree (radix 16) when they sleep",
  allreduce: "recursive doubling, Rabenseifner from 64 KiB; reduce + bcast on a flat tree when ranks sleep",
  allgather: "Bruck (buffers received in place); gather + bcast on a flat tree below 16 KiB per rank when ranks sleep",
  alltoall: "all messages in flight below 256 KiB per pair, pairwise exchange above"
}

/** Bytes per second of `fn` over `bytes` bytes, by tinybench. */
const throughput = async (label: string, bytes: number, fn: () => unknown): Promise<number> => {
  const bench = new Bench({ time: quick ? 100 : 400, warmupTime: 50 })
  bench.add(label, fn)
  await bench.run()
  const result = bench.tasks[0]!.result
  if (result.state !== "completed") throw new Error(`${label}: ${result.state}`)
  return bytes * result.throughput.mean
}

/** γ and β of the cost model: op kernels and a copy on 1 MiB, plus a shared loop that has seen every class (megamorphic). */
const kernels = async () => {
  const n = MiB / 8
  const a = new Float64Array(n).fill(1.5)
  const b = new Float64Array(n).fill(2.5)
  const out = new Float64Array(n)
  const shared = (x: any, y: any, o: any) => {
    for (let i = 0; i < o.length; i++) o[i] = x[i] + y[i]
  }
  for (const ctor of [Int8Array, Uint8Array, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array]) {
    for (let k = 0; k < 50; k++) shared(new ctor(64), new ctor(64), new ctor(64))
  }
  return {
    sumFloat64: await throughput("SUM kernel, Float64Array", MiB, () => Op.reduceLocal(Op.SUM, a, b, out)),
    maxFloat64: await throughput("MAX kernel, Float64Array", MiB, () => Op.reduceLocal(Op.MAX, a, b, out)),
    sumSharedLoop: await throughput("one loop for every class", MiB, () => shared(a, b, out)),
    copy: await throughput("TypedArray.set", MiB, () => out.set(a))
  }
}

const main = async () => {
  if (TRANSPORT === "nats") natsServer = await startServer()
  const cores = availableParallelism()
  const loadBefore = loadavg()
  progress(`op kernels and copy (tinybench)`)
  const local = await kernels()
  const rows: Array<Row> = []
  for (const size of RANKS) {
    progress(`${size} ranks (${TRANSPORT === "shm" && size <= cores ? "spinning" : "no spinning"})`)
    rows.push(...(await runSweep(size, [COLLECTIVES, SIZES, BUDGET_MILLIS])))
  }
  for (const size of RANKS) {
    progress(`${size} ranks, binomial trees forced (RANKFLOW_COLL_RADIX=2)`)
    rows.push(...(await binomialSweep(size)))
  }

  const find = (collective: Collective, ranks: number, bytes: number, impl: string) =>
    rows.find((r) => r.collective === collective && r.ranks === ranks && r.bytes === bytes && r.impl === impl)
  const ours = (_c: Collective) => "rankflow"

  console.log(`\nCollectives benchmark (${TRANSPORT}) — ${machine().cpu}, ${cores} cores, Node ${process.version}; load average ${loadBefore.map((l) => l.toFixed(1)).join(" ")} before, ${loadavg().map((l) => l.toFixed(1)).join(" ")} after`)
  console.log(`Average latency over ranks, µs; "×" = naive / rankflow (above 1: rankflow is faster)\n`)
  for (const collective of COLLECTIVES) {
    console.log(`${collective} (rankflow: ${ALGORITHMS[collective]}; naive: linear)`)
    printTable((collective === "barrier" ? [0] : SIZES).map((bytes) => {
      const row: Record<string, string | number> = { bytes }
      for (const ranks of RANKS) {
        const mine = find(collective, ranks, bytes, ours(collective))?.avgMicros ?? NaN
        const naive = find(collective, ranks, bytes, "linear")?.avgMicros ?? NaN
        row[`${ranks}r`] = mine
        row[`${ranks}r naive`] = naive
        row[`${ranks}r ×`] = naive / mine
      }
      return row
    }))
    console.log()
  }
  console.log("allreduce algorithms (µs): where Rabenseifner overtakes recursive doubling")
  printTable(SIZES.map((bytes) => {
    const row: Record<string, string | number> = { bytes }
    for (const ranks of RANKS) {
      row[`${ranks}r doubling`] = find("allreduce", ranks, bytes, "recursive-doubling")?.avgMicros ?? NaN
      row[`${ranks}r Rabenseifner`] = find("allreduce", ranks, bytes, "rabenseifner")?.avgMicros ?? NaN
    }
    return row
  }))
  console.log("\nGrowth with p of small messages (8 B), µs: rankflow as it chooses, binomial trees forced, naive")
  printTable((["barrier", "bcast", "allreduce"] as const).flatMap((collective) =>
    ["rankflow", "binomial", "linear"].map((impl) => {
      const row: Record<string, string | number> = { collective, impl }
      for (const ranks of RANKS) row[`${ranks} ranks`] = find(collective, ranks, collective === "barrier" ? 0 : 8, impl)?.avgMicros ?? NaN
      return row
    })
  ))
  const gb = (v: number) => v / 1e9
  console.log(`\nKernels on 1 MiB (GB/s): SUM ${formatNumber(gb(local.sumFloat64))}, MAX ${formatNumber(gb(local.maxFloat64))}, one shared loop ${formatNumber(gb(local.sumSharedLoop))}; copy ${formatNumber(gb(local.copy))}`)

  const largest = Math.max(...RANKS)
  const speedup = (collective: Collective, bytes: number) =>
    (find(collective, largest, bytes, "linear")?.avgMicros ?? NaN) / (find(collective, largest, bytes, ours(collective))?.avgMicros ?? NaN)
  const targets = [
    { target: `allreduce of 1 MiB of Float64 on ${largest} ranks, naive / rankflow`, value: speedup("allreduce", MiB), goal: ">= 2" },
    { target: `bcast of 8 B on ${largest} ranks, linear / rankflow`, value: speedup("bcast", 8), goal: ">= 1.5" }
  ].map((t) => ({ ...t, met: Number.isFinite(t.value) ? (t.value >= Number(t.goal.slice(3)) ? "yes" : "NO") : "not run" }))
  console.log("\nTargets")
  printTable(targets.map((t) => ({ target: t.target, ratio: t.value, goal: t.goal, met: t.met })))

  const growth = (collective: Collective, bytes: number) =>
    RANKS.map((ranks) => ({
      ranks,
      rankflow: find(collective, ranks, bytes, "rankflow")?.avgMicros ?? NaN,
      binomial: find(collective, ranks, bytes, "binomial")?.avgMicros ?? NaN,
      linear: find(collective, ranks, bytes, "linear")?.avgMicros ?? NaN
    }))
  const file = writeResults(TRANSPORT === "nats" ? "collectives-nats" : "collectives", {
    transport: TRANSPORT,
    quick,
    spinning: Object.fromEntries(RANKS.map((r) => [r, TRANSPORT === "shm" && r <= cores])),
    algorithms: ALGORITHMS,
    loadAverage: { before: loadBefore, after: loadavg() },
    sizes: SIZES,
    rows,
    kernelsBytesPerSecond: local,
    logGrowth: { bcast8B: growth("bcast", 8), allreduce8B: growth("allreduce", 8), barrier: growth("barrier", 0) },
    targets
  })
  console.log(`\nwrote ${file}`)
  await natsServer?.stop()
}

await main()
