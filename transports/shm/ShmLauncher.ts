/**
 * The shm `Launcher`: creates a job's shared memory, starts one worker thread
 * per rank on `worker.ts`, and reports their messages and exits.
 *
 * Starting a worker costs ~36 ms, so ranks are started once per job. Where
 * the launch names the job's programs, every worker starts from one bundle of
 * the rank's code and those programs (../Bundle.ts), which loads in a tenth of
 * the time that its ~390 modules take one by one. Closing
 * the scope terminates every worker, waits for them, and lets go of the shared
 * memory.
 */
import { availableParallelism } from "node:os"
import { Worker } from "node:worker_threads"
import { Effect, Queue } from "effect"
import { type Job, type JobEvent, type Launcher, type LaunchOptions, outOfMemory } from "../Launcher.ts"
import { TransportError } from "../Transport.ts"
import { bundle } from "../Bundle.ts"
import * as Arena from "./Arena.ts"
import { allocate, bindingFor, geometry, type ShmOptions } from "./Layout.ts"
import { allowedCpus, bindable, processBinder } from "../cpuBinding.ts"
import { serialScavenging, wantsSerialScavenging } from "./Scavenging.ts"
import { forward, observed, type OutputSink } from "../Output.ts"
import type { FromRank, ToRank, WorkerData } from "./protocol.ts"

/**
 * Options of an shm launch: the transport's tunables, and where rank output goes.
 *
 * @example
 * ```ts
 * yield* World.run(program, { size: 8, transport: "shm", transportOptions: { arenaBytes: 256 * 1024 * 1024 } })
 * ```
 */
export interface ShmLaunchOptions extends ShmOptions {
  /** Receives the ranks' stdout (default: this process's stdout). */
  readonly stdout?: OutputSink
  /** Receives the ranks' stderr (default: this process's stderr). */
  readonly stderr?: OutputSink
}

const WORKER_URL = new URL("./worker.ts", import.meta.url)

/** How long to wait for a dead rank's output streams to end before reporting its exit anyway. */
const OUTPUT_GRACE_MS = 2000

interface Rank {
  readonly worker: Worker
  exited: boolean
}

const launchError = (message: string, cause?: unknown): TransportError => new TransportError({ transport: "shm", message, cause })

const describe = (e: unknown): string => {
  if (e instanceof Error) return e.stack ?? `${e.name}: ${e.message}`
  if (typeof e === "object" && e !== null && typeof (e as { message?: unknown }).message === "string") return (e as { message: string }).message
  try {
    return String(e)
  } catch {
    // An object without a usable toString (a null-prototype object): show its fields.
    return JSON.stringify(e) ?? "an unprintable value"
  }
}

/**
 * Megabytes of young generation per rank: V8's default (up to 32 MiB of
 * semi-spaces per isolate) unless ranks outnumber cores, where memory per
 * rank matters more than a few more scavenges: 8 (measured on 32 ranks of
 * hello: 2.3 GB → 1.9 GB peak).
 */
const youngGenerationOf = (options: ShmOptions, size: number, cores: number): number | undefined =>
  options.youngGenerationMb ?? (size > cores ? 8 : undefined)

