/**
 * rankflow: MPI-style parallel programs in TypeScript, built on Effect.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Comm, Rank } from "rankflow"
 *
 * Rank.main(Effect.gen(function* () {
 *   const world = yield* Comm.World
 *   yield* Effect.log(`Hello! I'm rank ${world.rank} from ${world.size}`)
 *   yield* world.barrier()
 * }))
 * ```
 */
export * as Comm from "./Comm.ts"
export * as Group from "./Group.ts"
export * as Op from "./Op.ts"
export * as Pipeline from "./Pipeline.ts"
export * as Rank from "./Rank.ts"
export * as Request from "./Request.ts"
export * as World from "./World.ts"
export type { Status } from "./Status.ts"
export type { ProgramInput, ProgramRef } from "./ProgramRef.ts"
export { ANY_SOURCE, ANY_TAG, PROC_NULL } from "./Matching.ts"
export { UNDEFINED } from "./Group.ts"
export { TAG_UB } from "./PointToPoint.ts"
export { wtick, wtime } from "./time.ts"
export * from "./errors.ts"
