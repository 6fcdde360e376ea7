/**
 * The NATS launcher: starts this host's ranks of a job as processes of the
 * same Node (`process.execPath`), each connecting to the job's NATS servers,
 * joining the job, and serving the runner.
 *
 * The control channel to a local rank is Node's IPC channel. Each line a rank
 * prints is prefixed `[rank] `. `Exited` reports a crash with its error and
 * stack, a killed rank as killed. Closing the scope asks every local rank to
 * leave the job, and kills those that do not exit in time.
 *
 * @example
 * ```ts
 * const launcher = NatsLauncher.make({ servers: "nats://127.0.0.1:4222" })
 * const results = yield* World.run(program, { size: 4, transport: launcher })
 * ```
 */
import { type ChildProcess, fork } from "node:child_process"
import { randomInt } from "node:crypto"
import type { Readable } from "node:stream"
import { fileURLToPath, pathToFileURL } from "node:url"
import { Effect, Queue, type Scope } from "effect"
import { type Job, type JobEvent, type LaunchOptions, type Launcher, outOfMemory } from "../Launcher.ts"
import { bundle } from "../Bundle.ts"
import { TransportError } from "../Transport.ts"
import { connect } from "./Connection.ts"
import * as Directory from "./Directory.ts"
import * as JobStats from "./JobStats.ts"
import { observed, type OutputSink } from "../Output.ts"
import type * as Ipc from "./Ipc.ts"
import { isInternal } from "./Ipc.ts"
import { type NatsConfig, type NatsOptions, resolve } from "./Options.ts"

/**
 * A running NATS job, as seen from one host.
 *
 * @example
 * ```ts
 * const job: NatsJob = yield* NatsLauncher.launch({ size: 2, runner, servers: "nats://127.0.0.1:4222" })
 * yield* Effect.log(`job ${job.job}, rank 0 is process ${job.pid(0)}`)
 * ```
 */
export interface NatsJob extends Job {
  /** The job id (the subjects' namespace). */
  readonly job: string
  readonly config: NatsConfig
  /** The process id of a local rank, while it runs. */
  pid(rank: number): number | undefined
}

/**
 * What the NATS launcher takes: the launch options and the NATS options.
 *
 * @example
 * ```ts
 * const options: NatsLaunchOptions = { size: 4, runner, servers: "nats://127.0.0.1:4222", job: "heat-42" }
 * ```
 */
export type NatsLaunchOptions = LaunchOptions & NatsOptions

const RANK_PROCESS = fileURLToPath(new URL("./rank-process.ts", import.meta.url))

/** How long closing ranks get beyond their linger time before they are killed (ms). */
const STOP_GRACE_MS = 1000

/** What a rank process that ran out of V8's heap prints before it aborts. */
const OUT_OF_MEMORY = /Reached heap limit|JavaScript heap out of memory/

/** Writes a rank's output line by line, each line prefixed; `seen` gets every chunk too. */
const forward = (stream: Readable | null, out: OutputSink, prefix: string | undefined, seen?: (text: string) => void): Promise<void> =>
  new Promise((resolve) => {
    if (stream === null) return resolve()
    if (seen !== undefined) stream.on("data", (chunk: Buffer | string) => seen(String(chunk)))
    if (prefix === undefined) {
      stream.setEncoding("utf8")
      stream.on("data", (chunk: string) => out.write(chunk))
      stream.on("end", resolve)
      stream.on("error", () => resolve())
      return
    }
    stream.setEncoding("utf8")
    let partial = ""
    stream.on("data", (chunk: string) => {
      const lines = (partial + chunk).split("\n")
      partial = lines.pop()!
      if (lines.length > 0) out.write(lines.map((l) => `${prefix}${l}\n`).join(""))
    })
    const end = () => {
      if (partial.length > 0) out.write(`${prefix}${partial}\n`)
      partial = ""
      resolve()
    }
    stream.on("end", end)
    stream.on("error", end)
  })

