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
import { checkLimit } from "../../codecs/DecodeBudget.ts"
import { pickle } from "../../codecs/pickle/Pickle.ts"
import type { Job, JobEvent, Launcher, StatsChannel } from "../../transports/Launcher.ts"
import { TransportError } from "../../transports/Transport.ts"
import { kinds, registrationOf } from "../../transports/registry.ts"
import { Deadlock, RankFailed } from "../errors.ts"
import type { FailureReport } from "../Failure.ts"
import { JobWatch } from "./JobWatch.ts"
import { describeWait } from "../messaging/waits.ts"
import { normalize, type ProgramInput } from "./ProgramRef.ts"
import type * as Protocol from "./RunnerProtocol.ts"
import { worldContextOf } from "./RunnerProtocol.ts"
import { Ports } from "./Ports.ts"
import { both, publisher, type StatsMessage } from "./StatsPublisher.ts"
import { Spawns } from "./Spawns.ts"
import { writeTrace } from "../observe/ChromeTrace.ts"
import { exportSpans } from "../observe/Otlp.ts"
import type { TraceEvent } from "../observe/recorder.ts"

/**
 * How a world is started: its size, the transport and its options, the world's codec, output, deadlock detection and the stall watchdog.
 *
 * @example
 * ```ts
 * const world = yield* World.make({ size: 4, transport: "nats", transportOptions: { servers: "nats://127.0.0.1:4222" } })
 * ```
 */
export interface WorldOptions {
  /** Number of ranks. */
  readonly size: number
  /**
   * A registered transport (transports/registry.ts): `"shm"` (worker threads
   * sharing memory, the default), `"nats"` (processes joined through NATS;
   * `transportOptions` are `NatsOptions`: `servers`, `job`, `ranks`,
   * credentials…); or a launcher of your own.
   */
  readonly transport?: "shm" | "nats" | (string & {}) | Launcher<any>
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
  /**
   * Whether to stop a deadlocked run with `Deadlock` (default true). Only a
   * launcher that sees the whole job decides deadlocks (shm); elsewhere the
   * stall watchdog reports waits that make no progress.
   */
  readonly deadlockDetection?: boolean
  /**
   * The stall watchdog: a rank that has waited `timeoutMillis` without any
   * progress reports what it waits for, and the launcher prints the picture of
   * its ranks; with `action: "fail"` the run then fails with `Deadlock`.
   * Default: 30 s and `"report"` on NATS, off on shm (where deadlocks are
   * decided); `false` turns it off.
   */
  readonly stall?: { readonly timeoutMillis: number; readonly action?: "report" | "fail" } | false
  /** Where stall reports and pictures go (default: this process's stderr). */
  readonly report?: (text: string) => void
  /**
   * The programs this world will run, when known before it starts (`World.run`
   * and `rankflow run` give theirs). The ranks then start from one bundle of
   * their code and these programs: several times faster, with a third of the
   * memory (see docs/launching.md). A run of any other program restarts the
   * ranks from their files. Bundling is off with `RANKFLOW_BUNDLE=0`.
   */
  readonly programs?: ReadonlyArray<ProgramInput>
  /**
   * Ranks the job makes room for (default `size`): the ranks beyond `size`
   * are free slots that `comm.spawn` starts ranks into (MPI's universe
   * size). A run that spawned ranks is the last on its ranks: the next run
   * starts fresh ones, with every slot free again.
   */
  readonly universe?: number
  /**
   * Write a Chrome/Perfetto trace of each run here (rank tracks with the
   * communicator calls as spans, and each message as a flow from its send
   * to its arrival). The ranks record only where `RANKFLOW_TRACE=1` is in
   * their environment (`rankflow run --trace` sets both).
   */
  readonly trace?: string
  /**
   * Send each run's trace (the spans `trace` writes) to an OpenTelemetry
   * collector: OTLP over HTTP, JSON, to `<url>/v1/traces` (or to `url` as
   * given where it ends so). Also needs `RANKFLOW_TRACE=1` in the ranks'
   * environment (`rankflow run --otlp` sets both). A collector that cannot
   * be reached is reported, and the run's outcome stands.
   */
  readonly otlp?: string
  /**
   * Told what the runs do while they run (a dashboard): the ranks' status
   * every ROUND_MILLIS (what each waits for, counters, memory, pipeline
   * actors), every line they print, and how each ends.
   */
  readonly observer?: RunObserver
}

