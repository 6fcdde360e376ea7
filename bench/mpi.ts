/**
 * rankflow against Open MPI: the same OSU-style programs through mpi4py
 * (bench/baselines/mpi4py/osu.py, run by `mpiexec`) and through rankflow on
 * shm (bench/programs/osu.ts), back to back on 2, 4 and 8 ranks in one run.
 * Ping-pong (8 B, 4 KiB, 1 MiB, 64 MiB; private buffers, and arena arrays
 * for rankflow's large ones), barrier, bcast 8 B, allreduce 8 B and 1 MiB,
 * allgather 8 B and 64 KiB, and the tutorial's dict by pickle (bcast, and a
 * send/recv ping-pong). Mean, median and p99 of each, and their ratios
 * (rankflow time / Open MPI time) against the targets of issue 13. Both
 * programs run their list of figures `--passes` times (default 6) and the
 * last pass is compared: V8 compiles a job's code while it runs, and the
 * first passes pay for that (a JIT runtime's warm-up). Every pass's figures
 * are kept in the results (`passes`; docs/collectives.md, "Warm-up").
 *
 * Needs Open MPI and mpi4py: `bash scripts/setup-mpi.sh` installs them from
 * Debian (the tests never need them).
 *
 * Run: npm run bench:mpi [-- --quick] [-- --ranks 2,4] [-- --passes 6]
 * Writes bench/results/vs-openmpi.json.
 */
import { Effect } from "effect"
import { World } from "rankflow"
import type { Figure, Stats } from "./programs/osu.ts"
import { formatNumber, printTable, progress, writeResults } from "./support/results.ts"
import { openMpiMissing as baselineMissing, runMpi4py, versions } from "./support/openmpi.ts"

const listArg = (name: string): Array<string> | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]!.split(",") : undefined
}

const quick = process.argv.includes("--quick")
const SCALE = quick ? 0.1 : 1
const RANKS = listArg("ranks")?.map(Number) ?? [2, 4, 8]
const PASSES = Number(listArg("passes")?.[0] ?? 6)
if (!(Number.isInteger(PASSES) && PASSES >= 1)) throw new Error(`--passes must be a whole number >= 1, got ${listArg("passes")?.[0]}`)

/** Runs osu.py on `n` processes of Open MPI's shared-memory transport; its figures. */
const runOpenMpi = (n: number): Promise<Array<Figure>> => runMpi4py<Figure>(n, "osu.py", [String(SCALE), String(PASSES)])

const runRankflow = (n: number): Promise<ReadonlyArray<Figure>> =>
  Effect.runPromise(
    World.run<ReadonlyArray<Figure>>({ module: new URL("./programs/osu.ts", import.meta.url), export: "osu", args: [SCALE, PASSES] }, { size: n, prefixOutput: false })
  ).then((results) => results[0]!)

/** The target of issue 13 for a figure: the ratio it may reach, and of which statistic. */
const targetOf = (f: Figure): { readonly stat: "mean" | "median"; readonly max: number }[] => {
  if (f.name === "pingpong" && f.bytes <= 4096) return [{ stat: "median", max: 1.5 }, { stat: "mean", max: 2 }]
  if (f.name === "pingpong") return [{ stat: "mean", max: 2 }]
  if (f.name === "pingpong-arena") return [{ stat: "mean", max: 1.3 }]
  if (f.name === "pingpong-object" || f.name === "bcast-object") return [{ stat: "mean", max: 1 }, { stat: "median", max: 1 }]
  return [{ stat: "mean", max: 2 }]
}

const statsOf = (f: Figure): Stats => ({ mean: f.mean, median: f.median, p99: f.p99 })
const sameFigure = (a: Figure, b: Figure): boolean => a.name === b.name && a.bytes === b.bytes && a.ranks === b.ranks

