/**
 * Starting a job from code: `World.run(program, { size: 4 })` runs a rank
 * program on four ranks (worker threads on the shared-memory transport by
 * default) and returns each rank's result; `World.make` keeps the ranks up to
 * run several programs in turn.
 *
 * A program is named by its module (see `ProgramRef`): each rank imports the
 * module and runs the program it passed to `Rank.main`, or the export named.
 *
 * When a rank fails (a typed error, a defect, an uncaught exception, an exit),
 * every other rank is told — peers blocked on it fail with `RankFailed` — and
 * stopped, and the run fails with `RankFailed` naming the rank, its error and
 * its stack. The ranks are then restarted for the next run.
 *
 * @example
 * ```ts
 * const results = yield* World.run(new URL("./ring.ts", import.meta.url), { size: 4 })
 * ```
 */
import { Cause, Effect, Exit, Option, Queue, Scope } from "effect"
import { checkLimit } from "../codecs/DecodeBudget.ts"
import { pickle } from "../codecs/pickle/Pickle.ts"
import type { Job, JobEvent, Launcher } from "../transports/Launcher.ts"
import { TransportError } from "../transports/Transport.ts"
import { ShmLauncher } from "../transports/shm/index.ts"
import { RankFailed } from "./errors.ts"
import type { FailureReport } from "./Failure.ts"
import { normalize, type ProgramInput } from "./ProgramRef.ts"
import type * as Protocol from "./RunnerProtocol.ts"

export interface WorldOptions {
  /** Number of ranks. */
  readonly size: number
  /**
   * `"shm"` (worker threads sharing memory, the default), `"nats"` (processes
   * joined through NATS; `transportOptions` are `NatsOptions`: `servers`, `job`,
   * `ranks`, credentials…), or a launcher of your own.
   */
  readonly transport?: "shm" | "nats" | Launcher<any>
  /** Options for the transport's launcher (e.g. `{ ringBudget, arenaBytes }` for shm, `{ servers }` for nats). */
  readonly transportOptions?: object | undefined
  /** The world communicator's codec (default `"pickle"`). */
  readonly codec?: string | undefined
  /**
   * The most memory a value received on the world may decode to beyond twice
   * its encoded size (default 256 MiB; see `dup({ maxDecodedBytes })`).
   */
  readonly maxDecodedBytes?: number | undefined
  /** Prefix each line a rank prints with `[rank] ` (default true). */
  readonly prefixOutput?: boolean
  /** How long stopped ranks get to finish after a failure before they are terminated (default 5 s). */
  readonly stopGraceMillis?: number
}

export interface RunOptions {
  /** `process.argv.slice(1)` inside the ranks: the script and its arguments. */
  readonly argv?: ReadonlyArray<string>
}

/** A running set of ranks that runs programs in turn. */
export interface World {
  readonly size: number
  /** Runs a program on every rank and returns each rank's result, by rank. */
  run<A = unknown>(program: ProgramInput, options?: RunOptions): Effect.Effect<ReadonlyArray<A>, RankFailed | TransportError>
}

const RUNNER_URL = new URL("./runner.ts", import.meta.url).href

// The NATS client is loaded only by jobs that use it (World is imported by every rank).
const launcherOf = (options: WorldOptions): Effect.Effect<Launcher<any>> =>
  options.transport === undefined || options.transport === "shm"
    ? Effect.succeed(ShmLauncher)
    : options.transport === "nats"
    ? Effect.promise(() => import("../transports/nats/index.ts")).pipe(Effect.map((m) => m.NatsLauncher.make(options.transportOptions ?? {})))
    : Effect.succeed(options.transport)

interface Running {
  readonly job: Job
  readonly scope: Scope.Closeable
  readonly exited: Set<number>
}

/** Starts `size` ranks that stay up until the scope closes. */
export const make = (options: WorldOptions): Effect.Effect<World, TransportError, Scope.Scope> =>
  Effect.gen(function*() {
    if (!Number.isInteger(options.size) || options.size < 1) {
      return yield* new TransportError({ transport: "world", message: `a world needs at least one rank; got size ${options.size}` })
    }
    const badLimit = checkLimit(options.maxDecodedBytes)
    if (badLimit !== undefined) return yield* new TransportError({ transport: "world", message: badLimit })
    const launcher = yield* launcherOf(options)
    let current: Running | undefined
    let nextId = 1

    // Ranks are asked to exit first, so that everything they printed is flushed;
    // those that do not within the grace period are terminated with the scope.
    const stop = Effect.suspend(() => {
      const r = current
      current = undefined
      if (r === undefined) return Effect.void
      const live = r.job.localRanks.filter((rank) => !r.exited.has(rank))
      for (const rank of live) r.job.post(rank, { _tag: "Exit" } satisfies Protocol.Exit)
      const awaitExits = Effect.gen(function*() {
        while (live.some((rank) => !r.exited.has(rank))) {
          const event = yield* Queue.take(r.job.events)
          if (event._tag === "Exited") r.exited.add(event.rank)
        }
      })
      return awaitExits.pipe(
        Effect.timeoutOption(options.stopGraceMillis ?? 5000),
        Effect.andThen(Scope.close(r.scope, Exit.void))
      )
    })
    yield* Effect.addFinalizer(() => stop)

    const start = Effect.gen(function*() {
      const scope = yield* Scope.make()
      const job = yield* launcher.launch({
        size: options.size,
        runner: RUNNER_URL,
        prefixOutput: options.prefixOutput ?? true,
        ...options.transportOptions
      }).pipe(Scope.provide(scope), Effect.onError(() => Scope.close(scope, Exit.void)))
      const running: Running = { job, scope, exited: new Set() }
      let ready = 0
      while (ready < job.localRanks.length) {
        const event = yield* Queue.take(job.events)
        if (event._tag === "Exited") {
          yield* Scope.close(scope, Exit.void)
          return yield* new TransportError({
            transport: launcher.kind,
            message: `rank ${event.rank} could not start: ${event.error ?? `it exited with code ${event.code}`}`
          })
        }
        if ((event.message as Protocol.FromRank)._tag === "Ready") ready++
      }
      current = running
      return running
    })

    const run = <A>(program: ProgramInput, runOptions?: RunOptions): Effect.Effect<ReadonlyArray<A>, RankFailed | TransportError> =>
      Effect.gen(function*() {
        const running = current !== undefined && current.exited.size === 0 ? current : yield* Effect.andThen(stop, start)
        const { job } = running
        const id = nextId++
        const ref = normalize(program)
        const cmd: Protocol.Run = { _tag: "Run", id, module: ref.module, export: ref.export, args: ref.args, codec: options.codec, maxDecodedBytes: options.maxDecodedBytes, argv: runOptions?.argv }
        for (const r of job.localRanks) job.post(r, cmd)
        const outcome = yield* collect(job, running, id, options)
        if (outcome.failure !== undefined) {
          yield* stop
          return yield* outcome.failure
        }
        return outcome.results as ReadonlyArray<A>
      }).pipe(Effect.onInterrupt(() => stop))

    return { size: options.size, run }
  })

