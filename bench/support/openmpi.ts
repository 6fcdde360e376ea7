/**
 * Open MPI through mpi4py as a benchmark baseline: finding a Python that has
 * mpi4py and numpy, saying why the baseline cannot run, and running a script
 * of bench/baselines/mpi4py on n processes of Open MPI's shared-memory
 * transport, with the JSON lines it prints.
 */
import { spawn, spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"

/** A Python with mpi4py and numpy: RANKFLOW_PYTHON, the python3 on PATH, or Debian's (where its packages go). */
export const PYTHON = [process.env.RANKFLOW_PYTHON, "python3", "/usr/bin/python3"]
  .filter((p): p is string => p !== undefined && p !== "")
  .find((p) => spawnSync(p, ["-c", "import mpi4py, numpy"], { encoding: "utf8" }).status === 0)

/** Why the Open MPI baseline cannot run here, or undefined when it can. */
export const openMpiMissing = (): string | undefined => {
  const mpiexec = spawnSync("mpiexec", ["--version"], { encoding: "utf8" })
  if (mpiexec.error !== undefined || mpiexec.status !== 0) return "mpiexec (Open MPI) is not installed (npm run setup:mpi)"
  if (PYTHON === undefined) return "no python3 has mpi4py and numpy (set RANKFLOW_PYTHON to one that has)"
  return undefined
}

/** Open MPI's, mpi4py's and Python's versions, for the results. */
export const versions = (): Record<string, string> => ({
  openmpi: spawnSync("mpiexec", ["--version"], { encoding: "utf8" }).stdout.split("\n")[0]?.trim() ?? "",
  mpi4py: spawnSync(PYTHON!, ["-c", "import mpi4py; print(mpi4py.__version__)"], { encoding: "utf8" }).stdout.trim(),
  python: spawnSync(PYTHON!, ["--version"], { encoding: "utf8" }).stdout.trim()
})

/** Runs bench/baselines/mpi4py/<script> on `n` processes (as an mpi4py.futures program with `futures`); resolves with the JSON lines it printed. */
export const runMpi4py = <A>(n: number, script: string, args: ReadonlyArray<string>, options: { readonly futures?: boolean; readonly spawns?: boolean } = {}): Promise<Array<A>> =>
  new Promise((resolve, reject) => {
    const path = fileURLToPath(new URL(`../baselines/mpi4py/${script}`, import.meta.url))
    const root = process.getuid?.() === 0 ? ["--allow-run-as-root"] : []
    // `futures`: run it as `python -m mpi4py.futures script` (rank 0 the master, the others its workers).
    const python = options.futures === true ? [PYTHON!, "-m", "mpi4py.futures", path] : [PYTHON!, path]
    // `spawns`: processes it spawns are another job, which shared memory (vader) does not reach: TCP on loopback too.
    const btl = options.spawns === true ? ["--mca", "btl", "self,vader,tcp", "--mca", "btl_tcp_if_include", "lo"] : ["--mca", "btl", "self,vader"]
    const child = spawn("mpiexec", [...root, "--oversubscribe", ...btl, "-n", String(n), ...python, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, OMPI_ALLOW_RUN_AS_ROOT: "1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1" }
    })
    let out = ""
    let err = ""
    child.stdout.on("data", (d) => (out += d))
    child.stderr.on("data", (d) => (err += d))
    child.on("error", reject)
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`mpiexec -n ${n} ${script} ${args.join(" ")} exited with ${code}:\n${err}`))
      resolve(out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as A))
    })
  })
