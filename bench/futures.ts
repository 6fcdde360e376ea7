/**
 * The futures benchmark: a pool of worker ranks (rankflow's PoolExecutor in a
 * `--pool` job on shm) against piscina with as many threads, against running
 * the tasks inline, and against mpi4py.futures on Open MPI where `mpiexec`
 * and `python3-mpi4py` are installed (else skipped with a note). For 1, 2 and
 * 4 workers: tiny tasks (the identity) per second, submitted at once and
 * awaited; and the time of CPU-bound tasks (fib(n)), as a speed-up over
 * running them inline. Best of several repeats. Then the time to spawn 1
 * and 4 ranks on shm and meet them in a barrier, against mpi4py's
 * COMM_SELF.Spawn on Open MPI.
 *
 * Run: npm run bench:futures [-- --quick]
 * Writes bench/results/futures.json.
 */
import { Effect } from "effect"
import { fileURLToPath } from "node:url"
import { Piscina } from "piscina"
import { World } from "rankflow"
import { fib } from "./programs/fib.ts"
import { formatNumber, machine, printTable, progress, writeResults } from "./support/results.ts"
import { openMpiMissing, runMpi4py, versions } from "./support/openmpi.ts"
import { startServer } from "../test/support/nats-server.ts"

const quick = process.argv.includes("--quick")
const COUNT = quick ? 2_000 : 10_000
const REPEATS = quick ? 2 : 4
const CPU_TASKS = 16
const N = quick ? 27 : 32
const WORKERS = [1, 2, 4]

interface Measured {
  readonly workers: number
  readonly submitPerSecond: number
  readonly mapChunkedPerSecond?: number
  readonly cpuMs: number
  /** mpi4py's: the same fib(n) calls inline in Python. */
  readonly inlineMs?: number
}

const best = async (repeats: number, run: () => Promise<unknown>): Promise<number> => {
  let ms = Infinity
  for (let r = 0; r < repeats; r++) {
    const t = performance.now()
    await run()
    ms = Math.min(ms, performance.now() - t)
  }
  return ms
}

const viaPiscina = async (workers: number): Promise<Measured> => {
  const pool = new Piscina({ filename: fileURLToPath(new URL("./baselines/piscina-fib.ts", import.meta.url)), minThreads: workers, maxThreads: workers })
  try {
    await Promise.all(Array.from({ length: workers * 4 }, (_, x) => pool.run({ kind: "identity", x }))) // warm the threads
    const tiny = await best(REPEATS, () => Promise.all(Array.from({ length: COUNT }, (_, x) => pool.run({ kind: "identity", x }))))
    const cpu = await best(REPEATS, () => Promise.all(Array.from({ length: CPU_TASKS }, () => pool.run({ kind: "fib", x: N }))))
    return { workers, submitPerSecond: COUNT / (tiny / 1000), cpuMs: cpu }
  } finally {
    await pool.destroy()
  }
}

/** What a failed baseline said: mpiexec's exit, then its own report (Open MPI's and Python's errors). */
const failureText = (e: unknown): string => {
  const cause = (e as { cause?: unknown }).cause ?? e
  return cause instanceof Error ? cause.message : String(cause)
}

