/**
 * Binding threads to CPUs (`sched_setaffinity(2)` on one thread), as
 * `mpiexec --bind-to core` binds a rank: two ranks that wait on each other by
 * spinning must not share a core while another stands idle. JavaScript has no
 * such call; Linux lets `taskset -p` (util-linux, on every Debian) set the
 * affinity of one thread by its id, which `/proc/thread-self` gives the thread
 * itself. Threads a bound thread starts later inherit its CPUs; V8's and
 * libuv's pools, started by the process's main thread, keep theirs.
 *
 * A `Binder` runs those `taskset` calls through one shell that it starts
 * once: forking a process that already holds many ranks' memory costs
 * milliseconds each, and 32 ranks forking at once to bind themselves
 * started 0.6–0.7 s slower (measured); the shell is small to fork.
 *
 * Elsewhere (no `/proc`, no `taskset`, a sandbox that refuses) nothing can
 * be bound: `bindable()` says so before a launcher promises it.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process"
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

/** The calling thread's id (Linux), for a `Binder`; undefined elsewhere. */
export const threadId = (): number | undefined => {
  try {
    const tid = Number(readlinkSync("/proc/thread-self").split("/").pop())
    return Number.isInteger(tid) && tid > 0 ? tid : undefined
  } catch {
    return undefined
  }
}

let canBind: boolean | undefined

/**
 * Whether threads can be bound here (checked once): Linux with
 * `/proc/thread-self`, `taskset` on the PATH, and permission to set a
 * thread's CPUs (a sandbox may refuse it): the calling thread is bound to the CPUs it
 * has, which changes nothing.
 */
export const bindable = (): boolean => {
  if (canBind !== undefined) return canBind
  const cpus = process.platform === "linux" ? allowedCpus() : undefined
  const tid = cpus === undefined ? undefined : threadId()
  if (cpus === undefined || tid === undefined) return canBind = false
  const r = spawnSync("taskset", ["-p", "-c", cpus.join(","), String(tid)], { stdio: "ignore" })
  const code = (r.error as NodeJS.ErrnoException | undefined)?.code
  // A fork that failed (ENOMEM, EAGAIN) says nothing about taskset: not remembered, asked again next time.
  if (code === "ENOMEM" || code === "EAGAIN") return false
  return canBind = r.status === 0
}

/** Starts the shell a `Binder` sends its `taskset` calls to. */
export type StartShell = () => ChildProcessWithoutNullStreams

const startSh: StartShell = () => spawn("sh", [], { stdio: ["pipe", "pipe", "pipe"] })

/**
 * Binds threads of this process to CPUs, one `taskset` at a time through a
 * shell started on first use; `close` ends the shell. Where the shell
 * cannot start (a fork of a large process can fail with ENOMEM) or dies,
 * every bind answers false: binding is a hint, and an unbound rank runs on.
 *
 * @example
 * ```ts
 * const binder = new Binder()
 * const ok = await binder.bind(threadIdOfSomeWorker, [1])   // that thread runs on CPU 1 only from now on
 * binder.close()
 * ```
 */
export class Binder {
  private shell: ChildProcessWithoutNullStreams | undefined
  private failed = false
  private next = 0
  private readonly waiting = new Map<number, (ok: boolean) => void>()
  private output = ""
  private readonly startShell: StartShell

  constructor(startShell: StartShell = startSh) {
    this.startShell = startShell
  }

  /** Whether the shell could not start, died or was closed: binds answer false from then on. */
  get broken(): boolean {
    return this.failed
  }

  /** Starts the shell now (while this process is small to fork), if it has not started. */
  open(): void {
    if (!this.failed) this.shell ??= this.start()
  }

  /** Binds thread `tid` to `cpus`; whether it worked. */
  bind(tid: number, cpus: ReadonlyArray<number>): Promise<boolean> {
    if (this.failed || cpus.length === 0 || !Number.isInteger(tid)) return Promise.resolve(false)
    const shell = this.shell ??= this.start()
    if (shell === undefined) return Promise.resolve(false)
    const id = this.next++
    return new Promise((resolve) => {
      this.waiting.set(id, resolve)
      shell.stdin.write(`if taskset -p -c ${cpus.join(",")} ${tid} >/dev/null 2>&1; then echo ok ${id}; else echo no ${id}; fi\n`)
    })
  }

  /** Ends the shell; binds still waiting answer false. */
  close(): void {
    this.failed = true
    this.shell?.stdin.end()
    this.settleAll()
  }

  private start(): ChildProcessWithoutNullStreams | undefined {
    let shell: ChildProcessWithoutNullStreams
    try {
      shell = this.startShell()
    } catch {
      // spawn throws where the fork itself fails (ENOMEM, EAGAIN): nothing is bound.
      this.fail()
      return undefined
    }
    shell.stdout.setEncoding("latin1")
    shell.stdout.on("data", (chunk: string) => {
      this.output += chunk
      let nl: number
      while ((nl = this.output.indexOf("\n")) >= 0) {
        const [verdict, id] = this.output.slice(0, nl).split(" ")
        this.output = this.output.slice(nl + 1)
        const resolve = this.waiting.get(Number(id))
        this.waiting.delete(Number(id))
        resolve?.(verdict === "ok")
      }
    })
    shell.stderr.resume()
    shell.stdin.on("error", () => {}) // a shell that died: `exit` settles what waits
    shell.on("error", () => this.fail())
    shell.on("exit", () => this.fail())
    shell.unref()
    ;(shell.stdin as unknown as { unref?: () => void }).unref?.()
    ;(shell.stdout as unknown as { unref?: () => void }).unref?.()
    ;(shell.stderr as unknown as { unref?: () => void }).unref?.()
    return shell
  }

  private fail(): void {
    this.failed = true
    this.settleAll()
  }

  private settleAll(): void {
    for (const resolve of this.waiting.values()) resolve(false)
    this.waiting.clear()
  }
}

let shared: Binder | undefined

/**
 * The process's `Binder`, shared by its jobs: one shell for all of them
 * (each job forking a process that grows with every job before it would
 * cost more each time, and can fail), started again only where the last
 * one broke. Its shell ends with the process.
 */
export const processBinder = (): Binder => {
  if (shared === undefined || shared.broken) shared = new Binder()
  return shared
}
