/**
 * Starting the ranks of a job, and the control channel between the launching
 * process and each rank's runner.
 *
 * A transport starts ranks its own way (worker threads for `shm`, processes for
 * `nats`) and, in each rank, attaches the transport and then hands it to the
 * runner: a module (given by URL, written by `core/`) whose `serve` export runs
 * rank programs on request. The transport never imports core: it loads the
 * runner by URL.
 *
 * The control channel carries structured-clonable messages only (commands to
 * run a program, results, failure reports); rank-to-rank data never uses it.
 */
import type { Effect, Queue, Scope } from "effect"
import type { Transport, TransportError } from "./Transport.ts"

/**
 * What a rank's runner module exports.
 *
 * @example
 * ```ts
 * // runner.ts, loaded on every rank by the launcher (LaunchOptions.runner)
 * export const serve: RunnerModule["serve"] = (transport, control) => {
 *   control.post({ ready: transport.rank })
 * }
 * ```
 */
export interface RunnerModule {
  serve(transport: Transport, control: RankControl): void | Promise<void>
}

/**
 * The rank side of the control channel.
 *
 * @example
 * ```ts
 * export const serve = (t: Transport, control: RankControl) => {
 *   control.onMessage((m) => { if (m === "stop") control.exit(0) })
 *   control.post({ rank: t.rank, data: control.data })
 * }
 * ```
 */
export interface RankControl {
  /** Data the launcher gave every rank (e.g. which program to preload). */
  readonly data: unknown
  /** Sends a message to the launcher. */
  post(message: unknown): void
  /** Receives the launcher's messages. */
  onMessage(handler: (message: unknown) => void): void
  /**
   * Ends this rank: releases the transport and lets the thread or process
   * exit once pending output is flushed.
   */
  exit(code: number): void
}

/**
 * What a launcher reports of a job's ranks: a message, or an exit.
 *
 * @example
 * ```ts
 * const event: JobEvent = yield* Queue.take(job.events)
 * if (event._tag === "Exited" && event.code !== 0) yield* Effect.logError(`rank ${event.rank}: ${event.error}`)
 * ```
 */
export type JobEvent =
  | { readonly _tag: "Message"; readonly rank: number; readonly message: unknown }
  /** A rank's thread or process ended; `error` is set when it crashed (uncaught exception, killed). */
  | { readonly _tag: "Exited"; readonly rank: number; readonly code: number; readonly error?: string }

/**
 * The launcher side of a running job.
 *
 * @example
 * ```ts
 * const job = yield* ShmLauncher.launch({ size: 2, runner: new URL("./runner.ts", import.meta.url).href })
 * job.post(0, "go")
 * const first = yield* Queue.take(job.events)
 * ```
 */
export interface Job {
  /** Ranks in the whole job. */
  readonly size: number
  /**
   * The ranks this launcher runs (ascending). All of them for a one-host
   * launcher; a launcher that runs part of a job spread over several hosts
   * posts to, and reports events of, its own ranks only.
   */
  readonly localRanks: ReadonlyArray<number>
  /** Sends a control message to one rank's runner. */
  post(rank: number, message: unknown): void
  /** Control messages from ranks and their exits, in the order they happened. */
  readonly events: Queue.Dequeue<JobEvent>
  /**
   * Whether this launcher runs the whole job in one process with no
   * background activity in the ranks' transports, so that core can decide a
   * deadlock by asking the ranks (shm); false or absent elsewhere.
   */
  readonly decidesDeadlocks?: boolean
  /** Tells every other rank's transport that `rank` failed, so their pending operations with it fail. */
  declareFailed(rank: number, reason: string): void
  /**
   * Ranks the transport addresses (`LaunchOptions.universe`): ranks `size`
   * and up are free slots until `start` starts them. Equal to `size` (no free
   * slot) when absent.
   */
  readonly universe?: number
  /**
   * Starts the rank of a free slot (`size <= rank < universe`), for spawn: it
   * joins `localRanks` and reports `Ready` like the others. `modules` are the
   * programs it will run (the launcher starts it from the job's bundle when
   * they are all in it). Absent where the transport cannot start ranks later.
   */
  start?(rank: number, modules: ReadonlyArray<string>): Effect.Effect<void, TransportError>
  /**
   * Names that launchers of other jobs on the same medium can reach (NATS:
   * subjects of the server), for ports and names shared between jobs.
   * Absent where a job reaches no other (shm).
   */
  readonly directory?: Directory
  /** The job's id on its medium (NATS: `--job`), where it has one: what its launchers share in the directory. */
  readonly id?: string
  /**
   * The free slots this launcher can start (`start`), where that is not all
   * of `size..universe-1`: on NATS, the spare ranks of its own `--ranks`. A
   * spawn that wants more asks the job's other launchers (`directory`).
   */
  readonly slots?: ReadonlyArray<number>
  /**
   * The job's stats channel, where the transport has one (NATS: a subject
   * of the job), through which dashboards on any host watch every launcher
   * of the job. Launchers publish on it only while someone watches.
   */
  readonly stats?: StatsChannel
}