/**
 * What a run tells an observer (`WorldOptions.observer`; the dashboard is one).
 *
 * @example
 * ```ts
 * const observer: RunObserver = {
 *   started: (run) => console.log(`run ${run.id} on ranks ${run.ranks.join(",")}`),
 *   round: (_at, replies) => console.log(`${replies.size} ranks answered`),
 *   settled: (rank, failure) => failure !== undefined && console.log(`rank ${rank}: ${failure}`),
 *   output: () => {},
 *   ended: () => {}
 * }
 * ```
 */
export interface RunObserver {
  /** A run started: its id, the job's size and the ranks this launcher runs. */
  started(run: { readonly id: number; readonly size: number; readonly ranks: ReadonlyArray<number> }): void
  /** One round of the ranks' answers (`Date.now()` when it was given). */
  round(at: number, replies: ReadonlyMap<number, Protocol.Status>): void
  /** A rank's program ended: `failure` says why where it failed; `stopped`: it was stopped because another rank failed. */
  settled(rank: number, failure?: string, stopped?: boolean): void
  /** What a rank printed (whole lines, each ending in a newline, with the `[rank] ` prefix where output is prefixed). */
  output(rank: number, text: string): void
  /** The run ended: `failure` is the run's failure where it failed. */
  ended(failure?: string): void
}

/**
 * Options of one run of a program on a world: its `argv`, and whether an interrupt prints the per-rank picture.
 *
 * @example
 * ```ts
 * yield* world.run(new URL("./job.ts", import.meta.url), { argv: ["--steps", "100"] })
 * ```
 */
export interface RunOptions {
  /** `process.argv.slice(1)` inside the ranks: the script and its arguments. */
  readonly argv?: ReadonlyArray<string>
  /** Print the ranks' picture (what each waits for) when the run is interrupted, before the ranks are stopped (the CLI's Ctrl-C). */
  readonly pictureOnInterrupt?: boolean
}

/**
 * A running set of ranks that runs programs in turn.
 *
 * @example
 * ```ts
 * const world: World.World = yield* World.make({ size: 4 })
 * const first = yield* world.run<number>(new URL("./step.ts", import.meta.url))   // one result per rank
 * ```
 */
export interface World {
  readonly size: number
  /** Runs a program on every rank and returns each rank's result, by rank. */
  run<A = unknown>(program: ProgramInput, options?: RunOptions): Effect.Effect<ReadonlyArray<A>, RankFailed | Deadlock | TransportError>
  /**
   * What every rank (of this launcher) is doing now, one line per rank: what
   * it waits for and since when, running, or finished. Empty when no run is
   * in progress.
   */
  readonly picture: Effect.Effect<string>
}

const RUNNER_URL = new URL("./runner.ts", import.meta.url).href

// A transport's code is loaded only by jobs that use it (World is imported by every rank).
const launcherOf = (options: WorldOptions): Effect.Effect<Launcher<any>, TransportError> => {
  const transport = options.transport ?? "shm"
  if (typeof transport !== "string") return Effect.succeed(transport)
  const registration = registrationOf(transport)
  if (registration === undefined) {
    return Effect.fail(new TransportError({ transport, message: `no transport named "${transport}" is registered (known: ${kinds()})` }))
  }
  return Effect.promise(() => registration.launcher(options.transportOptions ?? {}))
}

interface Running {
  readonly job: Job
  /** The program modules its ranks were started with (their bundle's); undefined: any. */
  readonly programs: ReadonlyArray<string> | undefined
  readonly scope: Scope.Closeable
  readonly exited: Set<number>
  /** Picture requests for the run in progress (its collector hands them to its watch). */
  readonly pictures: Array<(picture: string) => void>
  collecting: boolean
  /** A run on these ranks spawned some: the slots are used, so the next run starts fresh ranks. */
  spawned: boolean
  /** Who is told what the runs do: `WorldOptions.observer`, and the job's stats channel where it has one. */
  readonly observer: RunObserver | undefined
  /** Whether the observer wants the ranks' status rounds now. */
  readonly observing: () => boolean
}

