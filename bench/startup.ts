/**
 * Start-up and memory as ranks grow: `rankflow run -n N examples/hello.ts`
 * (shm: worker threads) against `mpiexec -n N python3 hello.py` (mpi4py over
 * Open MPI, processes), on 8, 32 and 64 ranks, back to back in one run:
 * the time from command to exit, and the peak memory of the whole process
 * tree (the sum of every process's resident set, sampled every 25 ms from
 * /proc), per rank. Targets of issue 13: start-up ≤ 1.5× mpiexec's, ≤ 40 MB
 * per rank.
 *
 * rankflow's ranks start from one cached bundle of their code and the program
 * (docs/launching.md): both sides get one untimed warm-up run first, as a
 * user's second run would be. The first run with an empty bundle cache (the
 * bundles built) and a run with bundling off (`RANKFLOW_BUNDLE=0`: every rank
 * loads its modules from their files) are measured beside it.
 *
 * Run: npm run bench:startup [-- --ranks 8,32]   (Linux; Open MPI and mpi4py
 * from `npm run setup:mpi` for the baseline, which is skipped without them)
 * Writes bench/results/startup.json.
 */
import { spawn, spawnSync } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { formatNumber, printTable, progress, writeResults } from "./support/results.ts"

const listArg = (name: string): Array<string> | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]!.split(",") : undefined
}
const RANKS = listArg("ranks")?.map(Number) ?? [8, 32, 64]
const ROOT = fileURLToPath(new URL("..", import.meta.url))
const HELLO_PY = fileURLToPath(new URL("./baselines/mpi4py/hello.py", import.meta.url))
const PYTHON = ["python3", "/usr/bin/python3"].find((p) => spawnSync(p, ["-c", "import mpi4py"]).status === 0)
const MPIEXEC = spawnSync("mpiexec", ["--version"]).status === 0 && PYTHON !== undefined

/** Resident bytes of `pid` and all its descendants now (their children lists, not all of /proc: sampling must stay cheap). */
const treeRss = (pid: number): number => {
  let total = 0
  const stack = [pid]
  while (stack.length > 0) {
    const p = stack.pop()!
    try {
      total += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, "utf8"))?.[1] ?? 0) * 1024
      for (const task of readdirSync(`/proc/${p}/task`)) {
        const kids = readFileSync(`/proc/${p}/task/${task}/children`, "utf8").trim()
        if (kids !== "") stack.push(...kids.split(/\s+/).map(Number))
      }
    } catch {
      // The process ended meanwhile.
    }
  }
  return total
}

interface Measure {
  readonly seconds: number
  readonly peakBytes: number
  readonly ok: boolean
}

const measure = (command: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = process.env): Promise<Measure> =>
  new Promise((resolve) => {
    const t0 = performance.now()
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ["ignore", "ignore", "pipe"] })
    let peak = 0
    let err = ""
    child.stderr.on("data", (d) => (err += d))
    const timer = setInterval(() => (peak = Math.max(peak, treeRss(child.pid!))), 25)
    child.on("exit", (code) => {
      clearInterval(timer)
      if (code !== 0) process.stderr.write(err)
      resolve({ seconds: (performance.now() - t0) / 1000, peakBytes: peak, ok: code === 0 })
    })
  })

/** transports/Bundle.ts's switches (environment variables of the CLI). */
const BUNDLE_ENV = "RANKFLOW_BUNDLE"
const BUNDLE_DIR_ENV = "RANKFLOW_BUNDLE_DIR"
const rankflowArgs = (n: number) => ["bin/rankflow.js", "run", "--log-level", "none", "-n", String(n), "examples/hello.ts"]
const emptyCache = mkdtempSync(join(tmpdir(), "rankflow-bench-bundles-"))
progress(`rankflow on ${RANKS[0]} ranks, bundles not yet built`)
const cold = await measure(process.execPath, rankflowArgs(RANKS[0]!), { ...process.env, [BUNDLE_DIR_ENV]: emptyCache })
rmSync(emptyCache, { recursive: true, force: true })
const mpiexec = (n: number): Promise<Measure> =>
  measure("mpiexec", [...(process.getuid?.() === 0 ? ["--allow-run-as-root"] : []), "--oversubscribe", "--mca", "btl", "self,vader", "-n", String(n), PYTHON!, HELLO_PY], {
    ...process.env,
    OMPI_ALLOW_RUN_AS_ROOT: "1",
    OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1"
  })
progress("warm-up runs")
await measure(process.execPath, rankflowArgs(2))
if (MPIEXEC) await mpiexec(2)
const rows: Array<Record<string, unknown>> = []
for (const n of RANKS) {
  progress(`rankflow on ${n} ranks`)
  const rankflow = await measure(process.execPath, rankflowArgs(n))
  progress(`rankflow on ${n} ranks from files (${BUNDLE_ENV}=0)`)
  const unbundled = await measure(process.execPath, rankflowArgs(n), { ...process.env, [BUNDLE_ENV]: "0" })
  let openmpi: Measure | undefined
  if (MPIEXEC) {
    progress(`mpiexec + mpi4py on ${n} ranks`)
    openmpi = await mpiexec(n)
  }
  rows.push({
    ranks: n,
    rankflow: { ...rankflow, mbPerRank: rankflow.peakBytes / n / 1e6 },
    rankflowFromFiles: { ...unbundled, mbPerRank: unbundled.peakBytes / n / 1e6 },
    openmpi: openmpi === undefined ? undefined : { ...openmpi, mbPerRank: openmpi.peakBytes / n / 1e6 },
    ratio: openmpi === undefined ? undefined : { seconds: rankflow.seconds / openmpi.seconds, memory: rankflow.peakBytes / openmpi.peakBytes },
    targets: {
      startup: openmpi === undefined ? undefined : { max: 1.5, met: rankflow.seconds <= 1.5 * openmpi.seconds },
      mbPerRank: { max: 40, met: rankflow.peakBytes / n / 1e6 <= 40 }
    }
  })
}

printTable(rows.map((r) => {
  const rf = r.rankflow as Measure & { mbPerRank: number }
  const om = r.openmpi as (Measure & { mbPerRank: number }) | undefined
  return {
    ranks: r.ranks as number,
    "rankflow s": rf.seconds,
    "MB/rank": rf.mbPerRank,
    "from files s": (r.rankflowFromFiles as Measure).seconds,
    "mpiexec s": om?.seconds ?? "—",
    "MB/rank ": om?.mbPerRank ?? "—",
    "time ratio": om === undefined ? "—" : `${formatNumber(rf.seconds / om.seconds)}×`,
    "memory ratio": om === undefined ? "—" : `${formatNumber(rf.peakBytes / om.peakBytes)}×`
  }
}))
console.log(`\nwrote ${writeResults("startup", {
  baseline: MPIEXEC ? "mpiexec + mpi4py" : "none (Open MPI or mpi4py missing)",
  firstRun: { ranks: RANKS[0], note: "empty bundle cache: the CLI's and the program's bundles are built", ...cold, mbPerRank: cold.peakBytes / RANKS[0]! / 1e6 },
  rows
})}`)
