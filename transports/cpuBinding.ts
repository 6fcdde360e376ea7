/**
 * Binding a thread to CPUs (`sched_setaffinity(2)` on one thread), as
 * `mpiexec --bind-to core` binds a rank: two ranks that wait on each other by
 * spinning must not share a core while another stands idle. JavaScript has no
 * such call; Linux lets `taskset -p` (util-linux, on every Debian) set the
 * affinity of one thread by its id, which `/proc/thread-self` gives the thread
 * itself. Threads the bound thread starts later inherit its CPUs; V8's and
 * libuv's pools, started by the process's main thread, keep theirs.
 *
 * Elsewhere (no `/proc`, no `taskset`) nothing can be bound: `bindable()`
 * says so before a launcher promises it.
 */
import { spawnSync } from "node:child_process"
import { readFileSync, readlinkSync } from "node:fs"

/** Parses a Linux CPU list (`0-3,8,10-11`) into CPU numbers, ascending; undefined if it is not one. */
export const parseCpuList = (list: string): ReadonlyArray<number> | undefined => {
  const cpus = new Set<number>()
  for (const part of list.trim().split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim())
    if (m === null) return undefined
    const from = Number(m[1]), to = m[2] === undefined ? from : Number(m[2])
    if (to < from) return undefined
    for (let c = from; c <= to; c++) cpus.add(c)
  }
  return cpus.size === 0 ? undefined : [...cpus].sort((a, b) => a - b)
}

/** The CPUs the calling thread may run on (its affinity), or undefined where the system does not say (not Linux). */
export const allowedCpus = (): ReadonlyArray<number> | undefined => {
  try {
    const m = /^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync("/proc/thread-self/status", "latin1"))
    return m === null ? undefined : parseCpuList(m[1]!)
  } catch {
    return undefined
  }
}

let canBind: boolean | undefined

/** Whether threads can be bound here: Linux with `/proc/thread-self` and `taskset` on the PATH (checked once). */
export const bindable = (): boolean =>
  canBind ??= process.platform === "linux" && allowedCpus() !== undefined &&
    spawnSync("taskset", ["--version"], { stdio: "ignore" }).status === 0

/**
 * Binds the calling thread to `cpus`; whether it worked. Costs one short
 * process (`taskset`), a few milliseconds: meant for a thread's start.
 *
 * @example
 * ```ts
 * if (bindable()) bindThread([1])   // this thread runs on CPU 1 only from now on
 * ```
 */
export const bindThread = (cpus: ReadonlyArray<number>): boolean => {
  if (cpus.length === 0) return false
  try {
    const tid = readlinkSync("/proc/thread-self").split("/").pop()!
    return spawnSync("taskset", ["-p", "-c", cpus.join(","), tid], { stdio: "ignore" }).status === 0
  } catch {
    return false
  }
}