/**
 * Starts `size` ranks that stay up until the scope closes.
 *
 * @example
 * ```ts
 * const results = yield* Effect.scoped(Effect.gen(function* () {
 *   const world = yield* World.make({ size: 8 })
 *   return yield* world.run(new URL("./program.ts", import.meta.url))
 * }))
 * ```
 */
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
    // `responsive`: the ranks worth waiting for (the others did not stop within the grace period already).
    const stop = (responsive?: ReadonlySet<number>) => Effect.suspend(() => {
      const r = current
      current = undefined
      if (r === undefined) return Effect.void
      const live = r.job.localRanks.filter((rank) => !r.exited.has(rank) && (responsive === undefined || responsive.has(rank)))
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
    yield* Effect.addFinalizer(() => stop())

    // Later runs of other programs start plain ranks, which can import any module.
    let programs = options.programs?.map((p) => normalize(p).module)
    /** The current run's observers, for what the ranks print. */
    const output: { current: RunObserver | undefined } = { current: undefined }
    const start = Effect.gen(function*() {
      const scope = yield* Scope.make()
      const job = yield* launcher.launch({
        size: options.size,
        runner: RUNNER_URL,
        ...(programs === undefined ? {} : { programs }),
        prefixOutput: options.prefixOutput ?? true,
        worldContext: worldContextOf(nextId),
        ...(options.universe === undefined ? {} : { universe: options.universe }),
        // What ranks print goes to the run's observers (a dashboard here, or watchers of the job's stats channel).
        onOutput: (rank: number, text: string) => output.current?.output(rank, text),
        ...options.transportOptions
      }).pipe(Scope.provide(scope), Effect.onError(() => Scope.close(scope, Exit.void)))
      const channel = job.stats === undefined ? undefined : publisher(job.stats)
      const observers = [...(options.observer === undefined ? [] : [options.observer]), ...(channel === undefined ? [] : [channel])]
      const running: Running = {
        job, programs, scope, exited: new Set(), pictures: [], collecting: false, spawned: false,
        observer: observers.length === 0 ? undefined : observers.length === 1 ? observers[0] : both(observers),
        observing: () => options.observer !== undefined || channel?.watched() === true
      }
      output.current = running.observer
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
        // (Spare ranks of the universe, where the transport starts them at once, say Ready too: not counted.)
        if ((event.message as Protocol.FromRank)._tag === "Ready" && job.localRanks.includes(event.rank)) ready++
      }
      current = running
      return running
    })

    const stall = stallOf(options, launcher.kind)
    const run = <A>(program: ProgramInput, runOptions?: RunOptions): Effect.Effect<ReadonlyArray<A>, RankFailed | Deadlock | TransportError> =>
      Effect.gen(function*() {
        const ref = normalize(program)
        const fits = (r: Running) => r.exited.size === 0 && !r.spawned && (r.programs === undefined || r.programs.includes(ref.module))
        if (programs !== undefined && !programs.includes(ref.module)) programs = undefined
        const running = current !== undefined && fits(current) ? current : yield* Effect.andThen(stop(), start)
        const { job } = running
        const id = nextId++
        const cmd: Protocol.Run = {
          _tag: "Run",
          id,
          module: ref.module,
          export: ref.export,
          args: ref.args,
          codec: options.codec,
          maxDecodedBytes: options.maxDecodedBytes,
          argv: runOptions?.argv,
          stallMillis: stall?.timeoutMillis,
          worldSize: options.size
        }
        for (const r of job.localRanks) job.post(r, cmd)
        const outcome = yield* collect(job, running, cmd, options, stall)
        if (outcome.failure !== undefined) {
          const stuck = job.localRanks.filter((r) => outcome.responsive !== undefined && !outcome.responsive.has(r))
          if (stuck.length > 0) {
            const grace = (options.stopGraceMillis ?? 5000) / 1000
            report(options)(`rankflow: ${stuck.length === 1 ? `rank ${stuck[0]}` : `ranks ${stuck.join(", ")}`} did not stop within ${grace} s of being told to; terminated\n`)
          }
          yield* stop(outcome.responsive)
          return yield* outcome.failure
        }
        return outcome.results as ReadonlyArray<A>
      }).pipe(Effect.onInterrupt(() =>
        runOptions?.pictureOnInterrupt === true && current !== undefined
          ? Effect.andThen(
            Effect.flatMap(snapshot(current), (text) => Effect.sync(() => report(options)(`rankflow: stopped; what each rank was doing:\n${indent(text)}\n`))),
            stop()
          )
          : stop()
      ))

    const picture: Effect.Effect<string> = Effect.suspend(() => {
      const r = current
      if (r === undefined) return Effect.succeed("")
      if (!r.collecting) return snapshot(r)
      return Effect.callback<string>((resume) => {
        r.pictures.push((text) => resume(Effect.succeed(text)))
      })
    })

    return { size: options.size, run, picture }
  })

