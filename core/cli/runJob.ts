/**
 * Runs a rank program file as a job, as `rankflow run` does: reports the first
 * failing rank with its error and stack on stderr and gives the exit code.
 * SIGQUIT prints what every rank is doing (and the job goes on); an
 * interruption (Ctrl-C) prints it before the ranks are stopped.
 */
import { Effect } from "effect"
import * as World from "../launching/World.ts"
import * as Dashboard from "../dashboard/Dashboard.ts"
import type { JobWatcher } from "../../transports/Launcher.ts"

export interface JobSpec {
  readonly script: string
  readonly args: ReadonlyArray<string>
  readonly size: number
  /** A registered transport's kind (transports/registry.ts). */
  readonly transport: string
  readonly codec?: string | undefined
  readonly maxDecodedBytes?: number | undefined
  readonly transportOptions?: object | undefined
  /** The stall watchdog (`--stall-timeout`, `--stall-action`); the transport's default when absent. */
  readonly stall?: World.WorldOptions["stall"]
  /** `--universe`: room for ranks that the program spawns. */
  readonly universe?: number | undefined
  /** `--trace`: where the run's Chrome trace goes. */
  readonly trace?: string | undefined
  /** `--otlp`: the OpenTelemetry collector the run's spans go to. */
  readonly otlp?: string | undefined
  /**
   * `--dashboard`: where it listens, its token, and how long it stays up
   * after the job (ms); `follow`: a watcher of the job's stats channel, for a
   * job over several launchers (the page then shows all of them).
   */
  readonly dashboard?: Dashboard.DashboardOptions & { readonly keepMillis: number; readonly follow?: JobWatcher | undefined } | undefined
}

/** The exit code of a job stopped by a deadlock or a stall. */
export const DEADLOCK_EXIT_CODE = 4

/** Runs the job; succeeds with the process exit code (0 when every rank succeeded). */
export const runJob = (spec: JobSpec): Effect.Effect<number> =>
  Effect.gen(function*() {
    const dashboard = spec.dashboard === undefined ? undefined : yield* Dashboard.make(spec.dashboard)
    const follow = spec.dashboard?.follow
    if (follow !== undefined) {
      dashboard!.follow(follow)
      yield* Effect.addFinalizer(() => Effect.promise(() => follow.close()))
    }
    if (dashboard !== undefined) process.stderr.write(`rankflow: dashboard at ${dashboard.url}\n`)
    const world = yield* World.make({
      size: spec.size,
      programs: [spec.script],
      transport: spec.transport,
      codec: spec.codec,
      maxDecodedBytes: spec.maxDecodedBytes,
      transportOptions: spec.transportOptions,
      ...(spec.stall === undefined ? {} : { stall: spec.stall }),
      ...(spec.universe === undefined ? {} : { universe: spec.universe }),
      ...(spec.trace === undefined ? {} : { trace: spec.trace }),
      ...(spec.otlp === undefined ? {} : { otlp: spec.otlp }),
      // A dashboard that follows the job's stats channel hears this launcher there too.
      ...(dashboard === undefined || follow !== undefined ? {} : { observer: dashboard.observer })
    })
    // kill -QUIT <pid>: the picture, as a Java thread dump (the job goes on).
    const onQuit = () =>
      void Effect.runPromise(world.picture).then((text) =>
        process.stderr.write(`rankflow: what each rank is doing (SIGQUIT):\n${text.split("\n").map((l) => `  ${l}`).join("\n")}\n`)
      )
    process.on("SIGQUIT", onQuit)
    yield* Effect.addFinalizer(() => Effect.sync(() => process.off("SIGQUIT", onQuit)))
    const ran = yield* Effect.result(world.run(spec.script, { argv: [spec.script, ...spec.args], pictureOnInterrupt: true }))
    if (spec.trace !== undefined) process.stderr.write(`rankflow: trace written to ${spec.trace} (open it in https://ui.perfetto.dev)\n`)
    // How the job ended is said at once, also where the dashboard stays up after it.
    const code = ran._tag === "Success" ? 0 : failed(ran.failure)
    const keep = spec.dashboard?.keepMillis ?? 0
    if (dashboard !== undefined && keep > 0) {
      process.stderr.write(`rankflow: the job has ended; the dashboard stays up for ${Math.round(keep / 1000)} s (Ctrl-C ends it)\n`)
      yield* Effect.sleep(keep)
    }
    return code
  }).pipe(
    Effect.scoped,
    Effect.catch((error) => Effect.sync(() => failed(error)))
  )

/** Says why the job failed on stderr; gives its exit code. */
const failed = (error: { readonly _tag: string; readonly message: string; readonly details?: string | undefined; readonly exitCode?: number | undefined }): number => {
  const details = error._tag === "RankFailed" && error.details !== undefined && error.details !== error.message && !error.message.endsWith(error.details)
    ? `\n${error.details}`
    : ""
  process.stderr.write(`rankflow: ${error.message}${details}\n`)
  if (error._tag === "Deadlock") return DEADLOCK_EXIT_CODE
  if (error._tag === "DashboardError") return 2
  // A rank's own exit code passes through (as mpiexec passes it); any other failure is 1.
  return error._tag === "RankFailed" && error.exitCode !== undefined && error.exitCode > 0 && error.exitCode < 256 ? error.exitCode : 1
}
