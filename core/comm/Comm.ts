/**
 * Communicators: a group of ranks with their own message space. `Comm.World`
 * is the service every rank program needs: the communicator of all ranks.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Comm } from "rankflow"
 *
 * const program = Effect.gen(function* () {
 *   const world = yield* Comm.World
 *   if (world.rank === 0) yield* world.send({ a: 7 }, { dest: 1, tag: 11 })
 *   if (world.rank === 1) yield* world.recv({ source: 0, tag: 11 })
 * })
 * ```
 */
import { Context, Effect, Option } from "effect"
import type { BufferSpec } from "../../codecs/buffer.ts"
import type { EncodeError } from "../../codecs/errors.ts"
import type { SharedArrayConstructor, SharedArrayLike } from "../../transports/Transport.ts"
import type { DeviceArray, DeviceErrorOf } from "./DeviceArray.ts"
import type { AllocationFailed, UnknownCodec } from "../errors.ts"
import type * as P2P from "../messaging/PointToPoint.ts"
import type { Request } from "../messaging/Request.ts"
import type { Status } from "./Status.ts"
import type * as Collectives from "../collectives/Collectives.ts"
import type * as Communicators from "./communicators.ts"
import type { Intercomm } from "./Intercomm.ts"

export { ANY_SOURCE, ANY_TAG, PROC_NULL } from "../messaging/Matching.ts"
export { TAG_UB } from "../messaging/PointToPoint.ts"
export type {
  InvalidCall,
  ProbeOptions,
  Received,
  RecvError,
  RecvFailure,
  RecvIntoError,
  RecvIntoFailure,
  RecvOptions,
  SendError,
  SendFailure,
  SendOptions,
  SendrecvOptions
} from "../messaging/PointToPoint.ts"

export type { CollectiveError, CollectiveFailure, CollectiveInvalid, Collectives } from "../collectives/Collectives.ts"
export type * from "../collectives/options.ts"
export type { NeighborCollectives, NeighborOptions } from "../collectives/neighbor.ts"
export type { CartComm, Shift } from "./Cart.ts"
export type { Communicators, CreateError, DupOptions } from "./communicators.ts"
export type { SpawnOptions, SpawnSpec } from "../dynamic/Spawn.ts"
export { closePort, lookupName, openPort, PortError, publishName, unpublishName } from "../dynamic/Port.ts"
export { CONGRUENT, compare, computeDims, IDENT, SIMILAR, UNDEFINED, UNEQUAL, type Comparison } from "./communicators.ts"

/**
 * A communicator, as a rank program sees it (collectives: see collectives/Collectives.ts).
 *
 * @example
 * ```ts
 * const program = Effect.gen(function* () {
 *   const world: Comm.Comm = yield* Comm.World
 *   const sum = yield* world.allreduce(world.rank, Op.SUM)
 * })
 * ```
 */
export interface Comm extends Collectives.Collectives, Communicators.Communicators {
  /** This rank's number in the communicator, 0..size-1. */
  readonly rank: number
  /** How many ranks the communicator has. */
  readonly size: number