/**
 * Runs one program on `size` fresh ranks and returns each rank's result.
 *
 * @example
 * ```ts
 * const [fromRank0] = yield* World.run<number>({ module: new URL("./sum.ts", import.meta.url), export: "sum", args: [100] }, { size: 4 })
 * ```
 */
export const run = <A = unknown>(
  program: ProgramInput,
  options: WorldOptions & RunOptions
): Effect.Effect<ReadonlyArray<A>, RankFailed | Deadlock | TransportError> =>
  Effect.scoped(Effect.flatMap(make({ programs: [program], ...options }), (world) => world.run<A>(program, options)))

interface Outcome {
  readonly results: Array<unknown>
  readonly failure: RankFailed | Deadlock | undefined
  /** After a failure: the ranks that stopped within the grace period (the others are terminated). */
  readonly responsive: ReadonlySet<number> | undefined
}

interface Stall {
  readonly timeoutMillis: number
  readonly action: "report" | "fail"
}

const stallOf = (options: WorldOptions, kind: string): Stall | undefined => {
  if (options.stall === false) return undefined
  if (options.stall !== undefined) return { timeoutMillis: options.stall.timeoutMillis, action: options.stall.action ?? "report" }
  return registrationOf(kind)?.decidesDeadlocks === true ? undefined : { timeoutMillis: 30_000, action: "report" }
}

const report = (options: WorldOptions) => options.report ?? ((text: string) => void process.stderr.write(text))

const indent = (text: string): string => text.split("\n").map((l) => `  ${l}`).join("\n")

/** Asks the ranks what they are doing while no collector runs (a run being interrupted). */
const snapshot = (running: Running): Effect.Effect<string> =>
  Effect.gen(function*() {
    const { job } = running
    const ranks = job.localRanks.filter((r) => !running.exited.has(r))
    const watch = new JobWatch(ranks, false)
    let text: string | undefined
    watch.picture((t) => (text = t))
    const query = watch.next(Date.now())
    for (const r of ranks) job.post(r, query)
    const give = Date.now() + 1500
    while (text === undefined) {
      const event = Option.getOrUndefined(yield* Effect.timeoutOption(Queue.take(job.events), Math.max(0, give - Date.now())))
      if (event === undefined) {
        watch.next(Date.now())
        break
      }
      if (event._tag === "Exited") running.exited.add(event.rank)
      else if ((event.message as Protocol.FromRank)._tag === "Status") watch.reply(event.rank, event.message as Protocol.Status)
    }
    return text ?? ""
  })

/** How long the launchers of a run may be silent on its stats channel before a spare-ranks launcher takes the run for ended. */
const SILENT_MILLIS = 10_000
/** How long it waits to hear of the run at all (launchers that run it answer a watcher within about a second). */
const NEVER_HEARD_MILLIS = 30_000

/**
 * Follows run `id` on the job's stats channel (which makes its launchers
 * publish): ended once the launchers that said so cover ranks `0..size-1`,
 * or once they have been silent for SILENT_MILLIS after being heard.
 */
const followRun = (stats: StatsChannel, id: number, size: number) =>
  Effect.gen(function*() {
    const watcher = yield* Effect.promise(() => stats.follow())
    yield* Effect.addFinalizer(() => Effect.promise(() => watcher.close()))
    const ranksOf = new Map<number, ReadonlyArray<number>>()
    const ended = new Set<number>()
    let heard = 0
    watcher.onMessage((m) => {
      const msg = m as StatsMessage
      if (typeof msg !== "object" || msg === null || msg.run !== id) return
      if (msg.t === "round" && msg.ranks.length > 0) {
        heard = Date.now()
        ranksOf.set(msg.launcher, msg.ranks)
      } else if (msg.t === "ended") {
        if (msg.ranks !== undefined && msg.ranks.length > 0) ranksOf.set(msg.launcher, msg.ranks)
        if (ranksOf.has(msg.launcher)) ended.add(msg.launcher)
      }
    })
    const since = Date.now()
    return {
      ended: (): boolean => {
        const covered = new Set([...ended].flatMap((l) => ranksOf.get(l) ?? []))
        const now = Date.now()
        // Silence: the launchers went away after being heard, or were never heard (the run ended before this one followed it).
        return Array.from({ length: size }, (_, r) => r).every((r) => covered.has(r)) ||
          (heard > 0 ? now - heard > SILENT_MILLIS : now - since > NEVER_HEARD_MILLIS)
      }
    }
  })