class RankProcess {
  readonly rank: number
  readonly child: ChildProcess
  crash: string | undefined
  exited = false
  readonly closed: Promise<void>

  constructor(
    rank: number, child: ChildProcess, onEvent: (event: JobEvent) => void, prefixOutput: boolean, onOutput?: (rank: number, text: string) => void
  ) {
    this.rank = rank
    this.child = child
    const prefix = prefixOutput ? `[${rank}] ` : undefined
    // The end of what the rank printed on stderr: how a rank that aborted says why (V8 prints its fatal errors there).
    let stderrTail = ""
    const output = Promise.all([
      forward(child.stdout, observed(process.stdout, rank, onOutput), prefix),
      forward(child.stderr, observed(process.stderr, rank, onOutput), prefix, (text) => (stderrTail = (stderrTail + text).slice(-4096)))
    ])
    let spawnError: Error | undefined
    child.on("error", (e) => (spawnError = e))
    child.on("message", (message: unknown) => {
      if (!isInternal(message)) return onEvent({ _tag: "Message", rank, message })
      if (message._tag === "rankflow/nats:Crash") this.crash = (message as Ipc.Crash).error
    })
    this.closed = new Promise((resolve) => {
      child.on("close", (code, signal) => {
        this.exited = true
        void output.then(() => {
          const error = this.crash ??
            (OUT_OF_MEMORY.test(stderrTail) && (signal !== null || code !== 0) ? outOfMemory(rank, "process")
              : signal !== null ? `rank ${rank} was killed by ${signal}`
              : spawnError !== undefined ? `rank ${rank} could not start: ${spawnError.message}` : undefined)
          onEvent(error === undefined ? { _tag: "Exited", rank, code: code ?? 1 } : { _tag: "Exited", rank, code: code ?? 1, error })
          resolve()
        })
      })
    })
  }

  send(message: unknown): void {
    if (this.exited || !this.child.connected) return
    this.child.send(message as never, (e) => {
      // The rank is exiting: its Exited event says so.
      void e
    })
  }