/** Runs one program on `size` fresh ranks and returns each rank's result. */
export const run = <A = unknown>(
  program: ProgramInput,
  options: WorldOptions & RunOptions
): Effect.Effect<ReadonlyArray<A>, RankFailed | TransportError> =>
  Effect.scoped(Effect.flatMap(make(options), (world) => world.run<A>(program, options)))

interface Outcome {
  readonly results: Array<unknown>
  readonly failure: RankFailed | undefined
}

/** Gathers every rank's outcome of run `id`; on the first failure, tells the others and stops them. */
const collect = (job: Job, running: Running, id: number, options: WorldOptions) =>
  Effect.gen(function*() {
    const results: Array<unknown> = new Array(options.size)
    const settled = new Set<number>()
    let failure: RankFailed | undefined
    /** The rank the failure was put on by another rank's report, while its own account has not come. */
    let blamed: number | undefined
    let deadline: number | undefined

    const fail = (rank: number, report: FailureReport) => {
      if (failure !== undefined) {
        // The rank others stopped on has now failed in its own words (a crash, running out of memory): say that.
        if (rank === blamed && report.tag !== "Interrupted" && report.tag !== "RankFailed") {
          failure = new RankFailed({ rank, message: `rank ${rank} failed: ${report.message}`, details: report.details })
          blamed = undefined
        }
        return
      }
      if (report.peer !== undefined && report.peer.rank !== rank) {
        // This rank's program stopped because another failed: the failure is that one's (maybe on another host).
        const { rank: peer, reason } = report.peer
        const local = job.localRanks.includes(peer)
        failure = new RankFailed({
          rank: peer,
          message: `rank ${peer} failed: ${reason}`,
          details: `${reason}\n(reported by rank ${rank}, whose program stopped on it${local ? "" : `; rank ${peer} runs on another host`})`
        })
        blamed = local ? peer : undefined
      } else {
        failure = new RankFailed({ rank, message: `rank ${rank} failed: ${report.message}`, details: report.details })
        job.declareFailed(rank, report.message)
      }
      for (const r of job.localRanks) if (!settled.has(r)) job.post(r, { _tag: "Interrupt", id } satisfies Protocol.Interrupt)
      deadline = Date.now() + (options.stopGraceMillis ?? 5000)
    }

    while (settled.size < job.localRanks.length) {
      const event: JobEvent | undefined = deadline === undefined
        ? yield* Queue.take(job.events)
        : Option.getOrUndefined(yield* Effect.timeoutOption(Queue.take(job.events), Math.max(0, deadline - Date.now())))
      if (event === undefined) break // the stopped ranks did not finish in time: the caller terminates them
      if (event._tag === "Exited") {
        running.exited.add(event.rank)
        if (settled.has(event.rank)) continue
        settled.add(event.rank)
        const own = event.error === undefined || event.error.trim() === "" ? undefined : event.error
        const how = own ?? `it exited with code ${event.code} before its program finished`
        fail(event.rank, { tag: "Exited", message: own === undefined ? how : firstLine(how), details: how })
        // A rank that ended by exiting passes its code on (as mpiexec does), when its failure is the job's.
        if (event.code > 0 && failure?.rank === event.rank && failure.exitCode === undefined) {
          failure = new RankFailed({ rank: failure.rank, message: failure.message, details: failure.details, exitCode: event.code })
        }
        continue
      }
      const msg = event.message as Protocol.FromRank
      if (msg._tag !== "Done" || msg.id !== id || settled.has(event.rank)) continue
      settled.add(event.rank)
      if (!msg.ok) {
        // A rank stopped because another failed reports an interruption or RankFailed: the first failure is the cause.
        fail(event.rank, msg.failure)
        continue
      }
      // A result comes from the job's own rank: no decoding limit beyond the memory it takes.
      const decoded = yield* Effect.exit(pickle.decode({ header: msg.header, buffers: msg.buffers }, { maxDecodedBytes: Number.POSITIVE_INFINITY }))
      if (Exit.isFailure(decoded)) {
        const why = `its result could not be decoded in the launcher (register its classes there too): ${Cause.pretty(decoded.cause)}`
        fail(event.rank, { tag: "DecodeError", message: why, details: why })
      } else results[event.rank] = decoded.value
    }
    return { results, failure } satisfies Outcome
  })

const firstLine = (s: string): string => s.split("\n", 1)[0]!

