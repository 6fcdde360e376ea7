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
export * as Comm from "./comm/Comm.ts"
export * as Dashboard from "./dashboard/Dashboard.ts"
export * as File from "./io/File.ts"
export * as Group from "./comm/Group.ts"
export * as Intercomm from "./comm/Intercomm.ts"
export * as Op from "./op/Op.ts"
export * as Pipeline from "./pipeline/Pipeline.ts"
export * as PoolExecutor from "./futures/PoolExecutor.ts"
export * as Rank from "./launching/Rank.ts"
export * as Request from "./messaging/Request.ts"
export * as Task from "./futures/Task.ts"
export * as Win from "./rma/Win.ts"
export * as World from "./launching/World.ts"
export type { Status } from "./comm/Status.ts"
export type { ProgramInput, ProgramRef } from "./launching/ProgramRef.ts"
export { ANY_SOURCE, ANY_TAG, PROC_NULL } from "./messaging/Matching.ts"
export { UNDEFINED } from "./comm/Group.ts"
export { TAG_UB } from "./messaging/PointToPoint.ts"
export { wtick, wtime } from "./time.ts"
export * from "./errors.ts"
export { SpawnError } from "./dynamic/Spawn.ts"
export { PortError } from "./dynamic/Port.ts"