interface Row {
  readonly figure: string
  readonly bytes: number
  readonly ranks: number
  /** Ranks in the job that measured it (a ping-pong runs between 2 of them; the others wait in a barrier). */
  readonly jobRanks: number
  readonly openmpi: Figure
  readonly rankflow: Figure
  readonly ratio: Stats
  /** Mean, median and p99 of the figure in every pass, the compared (last) one included: the warm-up made visible. */
  readonly passes: { readonly openmpi: ReadonlyArray<Stats>; readonly rankflow: ReadonlyArray<Stats> }
  readonly targets: ReadonlyArray<{ readonly stat: string; readonly max: number; readonly met: boolean }>
}

/** How many targets each pass's figures meet (the warm-up: the last pass is the one compared). */
const metByPass = (rows: ReadonlyArray<Row>): Array<number> =>
  Array.from({ length: PASSES }, (_, p) =>
    rows.flatMap((r) => {
      const ours = r.passes.rankflow[p]
      const theirs = r.passes.openmpi[p]
      if (ours === undefined || theirs === undefined) return []
      return r.targets.filter((t) => ours[t.stat as keyof Stats] / theirs[t.stat as keyof Stats] <= t.max)
    }).length)

const main = async () => {
  const missing = baselineMissing()
  if (missing !== undefined) {
    process.stderr.write(`bench:mpi: ${missing}; run \`bash scripts/setup-mpi.sh\` as root on Debian (or install Open MPI and mpi4py)\n`)
    process.exit(1)
  }
  const rows: Array<Row> = []
  for (const n of RANKS) {
    progress(`Open MPI (mpi4py) on ${n} ranks`)
    const theirAll = await runOpenMpi(n)
    progress(`rankflow (shm) on ${n} ranks`)
    const ourAll = await runRankflow(n)
    const last = PASSES - 1
    for (const f of ourAll.filter((f) => f.pass === last)) {
      // The arena ping-pong compares with Open MPI's only ping-pong of that size.
      const like = { ...f, name: f.name === "pingpong-arena" ? "pingpong" : f.name }
      const base = theirAll.find((t) => t.pass === last && sameFigure(t, like))
      if (base === undefined) continue
      const ratio = { mean: f.mean / base.mean, median: f.median / base.median, p99: f.p99 / base.p99 }
      rows.push({
        figure: f.name,
        bytes: f.bytes,
        ranks: f.ranks,
        jobRanks: n,
        openmpi: base,
        rankflow: f,
        ratio,
        passes: {
          openmpi: theirAll.filter((t) => sameFigure(t, like)).map(statsOf),
          rankflow: ourAll.filter((o) => sameFigure(o, f)).map(statsOf)
        },
        targets: targetOf(f).map((t) => ({ ...t, met: ratio[t.stat] <= t.max }))
      })
    }
  }
  printTable(rows.map((r) => ({
    // The arena ping-pong hands the same shared block back and forth: no byte is copied.
    figure: r.figure === "pingpong-arena" ? "pingpong-arena (no copy)" : r.figure,
    bytes: String(r.bytes),
    ranks: r.jobRanks === r.ranks ? String(r.ranks) : `${r.ranks} of ${r.jobRanks}`,
    "Open MPI mean µs": r.openmpi.mean,
    "median": r.openmpi.median,
    "p99": r.openmpi.p99,
    "rankflow mean µs": r.rankflow.mean,
    "median ": r.rankflow.median,
    "p99 ": r.rankflow.p99,
    "ratio mean": `${formatNumber(r.ratio.mean)}×`,
    "ratio median": `${formatNumber(r.ratio.median)}×`,
    "ratio p99": `${formatNumber(r.ratio.p99)}×`,
    target: r.targets.map((t) => `${t.stat} ≤ ${t.max}× ${t.met ? "met" : "not met"}`).join(", ")
  })))
  const file = writeResults("vs-openmpi", { versions: versions(), scale: SCALE, passes: PASSES, compared: "the last pass", metByPass: metByPass(rows), rows })
  console.log(`\nwrote ${file}`)
  const met = rows.flatMap((r) => r.targets).filter((t) => t.met).length
  console.log(`targets met: ${met} of ${rows.flatMap((r) => r.targets).length} (pass ${PASSES}); by pass: ${metByPass(rows).join(", ")}`)
}

await main()
