/**
 * Intercommunicators (MPI's `MPI_Intercomm_create`, mpi4py's `Intercomm`):
 * two disjoint groups of ranks joined so that each addresses the *other*
 * group by its ranks. Point-to-point calls take remote ranks; collectives
 * follow MPI's intercommunicator rules (data goes from one group to the
 * other); `merge` makes one intracommunicator of both.
 *
 * Made by `comm.createIntercomm(localLeader, peerComm, remoteLeader, tag)`
 * (intercomms.ts builds them).
 *
 * @example
 * ```ts
 * const half = Option.getOrThrow(yield* world.split(world.rank % 2))
 * const inter = yield* half.createIntercomm(0, world, world.rank % 2 === 0 ? 1 : 0, 7)
 * yield* inter.send("hello", { dest: 0 })   // to rank 0 of the other group
 * ```
 */
import { Data, type Effect } from "effect"
import type { Comm } from "./Comm.ts"
import type * as Op from "../op/Op.ts"

/**
 * The root argument of an intercommunicator collective on the rank that is the root (MPI_ROOT); the other ranks of its group pass `PROC_NULL`.
 *
 * @example
 * ```ts
 * yield* inter.bcast(data, { root: isRoot ? Intercomm.ROOT : PROC_NULL })   // the sending group
 * ```
 */
export const ROOT = -4

/**
 * An intercommunicator. `rank` and `size` are this rank's group's; `dest`
 * and `source` of point-to-point calls, and the receiving group's `root`,
 * are ranks of the remote group.
 *
 * @example
 * ```ts
 * const got = yield* inter.recv({ source: 0 })   // from rank 0 of the other group
 * ```
 */
export interface Intercomm {
  readonly rank: number
  readonly size: number
  readonly remoteSize: number
  /** This rank's group as an intracommunicator. */
  readonly localComm: Comm
  readonly send: Comm["send"]
  readonly ssend: Comm["ssend"]
  readonly isend: Comm["isend"]
  readonly issend: Comm["issend"]
  readonly recv: Comm["recv"]
  readonly recvWithStatus: Comm["recvWithStatus"]
  readonly irecv: Comm["irecv"]
  readonly sendrecv: Comm["sendrecv"]
  readonly probe: Comm["probe"]
  readonly iprobe: Comm["iprobe"]
  readonly recvInto: Comm["recvInto"]
  readonly irecvInto: Comm["irecvInto"]
  /** Every rank of one group may leave once every rank of the other has entered. */
  barrier(): Effect.Effect<void, IntercommError>
  /** `root`: `ROOT` on the sending rank, `PROC_NULL` on the rest of its group, the sender's rank on the receiving group (which gets the value). */
  bcast<A>(value: A | undefined, options: { readonly root: number }): Effect.Effect<A | undefined, IntercommError>
  /** The root (`ROOT`) gets every remote rank's value, by remote rank. */
  gather<A>(value: A | undefined, options: { readonly root: number }): Effect.Effect<Array<A> | undefined, IntercommError>
  /** The root (`ROOT`) gives remote rank i `values[i]`. */
  scatter<A>(values: ReadonlyArray<A> | undefined, options: { readonly root: number }): Effect.Effect<A | undefined, IntercommError>
  /** Every rank gets every remote rank's value, by remote rank. */
  allgather<A>(value: A): Effect.Effect<Array<A>, IntercommError>
  /** Every rank gets the reduction of the remote group's values. */
  allreduce<A>(value: A, op: Op.Op): Effect.Effect<A, IntercommError>
  /** The root (`ROOT`) gets the reduction of the remote group's values. */
  reduce<A>(value: A | undefined, op: Op.Op, options: { readonly root: number }): Effect.Effect<A | undefined, IntercommError>
  /** `values[j]` goes to remote rank j; the result holds one value from each remote rank. */
  alltoall<A>(values: ReadonlyArray<A>): Effect.Effect<Array<A>, IntercommError>
  /** One intracommunicator of both groups (collective over both): the group that passes `high = false` first. */
  merge(high: boolean): Effect.Effect<Comm, IntercommError>
  /** Collective over both groups: waits until both are done with it; its calls fail after. */
  disconnect(): Effect.Effect<void, IntercommError>
}

/**
 * An intercommunicator call that failed: a bad root or argument, or the messages underneath.
 *
 * @example
 * ```ts
 * yield* inter.bcast(1, { root: 9 }).pipe(Effect.catchTag("IntercommError", (e) => Effect.log(e.message)))
 * ```
 */
export class IntercommError extends Data.TaggedError("IntercommError")<{ readonly message: string; readonly cause?: unknown }> {}

