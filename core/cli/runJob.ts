/**
 * Runs a rank program file as a job, as `rankflow run` does: reports the first
 * failing rank with its error and stack on stderr and gives the exit code.
 */
import { Effect } from "effect"
import * as World from "../World.ts"

export interface JobSpec {
  readonly script: string
  readonly args: ReadonlyArray<string>
  readonly size: number
  readonly transport: "shm" | "nats"
  readonly codec?: string | undefined
  readonly maxDecodedBytes?: number | undefined
  readonly transportOptions?: object | undefined
}

/** Runs the job; succeeds with the process exit code (0 when every rank succeeded). */
export const runJob = (spec: JobSpec): Effect.Effect<number> =>
  World.run(spec.script, {
    size: spec.size,
    transport: spec.transport,
    codec: spec.codec,
    maxDecodedBytes: spec.maxDecodedBytes,
    transportOptions: spec.transportOptions,
    argv: [spec.script, ...spec.args]
  }).pipe(
    Effect.as(0),
    Effect.catch((error) =>
      Effect.sync(() => {
        const details = error._tag === "RankFailed" && error.details !== undefined && error.details !== error.message && !error.message.endsWith(error.details)
          ? `\n${error.details}`
          : ""
        process.stderr.write(`rankflow: ${error.message}${details}\n`)
        // A rank's own exit code passes through (as mpiexec passes it); any other failure is 1.
        return error._tag === "RankFailed" && error.exitCode !== undefined && error.exitCode > 0 && error.exitCode < 256 ? error.exitCode : 1
      })
    )
  )