/** Starts a job's workers; the finalizer terminates them. */
const start = (options: LaunchOptions & ShmLaunchOptions) =>
  Effect.gen(function*() {
    const universe = options.universe ?? options.size
    if (!Number.isInteger(universe) || universe < options.size) {
      return yield* launchError(`the universe (${universe}) must be a whole number of ranks, at least the job's size (${options.size})`)
    }
    const g = yield* Effect.try({
      try: () => geometry(universe, options, availableParallelism()),
      catch: (e) => launchError(e instanceof Error ? e.message : String(e), e)
    })
    const binding = yield* Effect.try({
      try: () => bindingFor(universe, options, allowedCpus(), bindable),
      catch: (e) => launchError(e instanceof Error ? e.message : String(e), e)
    })
    if (wantsSerialScavenging(options.parallelScavenge, g.size, g.cores)) {
      // Released when the job's scope closes, after its workers ended (finalizers run last first).
      yield* Effect.acquireRelease(Effect.sync(() => serialScavenging.hold()), (release) => Effect.sync(release))
    }
    const binder = binding === undefined ? undefined : processBinder()
    // Before the workers grow this process: forking it for the shell costs more the more it holds.
    binder?.open()
    const regions = yield* Effect.try({
      try: () => allocate(g),
      catch: (e) => launchError(`cannot allocate the shared memory of ${g.size} ranks: ${describe(e)}`, e)
    })
    Arena.initialize(regions)
    const events = yield* Queue.unbounded<JobEvent>()
    const stdout = options.stdout ?? process.stdout
    const stderr = options.stderr ?? process.stderr
    const prefix = options.prefixOutput ?? true
    const env = options.env === undefined ? process.env : { ...process.env, ...options.env }
    /** By rank; free slots not started are holes. */
    const ranks: Array<Rank | undefined> = []
    const localRanks: Array<number> = []
    const young = youngGenerationOf(options, g.size, availableParallelism())
    const bundled = options.programs === undefined
      ? undefined
      : yield* Effect.promise(() => bundle({ entry: WORKER_URL.href, modules: [options.runner, ...options.programs!] }))
    if (bundled?._tag === "Unbundled") yield* Effect.logDebug(`rankflow: ranks start from their files: ${bundled.reason}`)
    const entry = bundled?._tag === "Bundled" ? bundled.path : WORKER_URL

    const spawn = (rank: number, entry: string | URL): Rank => {
      const cpus = binding?.[rank]
      const data: WorkerData = { rank, regions, runner: options.runner, data: options.data, ...(cpus === undefined ? {} : { bind: true }) }
      const worker = new Worker(entry, { workerData: data, stdout: true, stderr: true, env, ...(young === undefined ? {} : { resourceLimits: { maxYoungGenerationSizeMb: young } }) })
      const state: Rank = { worker, exited: false }
      let orderly = false
      let crash: string | undefined
      let code = 0
      let open = 2
      let reported = false
      const report = (): void => {
        if (reported || !state.exited) return
        reported = true
        const error = crash ?? (orderly ? undefined : `rank ${rank} ended with exit code ${code} without finishing (process.exit(${code}) was called, or the thread was stopped)`)
        Queue.offerUnsafe(events, error === undefined ? { _tag: "Exited", rank, code } : { _tag: "Exited", rank, code, error })
      }
      const streamEnded = (): void => {
        open--
        if (open === 0) report()
      }
      worker.on("message", (m: FromRank) => {
        if (m.t === "message") Queue.offerUnsafe(events, { _tag: "Message", rank, message: m.body })
        else if (m.t === "exit") orderly = true
        else if (m.t === "thread") {
          const go = (): void => {
            if (!state.exited) worker.postMessage({ t: "bound" } satisfies ToRank)
          }
          if (m.tid === undefined || cpus === undefined || binder === undefined) go()
          else void binder.bind(m.tid, cpus).then(go)
        }
      })
      worker.on("error", (e) => {
        crash ??= (e as { code?: unknown }).code === "ERR_WORKER_OUT_OF_MEMORY" ? outOfMemory(rank, "thread") : describe(e)
      })
      worker.on("exit", (c) => {
        state.exited = true
        code = c
        if (open === 0) report()
        else setTimeout(report, OUTPUT_GRACE_MS).unref()
      })
      forward(worker.stdout, observed(stdout, rank, options.onOutput), prefix ? `[${rank}] ` : undefined, streamEnded)
      forward(worker.stderr, observed(stderr, rank, options.onOutput), prefix ? `[${rank}] ` : undefined, streamEnded)
      return state
    }

    const stop = Effect.promise(() => Promise.all(ranks.filter((r) => r !== undefined).map((r) => r.worker.terminate()))).pipe(
      Effect.andThen(Queue.shutdown(events))
    )

    yield* Effect.try({
      try: () => {
        for (let r = 0; r < options.size; r++) {
          ranks.push(spawn(r, entry))
          localRanks.push(r)
        }
      },
      catch: (e) => launchError(`cannot start the rank workers: ${describe(e)}`, e)
    }).pipe(Effect.onError(() => stop))

    const job: Job = {
      size: options.size,
      universe: g.size,
      localRanks,
      decidesDeadlocks: true,
      events,
      post: (rank, body) => {
        const r = ranks[rank]
        if (r !== undefined && !r.exited) r.worker.postMessage({ t: "message", body } satisfies ToRank)
      },
      declareFailed: (rank, reason) => {
        for (const r of ranks) if (r !== undefined && !r.exited) r.worker.postMessage({ t: "peerFailed", rank, reason } satisfies ToRank)
      },
      start: (rank, modules) =>
        Effect.try({
          try: () => {
            if (!Number.isInteger(rank) || rank < options.size || rank >= g.size) throw new RangeError(`rank ${rank} is not a free slot (ranks ${options.size}..${g.size - 1} are)`)
            if (ranks[rank] !== undefined) throw new RangeError(`rank ${rank} was started already`)
            // A rank for programs outside the bundle starts from its files (the bundle may hold no other program).
            const inBundle = options.programs !== undefined && modules.every((m) => options.programs!.includes(m))
            ranks[rank] = spawn(rank, inBundle ? entry : WORKER_URL)
            localRanks.push(rank)
          },
          catch: (e) => launchError(`cannot start rank ${rank}: ${describe(e)}`, e)
        })
    }
    return { job, stop }
  })

/**
 * Worker threads sharing memory: the default transport.
 *
 * @example
 * ```ts
 * const job = yield* ShmLauncher.launch({ size: 4, runner: runnerUrl })   // worker threads of this process
 * ```
 */
export const ShmLauncher: Launcher<ShmLaunchOptions> = {
  kind: "shm",
  launch: (options) =>
    Effect.acquireRelease(start(options), ({ stop }) => stop).pipe(Effect.map(({ job }) => job))
}