/**
 * A job-wide channel for what its launchers see of their ranks (see `Job.stats`).
 *
 * @example
 * ```ts
 * if (job.stats?.watched()) job.stats.publish({ t: "round", replies })
 * ```
 */
export interface StatsChannel {
  /** Whether a watcher asked for the job's stats within the last few seconds. */
  watched(): boolean
  /** Sends one message (JSON) to the watchers. */
  publish(message: unknown): void
  /** Watches the channel from this launcher (over its connection): what the job's launchers publish. */
  follow(): Promise<JobWatcher>
}

/**
 * Reads a job's stats channel from anywhere (`Registration.watch`): asks the
 * launchers to publish, and hands over what they do.
 *
 * @example
 * ```ts
 * const watcher = await registration.watch!(options, "heat-42")
 * watcher.onMessage((m) => console.log(m))
 * await watcher.close()
 * ```
 */
export interface JobWatcher {
  onMessage(handler: (message: unknown) => void): void
  close(): Promise<void>
}

/**
 * Request and answer between launchers of different jobs, by name (NATS:
 * request/reply on the server). Values are JSON.
 *
 * @example
 * ```ts
 * const stop = await job.directory?.serve("port.p1", async (request) => ({ seen: request }))
 * const answer = await job.directory?.request("port.p1", { hello: 1 }, 2000)   // undefined: nobody serves it
 * stop?.()
 * ```
 */
export interface Directory {
  /**
   * Answers the requests sent to `name` until the returned function is
   * called (an answer of `undefined` is no answer: the request goes to
   * whoever else serves the name); resolves once other launchers can reach it.
   */
  serve(name: string, answer: (request: unknown) => Promise<unknown>): Promise<() => void>
  /**
   * Sends one request to `name`: resolves with the answer, or `undefined` at
   * once when nobody serves the name; rejects with a `TransportError` when no
   * answer comes within `timeoutMs`.
   */
  request(name: string, request: unknown, timeoutMs: number): Promise<unknown>
}

/**
 * What every launcher takes: the size, the runner module, data for every rank.
 *
 * @example
 * ```ts
 * const options: LaunchOptions = { size: 4, runner: runnerUrl, data: { steps: 10 }, env: { MY_FLAG: "1" } }
 * ```
 */
export interface LaunchOptions {
  readonly size: number
  /** URL of the runner module (a `RunnerModule`). */
  readonly runner: string
  /**
   * The modules of every program the job will run, when known at launch (file
   * URLs). A launcher may then start its ranks from one bundle of the rank's
   * code and these programs (Bundle.ts): a rank starts several times faster
   * and with a third of the memory. The runner must then import no other
   * program.
   */
  readonly programs?: ReadonlyArray<string>
  /**
   * The context id of the world communicator in the job's first program run,
   * for transports that announce it to ranks written in other languages (NATS
   * puts it in its JOIN frames, docs/nats-protocol.md).
   */
  readonly worldContext?: number
  /** Structured-clonable data handed to every rank's `RankControl.data`. */
  readonly data?: unknown
  /** Prefix each line a rank prints with `[rank] ` (default true). */
  readonly prefixOutput?: boolean
  /** Extra environment variables for the ranks. */
  readonly env?: Record<string, string>
  /**
   * Ranks the transport makes room for (default `size`): ranks `size` and up
   * are free slots that `Job.start` fills later (comm.spawn). On shm every
   * slot has its rings from the start; on NATS every slot is a rank process
   * started with the job, which waits until it is given a program.
   */
  readonly universe?: number
  /** Told everything a rank prints (whole lines, as forwarded), beside writing it out. */
  readonly onOutput?: (rank: number, text: string) => void
}

/**
 * Starts the ranks of a job on one transport.
 *
 * @example
 * ```ts
 * const launcher: Launcher<ShmLaunchOptions> = ShmLauncher
 * const job = yield* launcher.launch({ size: 2, runner: runnerUrl, ringBytes: 1 << 20 })
 * ```
 */
export interface Launcher<Options = {}> {
  readonly kind: string
  /** Starts the ranks; closing the scope stops every rank and releases everything. */
  launch(options: LaunchOptions & Options): Effect.Effect<Job, TransportError, Scope.Scope>
}

/**
 * How a launcher reports a rank that ran out of memory (its process aborted,
 * or its worker thread was stopped, at V8's heap limit).
 *
 * @example
 * ```ts
 * outOfMemory(2, "process")   // "rank 2 ran out of memory: its process reached V8's JavaScript heap limit (…)"
 * ```
 */
export const outOfMemory = (rank: number, where: "process" | "thread"): string =>
  `rank ${rank} ran out of memory: its ${where} reached V8's JavaScript heap limit ` +
  `(hold less at once, or raise the limit, e.g. NODE_OPTIONS=--max-old-space-size=<MiB>)`
