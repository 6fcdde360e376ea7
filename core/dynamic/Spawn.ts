/**
 * Starting ranks from a running program (MPI_Comm_spawn, mpi4py's
 * `Comm.Spawn`): `comm.spawn(program, { maxprocs })` is collective over
 * `comm`, starts `maxprocs` new ranks running `program` and returns an
 * `Intercomm` whose remote group is them; in the new ranks `Comm.parent` is
 * the same intercommunicator from the other side. The new ranks belong to
 * the job: the launcher waits for them, and one that fails fails the run.
 *
 * Ranks are started into the job's free slots: start the job with a
 * universe larger than its size (`rankflow run -n 1 --universe 5`,
 * `WorldOptions.universe`). On shm the new ranks are worker threads of the
 * job's process.
 *
 * @example
 * ```ts
 * const world = yield* Comm.World
 * const workers = yield* world.spawn("examples/cpi-spawn.ts", { maxprocs: 4 })
 * yield* workers.bcast(1_000_000, { root: Intercomm.ROOT })
 * const pi = yield* workers.reduce(undefined, Op.SUM, { root: Intercomm.ROOT })
 * ```
 */
import { Data } from "effect"
import type { ProgramInput } from "../launching/ProgramRef.ts"

/**
 * How many ranks to start, and with what arguments (read at the root only, as MPI's are).
 *
 * @example
 * ```ts
 * yield* world.spawn("worker.ts", { maxprocs: 4, args: ["--steps", "100"], root: 0 })
 * ```
 */
export interface SpawnOptions {
  /** Ranks to start (default 1). */
  readonly maxprocs?: number
  /** Command-line arguments: the new ranks' `process.argv` after the script's path. */
  readonly args?: ReadonlyArray<string>
  /** The rank of `comm` whose program, arguments and maxprocs count (default 0). */
  readonly root?: number
}

/**
 * One program of `spawnMultiple`: its ranks come after those of the programs before it.
 *
 * @example
 * ```ts
 * yield* world.spawnMultiple([{ program: "reader.ts", maxprocs: 1 }, { program: "solver.ts", maxprocs: 3, args: ["fast"] }])
 * ```
 */
export interface SpawnSpec {
  /** A module path or URL (as `rankflow run` takes), or a `ProgramRef`. */
  readonly program: ProgramInput
  readonly maxprocs?: number
  readonly args?: ReadonlyArray<string>
}

/**
 * A spawn that could not start its ranks, on every rank of the spawning
 * communicator. `errors` has one entry per requested rank, in order (MPI's
 * error codes): why that rank did not start, or `undefined` where it did
 * (those are stopped again: a spawn starts all or nothing).
 *
 * @example
 * ```ts
 * yield* world.spawn("missing.ts").pipe(Effect.catchTag("SpawnError", (e) => Effect.log(e.errors[0])))
 * ```
 */
export class SpawnError extends Data.TaggedError("SpawnError")<{
  readonly message: string
  readonly errors: ReadonlyArray<string | undefined>
  readonly cause?: unknown
}> {}
