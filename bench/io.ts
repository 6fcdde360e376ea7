/**
 * The I/O benchmark: a 2-D array of doubles (ROWS×COLS) in a 2-D block
 * decomposition written to one file by 1, 2, 4 and 8 ranks (shm): through
 * rankflow's `File` (a subarray view per rank, one `writeAtAll`), against
 * every rank writing its rows with its own `fs` calls, and against rank 0
 * gathering the array and writing it in one call; then `readAtAll` of the
 * blocks against each rank reading its rows with its own calls; mpi4py with Open MPI's
 * MPI-IO (bench/baselines/mpi4py/io.py) where `mpiexec` and `python3-mpi4py`
 * are installed, else skipped with a note. Best of several repeats, the
 * slowest rank's time, from open to close.
 *
 * Run: npm run bench:io [-- --quick]
 * Writes bench/results/io.json.
 */
import { Effect } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { World } from "rankflow"
import { formatNumber, machine, printTable, progress, writeResults } from "./support/results.ts"
import { openMpiMissing, runMpi4py } from "./support/openmpi.ts"

const quick = process.argv.includes("--quick")
const ROWS = quick ? 512 : 2048
const COLS = quick ? 512 : 2048
const REPEATS = quick ? 2 : 5
const RANKS = [1, 2, 4, 8]

const mpiMissing = openMpiMissing()
const openMpi = (n: number, path: string) =>
  runMpi4py<{ viaFile: number; readViaFile: number }>(n, "io.py", [path, String(ROWS), String(COLS), String(REPEATS)]).then((lines) => lines.at(-1)!)

const main = Effect.gen(function*() {
  const dir = mkdtempSync(join(tmpdir(), "rankflow-bench-io-"))
  const rows: Array<Record<string, unknown>> = []
  try {
    for (const n of RANKS) {
      progress(`${n} ranks`)
      const path = join(dir, `array-${n}.bin`)
      const [r] = yield* World.run<{ viaFile: number; ownCalls: number; gathered: number; readViaFile: number; readOwnCalls: number; dims: Array<number> }>(
        { module: new URL("./programs/io.ts", import.meta.url), export: "write", args: [path, ROWS, COLS, REPEATS] },
        { size: n, prefixOutput: false }
      )
      const mpi = mpiMissing === undefined ? yield* Effect.promise(() => openMpi(n, join(dir, `mpi-${n}.bin`))) : undefined
      rows.push({
        ranks: n, grid: r!.dims.join("×"), fileMs: r!.viaFile, ownCallsMs: r!.ownCalls, gatheredMs: r!.gathered, openMpiMs: mpi?.viaFile,
        readFileMs: r!.readViaFile, readOwnCallsMs: r!.readOwnCalls, readOpenMpiMs: mpi?.readViaFile
      })
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const mb = (ROWS * COLS * 8) / 1e6
  printTable(rows.map((r) => ({
    ranks: r.ranks as number,
    grid: r.grid as string,
    "File.writeAtAll ms": formatNumber(r.fileMs as number),
    "MB/s": formatNumber(mb / ((r.fileMs as number) / 1000)),
    "own fs calls ms": formatNumber(r.ownCallsMs as number),
    "gather + one write ms": formatNumber(r.gatheredMs as number),
    "Open MPI ms": r.openMpiMs === undefined ? "" : formatNumber(r.openMpiMs as number),
    "File / own calls": formatNumber((r.fileMs as number) / (r.ownCallsMs as number)),
    "File / gather": formatNumber((r.fileMs as number) / (r.gatheredMs as number)),
    "File / Open MPI": r.openMpiMs === undefined ? "" : formatNumber((r.fileMs as number) / (r.openMpiMs as number))
  })))
  printTable(rows.map((r) => ({
    ranks: r.ranks as number,
    "File.readAtAll ms": formatNumber(r.readFileMs as number),
    "own fs reads ms": formatNumber(r.readOwnCallsMs as number),
    "Open MPI ms": r.readOpenMpiMs === undefined ? "" : formatNumber(r.readOpenMpiMs as number),
    "File / own reads": formatNumber((r.readFileMs as number) / (r.readOwnCallsMs as number)),
    "File / Open MPI": r.readOpenMpiMs === undefined ? "" : formatNumber((r.readFileMs as number) / (r.readOpenMpiMs as number))
  })))
  if (mpiMissing !== undefined) console.log(`Open MPI baseline skipped: ${mpiMissing}`)
  console.log(`wrote ${writeResults("io", { machine: machine(), rows: ROWS, cols: COLS, repeats: REPEATS, results: rows, ...(mpiMissing === undefined ? {} : { openMpiSkipped: mpiMissing }) })}`)
})

Effect.runPromise(main).catch((e) => {
  console.error(e)
  process.exit(1)
})