  /** Asks the rank to leave the job; kills it if it has not exited after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    if (this.exited) return this.closed
    this.send({ _tag: "rankflow/nats:Close" } satisfies Ipc.Close)
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs)
    await this.closed
    clearTimeout(timer)
  }
}

/** Connects once from the launcher: servers and credentials are checked before any rank starts. */
const probe = (config: NatsConfig) =>
  Effect.tryPromise({
    try: async () => {
      const nc = await connect(config, -1)
      await nc.close()
    },
    catch: (e) => e instanceof TransportError ? e : new TransportError({ transport: "nats", message: String(e), cause: e })
  })

const launch = (options: NatsLaunchOptions): Effect.Effect<NatsJob, TransportError, Scope.Scope> =>
  Effect.gen(function*() {
    // A universe larger than the job: its spare ranks are processes started now that wait, joined, until a spawn gives them a program.
    const universe = options.universe ?? options.size
    if (!Number.isInteger(universe) || universe < options.size) {
      return yield* new TransportError({ transport: "nats", message: `the universe (${universe}) must be a whole number of ranks, at least the job's size (${options.size})` })
    }
    const config = resolve(options, universe)
    if (config instanceof TransportError) return yield* config
    yield* probe(config)
    const events = yield* Queue.unbounded<JobEvent>()
    const ranks = new Map<number, RankProcess>()
    yield* Effect.addFinalizer(() =>
      Effect.promise(() => Promise.all([...ranks.values()].map((r) => r.stop(config.lingerMs + STOP_GRACE_MS))))
    )
    const onEvent = (event: JobEvent) => void Queue.offerUnsafe(events, event)
    const launcher = { id: randomInt(1, 2 ** 32 - 1), pid: process.pid }
    // Every rank process starts from one bundle of its code and the job's programs, where there are (../Bundle.ts).
    const bundled = options.programs === undefined
      ? undefined
      : yield* Effect.promise(() => bundle({ entry: pathToFileURL(RANK_PROCESS).href, modules: [options.runner, ...options.programs!] }))
    if (bundled?._tag === "Unbundled") yield* Effect.logDebug(`rankflow: ranks start from their files: ${bundled.reason}`)
    const entry = bundled?._tag === "Bundled" ? bundled.path : RANK_PROCESS
    for (const rank of config.localRanks) {
      // Spare ranks may run any program, so they start from their files (a bundle may hold no other program).
      const child = fork(rank < options.size ? entry : RANK_PROCESS, [], {
        execPath: process.execPath,
        execArgv: [],
        serialization: "advanced",
        stdio: ["ignore", "pipe", "pipe", "ipc"],
        env: { ...process.env, ...options.env }
      })
      ranks.set(rank, new RankProcess(rank, child, onEvent, options.prefixOutput ?? true, options.onOutput))
      const init: Ipc.Init = { _tag: "rankflow/nats:Init", rank, config, runner: options.runner, data: options.data, launcher, worldContext: options.worldContext ?? 0 }
      child.send(init)
    }
    const started = config.localRanks.filter((r) => r < options.size)
    // Ports and names reach other jobs on the same servers through it (connects on first use).
    const directory = Directory.make(config)
    const stats = JobStats.channel(directory.connection, config.job)
    yield* Effect.addFinalizer(() => Effect.promise(() => (stats.close(), directory.close())))
    // The spare ranks of this launcher's --ranks: the slots it can start for a spawn (the others' slots are theirs).
    const slots = config.localRanks.filter((r) => r >= options.size)
    const job: NatsJob = {
      directory,
      stats,
      id: config.job,
      slots,
      size: options.size,
      universe,
      localRanks: started,
      job: config.job,
      config,
      events,
      post: (rank, message) => ranks.get(rank)?.send(message),
      declareFailed: (rank, reason) => {
        for (const r of ranks.values()) r.send({ _tag: "rankflow/nats:DeclareFailed", rank, reason } satisfies Ipc.DeclareFailed)
      },
      // A spare rank's process runs already: starting it is giving it to the job.
      start: (rank) =>
        Effect.suspend(() => {
          if (!Number.isInteger(rank) || !slots.includes(rank)) {
            return Effect.fail(new TransportError({ transport: "nats", message: `rank ${rank} is not a spare rank of this launcher (its spare ranks: ${slots.join(", ") || "none"})` }))
          }
          if (started.includes(rank)) return Effect.fail(new TransportError({ transport: "nats", message: `rank ${rank} was started already` }))
          const r = ranks.get(rank)
          if (r === undefined || r.exited) return Effect.fail(new TransportError({ transport: "nats", message: `the process of spare rank ${rank} has ended` }))
          started.push(rank)
          return Effect.void
        }),
      pid: (rank) => {
        const r = ranks.get(rank)
        return r === undefined || r.exited ? undefined : r.child.pid
      }
    }
    return job
  })

/** A launcher whose NATS options are fixed (options given to `launch` still win). */
const make = (defaults: NatsOptions): Launcher<NatsOptions> => ({
  kind: "nats",
  launch: (options) => launch({ ...defaults, ...options })
})

/**
 * The NATS launcher (a `Launcher`). Use it as `World.make({ size, transport:
 * NatsLauncher, transportOptions: { servers } })`, or fix its options with
 * `make`.
 *
 * @example
 * ```ts
 * yield* World.make({ size: 4, transport: NatsLauncher, transportOptions: { servers: "nats://127.0.0.1:4222" } })
 * ```
 */
export const NatsLauncher: {
  readonly kind: "nats"
  readonly launch: (options: NatsLaunchOptions) => Effect.Effect<NatsJob, TransportError, Scope.Scope>
  readonly make: (options: NatsOptions) => Launcher<NatsOptions>
} = {
  kind: "nats",
  launch,
  make
}