/** How often a run on a job with a stats channel looks whether someone started watching. */
const STATS_LOOK_MILLIS = 1000

/** Gathers every rank's outcome of run `id`; on the first failure, tells the others and stops them. */
const collect = (job: Job, running: Running, cmd: Protocol.Run, options: WorldOptions, stall: Stall | undefined) =>
  Effect.gen(function*() {
    const id = cmd.id
    const results: Array<unknown> = new Array(options.size)
    const settled = new Set<number>()
    let failure: RankFailed | Deadlock | undefined
    const watch = new JobWatch(job.localRanks, job.decidesDeadlocks === true && options.deadlockDetection !== false)
    const observer = running.observer
    if (observer !== undefined) {
      observer.started({ id, size: options.size, ranks: job.localRanks })
      watch.observer = (replies) => observer.round(Date.now(), replies)
      watch.observing = running.observing
    }
    const say = report(options)
    const stalled = new Set<number>()
    /** The rank the failure was put on by another rank's report, while its own account has not come. */
    let blamed: number | undefined
    let deadline: number | undefined
    const spawns = new Spawns(job, cmd, settled, () => (running.spawned = true))
    // A launcher of only spare ranks has no program ranks of its own: it serves spawns until the launchers that have them end the run
    // (followed before it serves, so that no end of a run it took part in can pass unseen).
    const others = job.localRanks.length === 0 && (job.slots?.length ?? 0) > 0 && job.stats !== undefined
      ? yield* followRun(job.stats, id, options.size)
      : undefined
    // Where this launcher has free slots, the job's other launchers may spawn into them (NATS).
    yield* spawns.serveOthers()
    const ports = new Ports(job)
    const traced: Array<TraceEvent> = []

    const fail = (rank: number, report: FailureReport) => {
      // A rank stopped because another failed (interrupted, or its call failed on that rank) did not fail itself.
      observer?.settled(rank, report.message, report.tag === "Interrupted" || (report.peer !== undefined && report.peer.rank !== rank))
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
        // A rank that waited on one that had finished: a deadlock, not a failure of either.
        failure = report.tag === "Deadlock"
          ? new Deadlock({ message: report.message, waits: [report.message] })
          : new RankFailed({ rank, message: `rank ${rank} failed: ${report.message}`, details: report.details })
        job.declareFailed(rank, report.message)
      }
      for (const r of job.localRanks) if (!settled.has(r)) job.post(r, { _tag: "Interrupt", id } satisfies Protocol.Interrupt)
      spawns.release()
      deadline = Date.now() + (options.stopGraceMillis ?? 5000)
    }

    /** Stops the run on a deadlock or a stall (the ranks are interrupted; they are all waiting). */
    const stopWith = (error: Deadlock) => {
      if (failure !== undefined) return
      failure = error
      for (const r of job.localRanks) if (!settled.has(r)) job.post(r, { _tag: "Interrupt", id } satisfies Protocol.Interrupt)
      spawns.release()
      deadline = Date.now() + (options.stopGraceMillis ?? 5000)
    }

    running.collecting = true
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        running.collecting = false
        ports.close()
        // A picture asked for as the run ends: answered by `snapshot` instead.
        for (const p of running.pictures.splice(0)) p("")
      })
    )
    while (settled.size < job.localRanks.length || (others !== undefined && !others.ended())) {
      const now = Date.now()
      for (const p of running.pictures.splice(0)) watch.picture(p)
      if (failure === undefined && watch.due(now)) {
        const query = watch.next(now)
        for (const r of job.localRanks) job.post(r, query)
      }
      const wait = Math.min(
        deadline === undefined ? Number.POSITIVE_INFINITY : Math.max(0, deadline - now),
        failure === undefined ? watch.wait(Date.now()) : Number.POSITIVE_INFINITY,
        // A watcher of the job's stats channel may come at any time: look every second.
        job.stats === undefined ? Number.POSITIVE_INFINITY : STATS_LOOK_MILLIS
      )
      const event: JobEvent | undefined | "tick" = wait === Number.POSITIVE_INFINITY
        ? yield* Queue.take(job.events)
        : Option.getOrElse(yield* Effect.timeoutOption(Queue.take(job.events), wait), () => "tick" as const)
      if (event === "tick") {
        if (deadline !== undefined && Date.now() >= deadline) break // the stopped ranks did not finish in time: the caller terminates them
        continue
      }
      if (event === undefined) break
      if (event._tag === "Exited") {
        running.exited.add(event.rank)
        if (settled.has(event.rank)) continue
        const own = event.error === undefined || event.error.trim() === "" ? undefined : event.error
        const how = own ?? `it exited with code ${event.code} before its program finished`
        if (spawns.failedToStart(event.rank, firstLine(how))) continue
        if (spawns.endedDetached(event.rank, `rank ${event.rank} (a pool worker) died: ${firstLine(how)}`)) continue
        settled.add(event.rank)
        fail(event.rank, { tag: "Exited", message: own === undefined ? how : firstLine(how), details: how })
        // A rank that ended by exiting passes its code on (as mpiexec does), when its failure is the job's.
        if (event.code > 0 && failure?._tag === "RankFailed" && failure.rank === event.rank && failure.exitCode === undefined) {
          failure = new RankFailed({ rank: failure.rank, message: failure.message, details: failure.details, exitCode: event.code })
        }
        continue
      }
      const msg = event.message as Protocol.FromRank
      if (msg._tag === "Status") {
        const found = watch.reply(event.rank, msg)
        if (found !== undefined) stopWith(found)
        continue
      }
      if (msg._tag === "Stalled") {
        if (msg.run !== id || stalled.has(event.rank) || failure !== undefined) continue
        stalled.add(event.rank)
        const seconds = Math.round((Date.now() - msg.since) / 1000)
        const lines = msg.waits.map((w) => describeWait(w))
        say(`rankflow: rank ${event.rank} has waited ${seconds} s without progress: ${lines.join("; ")}\n`)
        const here = job.localRanks.length < job.size ? " of this host" : ""
        if (stall?.action === "fail") {
          // The whole picture first, then the job stops with it.
          if (stalled.size === 1) {
            watch.picture((text) =>
              stopWith(new Deadlock({
                message: `the job stalled: rank ${event.rank} waited ${seconds} s without progress (--stall-action fail); what each rank${here} was doing:\n${indent(text)}`,
                waits: text.split("\n")
              }))
            )
          }
        } else if (stalled.size === 1) {
          watch.picture((text) => say(`rankflow: what each rank${here} is doing:\n${indent(text)}\n`))
        }
        continue
      }
      if (msg._tag === "Trace") {
        if (msg.id === id) for (const e of msg.events) traced.push(e)
        continue
      }
      if (msg._tag === "Ask") {
        ports.ask(event.rank, msg)
        continue
      }
      if (msg._tag === "Spawn") {
        yield* spawns.request(event.rank, msg)
        continue
      }
      if (msg._tag === "Started") {
        if (msg.id === id) spawns.started(event.rank)
        continue
      }
      if (msg._tag !== "Done" || msg.id !== id || settled.has(event.rank)) continue
      if (!msg.ok && spawns.failedToStart(event.rank, msg.failure.message)) continue
      if (spawns.endedDetached(event.rank, msg.ok ? undefined : `rank ${event.rank} (a pool worker) failed: ${msg.failure.message}`)) continue
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
      } else {
        results[event.rank] = decoded.value
        observer?.settled(event.rank)
      }
    }
    observer?.ended(failure?.message)
    if (options.trace !== undefined) yield* Effect.sync(() => writeTrace(options.trace!, traced, job.localRanks))
    if (options.otlp !== undefined) {
      yield* exportSpans(options.otlp, traced, { size: options.size, run: id }).pipe(
        Effect.catch((e) => Effect.sync(() => say(`rankflow: ${e.message}\n`)))
      )
    }
    // The spawned ranks' results are theirs to send their parents; the run's are the world's.
    return { results: results.slice(0, options.size), failure, responsive: failure === undefined ? undefined : settled } satisfies Outcome
  }).pipe(Effect.scoped)

const firstLine = (s: string): string => s.split("\n", 1)[0]!

