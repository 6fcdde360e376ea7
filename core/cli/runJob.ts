/**
 * Runs a rank program file as a job, as `rankflow run` does: reports the first
 * failing rank with its error and stack on stderr and gives the exit code.
 * SIGQUIT prints what every rank is doing (and the job goes on); an
 * interruption (Ctrl-C) prints it before the ranks are stopped.
 */
import { Effect } from "effect"
import * as World from "../launching/World.ts"

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
}

/** The exit code of a job stopped by a deadlock or a stall. */
export const DEADLOCK_EXIT_CODE = 4

/** Runs the job; succeeds with the process exit code (0 when every rank succeeded). */
export const runJob = (spec: JobSpec): Effect.Effect<number> =>
  Effect.gen(function*() {
    const world = yield* World.make({
      size: spec.size,
      programs: [spec.script],
      transport: spec.transport,
      codec: spec.codec,
      maxDecodedBytes: spec.maxDecodedBytes,
      transportOptions: spec.transportOptions,
      ...(spec.stall === undefined ? {} : { stall: spec.stall }),
      ...(spec.universe === undefined ? {} : { universe: spec.universe }),
      ...(spec.trace === undefined ? {} : { trace: spec.trace })
    })
    // kill -QUIT <pid>: the picture, as a Java thread dump (the job goes on).
    const onQuit = () =>
      void Effect.runPromise(world.picture).then((text) =>
        process.stderr.write(`rankflow: what each rank is doing (SIGQUIT):\n${text.split("\n").map((l) => `  ${l}`).join("\n")}\n`)
      )
    process.on("SIGQUIT", onQuit)
    yield* Effect.addFinalizer(() => Effect.sync(() => process.off("SIGQUIT", onQuit)))
    const results = yield* world.run(spec.script, { argv: [spec.script, ...spec.args], pictureOnInterrupt: true })
    if (spec.trace !== undefined) process.stderr.write(`rankflow: trace written to ${spec.trace} (open it in https://ui.perfetto.dev)\n`)
    return results
  }).pipe(
    Effect.scoped,
    Effect.as(0),
    Effect.catch((error) =>
      Effect.sync(() => {
        const details = error._tag === "RankFailed" && error.details !== undefined && error.details !== error.message && !error.message.endsWith(error.details)
          ? `\n${error.details}`
          : ""
        process.stderr.write(`rankflow: ${error.message}${details}\n`)
        if (error._tag === "Deadlock") return DEADLOCK_EXIT_CODE
        // A rank's own exit code passes through (as mpiexec passes it); any other failure is 1.
        return error._tag === "RankFailed" && error.exitCode !== undefined && error.exitCode > 0 && error.exitCode < 256 ? error.exitCode : 1
      })
    )
  )
