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
        const details = error._tag === "RankFailed" && error.details !== undefined && error.details !== error.message
          ? `\n${error.details}`
          : ""
        process.stderr.write(`rankflow: ${error.message}${details}\n`)
        return 1
      })
    )
  )
