/**
 * `Rank.main(program)`: the entry point of a rank program file, the role of
 * mpi4py's implicit MPI_Init. Under `rankflow run -n 4 file.ts` (or
 * `World.run("file.ts", …)`) every rank runs `program` with `Comm.World`.
 * Run directly (`node file.ts`), the file runs as a job of one rank, or of
 * `RANKFLOW_SIZE` ranks when that variable is set.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Comm, Rank } from "rankflow"
 *
 * Rank.main(Effect.gen(function* () {
 *   const world = yield* Comm.World
 *   yield* Effect.log(`Hello! I'm rank ${world.rank} from ${world.size}`)
 * }))
 * ```
 */
import type { Effect, Scope } from "effect"
import type { World } from "../comm/Comm.ts"
import { mainSlot } from "../internal/mainSlot.ts"

/**
 * A rank program: an Effect that needs the world communicator (and may use a Scope).
 *
 * @example
 * ```ts
 * const program: Rank.Program = Effect.gen(function* () {
 *   const world = yield* Comm.World
 *   yield* world.barrier()
 * })
 * ```
 */
export type Program<A = unknown, E = unknown> = Effect.Effect<A, E, World | Scope.Scope>

/**
 * Declares the program of a rank program file. Inside a rank it hands the
 * program to the runner; in a plain process it starts a job that runs the
 * file itself.
 *
 * @example
 * ```ts
 * Rank.main(program)   // npx rankflow run -n 4 program.ts
 * ```
 */
export const main = <A, E>(program: Effect.Effect<A, E, World | Scope.Scope>): void => {
  const slot = mainSlot()
  if (slot.main !== undefined) return slot.main(program as Program)
  void import("./standalone.ts").then((m) => m.runStandalone())
}