  /** Sends a device (GPU) array: its data moves in chunks, downloads overlapping the messages (see DeviceArray.ts). */
  send<T extends DeviceArray>(value: T, options: { readonly dest: number; readonly tag?: number }): Effect.Effect<void, P2P.SendError | DeviceErrorOf<T>>
  /** Sends a value; completes when its buffers may be reused (MPI_Send). Typed arrays take the buffer path. */
  send<A = unknown>(value: A, options: P2P.SendOptions<A>): Effect.Effect<void, P2P.SendError>
  /** Sends a value and completes once the receiver matched it (MPI_Ssend). */
  ssend<A = unknown>(value: A, options: P2P.SendOptions<A>): Effect.Effect<void, P2P.SendError>
  /** Starts a send (MPI_Isend). */
  isend<A = unknown>(value: A, options: P2P.SendOptions<A>): Effect.Effect<Request<void, P2P.SendFailure>, P2P.InvalidCall | EncodeError | UnknownCodec>
  /** Starts a synchronous send (MPI_Issend). */
  issend<A = unknown>(value: A, options: P2P.SendOptions<A>): Effect.Effect<Request<void, P2P.SendFailure>, P2P.InvalidCall | EncodeError | UnknownCodec>
  /** Receives a value (MPI_Recv); with a `schema` the value is decoded and validated through it. */
  recv<A = unknown>(options?: P2P.RecvOptions<A>): Effect.Effect<A, P2P.RecvError>
  /** Receives a value with its status. */
  recvWithStatus<A = unknown>(options?: P2P.RecvOptions<A>): Effect.Effect<P2P.Received<A>, P2P.RecvError>
  /** Starts a receive (MPI_Irecv); waiting on the request gives the value. */
  irecv<A = unknown>(options?: P2P.RecvOptions<A>): Effect.Effect<Request<A, P2P.RecvFailure>, P2P.InvalidCall>
  /** Receives a device array's data, sent by `send` of a device array of the same datatype and length, into `buffer`. */
  recvInto<T extends DeviceArray>(buffer: T, options?: P2P.ProbeOptions): Effect.Effect<Status, P2P.RecvIntoError | DeviceErrorOf<T>>
  /** Receives a buffer message into `buffer` (MPI's uppercase Recv); the status tells how many elements. */
  recvInto(buffer: BufferSpec, options?: P2P.ProbeOptions): Effect.Effect<Status, P2P.RecvIntoError>
  /** Starts a receive into `buffer`; waiting on the request gives the status. */
  irecvInto(buffer: BufferSpec, options?: P2P.ProbeOptions): Effect.Effect<Request<Status, P2P.RecvIntoFailure>, P2P.InvalidCall>
  /** Sends to `dest` and receives from `source` at once (MPI_Sendrecv). */
  sendrecv<A = unknown>(value: unknown, options: P2P.SendrecvOptions): Effect.Effect<A, P2P.SendError | P2P.RecvError>
  /** Waits for a matching message and returns its status without receiving it (MPI_Probe). */
  probe(options?: P2P.ProbeOptions): Effect.Effect<Status, P2P.InvalidCall | import("../errors.ts").RankFailed | import("../errors.ts").Deadlock>
  /** The status of a matching message if one has arrived (MPI_Iprobe). */
  iprobe(options?: P2P.ProbeOptions): Effect.Effect<import("effect").Option.Option<Status>, P2P.InvalidCall>

  /**
   * A zeroed typed array in memory shared by the ranks (where the transport
   * has it): sending it takes the zero-copy path. See docs/shm.md for when it
   * may be written again after a send.
   */
  alloc<T extends SharedArrayLike>(ctor: SharedArrayConstructor<T>, length: number): Effect.Effect<T, AllocationFailed>
  /** Gives memory from `alloc`, or received through the zero-copy path, back early. */
  release(array: ArrayBufferView): Effect.Effect<void>
}

/**
 * The communicator of every rank of the job: the service a rank program needs.
 *
 * @example
 * ```ts
 * const world = yield* Comm.World   // the world communicator of this rank program
 * ```
 */
export class World extends Context.Service<World, Comm>()("rankflow/Comm/World") {}

/**
 * In a rank started by `comm.spawn`, the intercommunicator to the ranks that
 * spawned it (their group is the remote one); none elsewhere. Read it
 * through `Comm.parent`.
 *
 * @example
 * ```ts
 * const parent = yield* Comm.parent
 * if (Option.isSome(parent)) yield* parent.value.barrier()
 * ```
 */
export class Parent extends Context.Service<Parent, Option.Option<Intercomm>>()("rankflow/Comm/Parent") {}

/**
 * The intercommunicator to this rank's parents (MPI_Comm_get_parent): some
 * in a rank started by `comm.spawn`, none otherwise.
 *
 * @example
 * ```ts
 * const parent = yield* Comm.parent
 * if (Option.isNone(parent)) yield* world.spawn(import.meta.url, { maxprocs: 4 })   // the master
 * else yield* parent.value.send(yield* work(), { dest: 0 })                          // a worker
 * ```
 */
export const parent: Effect.Effect<Option.Option<Intercomm>> = Effect.map(Effect.serviceOption(Parent), Option.flatten)
