/**
 * A rank program file run directly (`node hello.ts`): start a job of
 * `RANKFLOW_SIZE` ranks (default 1) on the file itself, like running an mpi4py
 * script without mpiexec.
 */
import { Effect } from "effect"
import { runJob } from "../cli/runJob.ts"

export const runStandalone = (): void => {
  const script = process.argv[1]
  if (script === undefined) return
  const size = Number(process.env.RANKFLOW_SIZE ?? "1")
  void Effect.runPromise(runJob({ script, args: process.argv.slice(2), size, transport: "shm" })).then((code) => {
    process.exitCode = code
  })
}