const main = Effect.gen(function*() {
  const inlineMs = yield* Effect.promise(() =>
    best(REPEATS, async () => {
      for (let i = 0; i < CPU_TASKS; i++) fib(N)
    })
  )
  const mpiMissing = openMpiMissing()
  const rows: Array<Record<string, unknown>> = []
  process.env.RANKFLOW_POOL = "1" // the ranks of the worlds below: rank 0 the master, the others serve
  for (const workers of WORKERS) {
    progress(`rankflow, ${workers} workers`)
    const [r] = yield* World.run<Measured>(
      { module: new URL("./programs/futures.ts", import.meta.url), export: "measure", args: [COUNT, REPEATS, CPU_TASKS, N] },
      { size: workers + 1, prefixOutput: false }
    )
    progress(`piscina, ${workers} threads`)
    const p = yield* Effect.promise(() => viaPiscina(workers))
    let mpi: Measured | undefined
    if (mpiMissing === undefined) {
      progress(`mpi4py.futures, ${workers} workers`)
      mpi = (yield* Effect.promise(() => runMpi4py<Measured>(workers + 1, "futures.py", [String(COUNT), String(REPEATS), String(CPU_TASKS), String(N)], { futures: true })))[0]
    }
    rows.push({ workers, rankflow: r, piscina: p, openMpi: mpi })
  }
  delete process.env.RANKFLOW_POOL
  // Spawn: one rank starts `maxprocs` more (worker threads on shm; on NATS spare rank processes started with the job) and meets them in a barrier.
  const spawnRepeats = quick ? 2 : 5
  const spawnTimes = (maxprocs: number, transport: "shm" | "nats") =>
    World.run<{ maxprocs: number; bestMs: number; medianMs: number }>(
      { module: new URL("./programs/futures.ts", import.meta.url), export: "spawnTimes", args: [maxprocs, spawnRepeats] },
      {
        size: 1,
        universe: 1 + maxprocs * spawnRepeats,
        prefixOutput: false,
        ...(transport === "nats" ? { transport: "nats", transportOptions: { servers: nats.url } } : {})
      }
    )
  const nats = yield* Effect.promise(() => startServer())
  const spawns: Array<{ maxprocs: number; bestMs: number; medianMs: number; natsBestMs?: number; openMpi?: { bestMs: number; medianMs: number }; openMpiFailed?: string }> = []
  for (const maxprocs of [1, 4]) {
    progress(`spawn of ${maxprocs} on shm`)
    const [s] = yield* spawnTimes(maxprocs, "shm")
    progress(`spawn of ${maxprocs} on nats`)
    const [n] = yield* spawnTimes(maxprocs, "nats")
    let mpi: { bestMs: number; medianMs: number } | undefined
    let mpiFailed: string | undefined
    if (mpiMissing === undefined) {
      progress(`mpi4py spawn of ${maxprocs}`)
      // Open MPI's dynamic processes can fail where its static jobs run (a pmix lookup timing out): the
      // baseline is then recorded as failed, and rankflow's figures are kept.
      const got = yield* Effect.result(Effect.tryPromise(() => runMpi4py<{ bestMs: number; medianMs: number }>(1, "spawn.py", [String(maxprocs), String(spawnRepeats)], { spawns: true })))
      if (got._tag === "Success") mpi = got.success[0]
      else mpiFailed = failureText(got.failure)
    }
    spawns.push({ ...s!, natsBestMs: n!.bestMs, ...(mpi === undefined ? {} : { openMpi: mpi }), ...(mpiFailed === undefined ? {} : { openMpiFailed: mpiFailed }) })
  }
  yield* Effect.promise(() => nats.stop())
  printTable(rows.map((row) => {
    const r = row.rankflow as Measured
    const p = row.piscina as Measured
    const m = row.openMpi as Measured | undefined
    return {
      workers: row.workers as number,
      "tiny tasks/s": formatNumber(r.submitPerSecond),
      "map chunks of 64/s": formatNumber(r.mapChunkedPerSecond!),
      "piscina/s": formatNumber(p.submitPerSecond),
      "mpi4py.futures/s": m === undefined ? "" : formatNumber(m.submitPerSecond),
      "tiny / piscina": formatNumber(r.submitPerSecond / p.submitPerSecond),
      "cpu speed-up": formatNumber(inlineMs / r.cpuMs),
      "piscina speed-up": formatNumber(inlineMs / p.cpuMs),
      "mpi4py speed-up": m === undefined ? "" : formatNumber(m.inlineMs! / m.cpuMs)
    }
  }))
  console.log(`(CPU-bound: ${CPU_TASKS} × fib(${N}); inline ${formatNumber(inlineMs)} ms in this process; mpi4py's speed-up is against Python running them inline)`)
  if (mpiMissing !== undefined) console.log(`mpi4py.futures baseline skipped: ${mpiMissing}`)
  printTable(spawns.map((s) => ({
    "spawned ranks": s.maxprocs,
    "shm best ms": formatNumber(s.bestMs),
    "shm median ms": formatNumber(s.medianMs),
    "nats best ms": formatNumber(s.natsBestMs!),
    "mpi4py Spawn best ms": s.openMpi === undefined ? (s.openMpiFailed === undefined ? "" : "failed") : formatNumber(s.openMpi.bestMs),
    "mpi4py / rankflow": s.openMpi === undefined ? "" : formatNumber(s.openMpi.bestMs / s.bestMs)
  })))
  console.log("(spawn: from comm.spawn until a barrier with the new ranks is through; on NATS into spare rank processes started with the job)")
  for (const s of spawns) {
    if (s.openMpiFailed !== undefined) console.log(`mpi4py spawn of ${s.maxprocs} failed (its whole report is in futures.json, openMpiFailed): ${s.openMpiFailed.split("\n", 1)[0]}`)
  }
  console.log(`wrote ${writeResults("futures", {
    machine: machine(), count: COUNT, repeats: REPEATS, cpuTasks: CPU_TASKS, n: N, inlineMs, results: rows, spawnShm: spawns,
    ...(mpiMissing === undefined ? { versions: versions() } : { openMpiSkipped: mpiMissing })
  })}`)
})

Effect.runPromise(main).catch((e) => {
  console.error(e)
  process.exit(1)
})
