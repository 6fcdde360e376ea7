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
import { Context, Effect } from "effect"
import type { BufferSpec } from "../codecs/buffer.ts"
import type { EncodeError } from "../codecs/errors.ts"
import type { SharedArrayConstructor, SharedArrayLike } from "../transports/Transport.ts"
import type { CommState } from "./CommState.ts"
import { type DeviceArray, DeviceArrayTypeId, type DeviceErrorOf, isDeviceArray } from "./DeviceArray.ts"
import { AllocationFailed, type UnknownCodec } from "./errors.ts"
import * as P2P from "./PointToPoint.ts"
import { located, traceMethods } from "./callSites.ts"
import { ANY_SOURCE, ANY_TAG } from "./Matching.ts"
import type { Request } from "./Request.ts"
import type { Status } from "./Status.ts"
import * as Collectives from "./collectives/Collectives.ts"
import * as Communicators from "./communicators.ts"

export { ANY_SOURCE, ANY_TAG, PROC_NULL } from "./Matching.ts"
export { TAG_UB } from "./PointToPoint.ts"
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
} from "./PointToPoint.ts"

export type * from "./collectives/Collectives.ts"
export type { NeighborCollectives, NeighborOptions } from "./collectives/neighbor.ts"
export type { CartComm, Shift } from "./Cart.ts"
export type { Communicators, CreateError, DupOptions } from "./communicators.ts"
export { CONGRUENT, compare, computeDims, IDENT, SIMILAR, UNDEFINED, UNEQUAL, type Comparison } from "./communicators.ts"

/** A communicator, as a rank program sees it (collectives: see collectives/Collectives.ts). */
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
  probe(options?: P2P.ProbeOptions): Effect.Effect<Status, P2P.InvalidCall | import("./errors.ts").RankFailed | import("./errors.ts").Deadlock>
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

/** The communicator of every rank of the job: the service a rank program needs. */
export class World extends Context.Service<World, Comm>()("rankflow/Comm/World") {}

/** Builds the communicator object over its state. */
export const fromState = (c: CommState): Comm => {
  const comm: Comm = {
  ...Collectives.make(c),
  ...Communicators.make(c, fromState),
  rank: c.rank,
  size: c.size,
  // Arguments are checked as the call is made, so that a bad one names the user's line (callSites.ts);
  // plain ternaries, no closure per call: these are the hot path.
  send: (value: unknown, options: P2P.SendOptions<any>): Effect.Effect<void, any> => {
    if (isDeviceArray(value)) return value[DeviceArrayTypeId].send(value, comm, { dest: options.dest, tag: options.tag ?? 0 })
    const bad = sendCheck(c, options)
    return bad === undefined ? P2P.send(c, value, options) : located(bad)
  },
  ssend: (value, options) => {
    const bad = sendCheck(c, options)
    return bad === undefined ? P2P.ssend(c, value, options) : located(bad)
  },
  isend: (value, options) => {
    const bad = sendCheck(c, options)
    return bad === undefined ? P2P.isend(c, value, options) : located(bad)
  },
  issend: (value, options) => {
    const bad = sendCheck(c, options)
    return bad === undefined ? P2P.issend(c, value, options) : located(bad)
  },
  recv: (options) => {
    const bad = recvCheck(c, options)
    return (bad === undefined ? P2P.recv(c, options) : located(bad)) as Effect.Effect<any, P2P.RecvError>
  },
  recvWithStatus: (options) => {
    const bad = recvCheck(c, options)
    return (bad === undefined ? P2P.recvWithStatus(c, options) : located(bad)) as Effect.Effect<P2P.Received<any>, P2P.RecvError>
  },
  irecv: (options) => {
    const bad = recvCheck(c, options)
    return (bad === undefined ? P2P.irecv(c, options) : located(bad)) as Effect.Effect<Request<any, P2P.RecvFailure>, P2P.InvalidCall>
  },
  recvInto: (buffer: unknown, options?: P2P.ProbeOptions): Effect.Effect<Status, any> => {
    if (isDeviceArray(buffer)) return buffer[DeviceArrayTypeId].recvInto(buffer, comm, options ?? {})
    const bad = P2P.intoError(buffer) ?? recvCheck(c, options)
    return bad === undefined ? P2P.recvInto(c, buffer as BufferSpec, options) : located(bad)
  },
  irecvInto: (buffer, options) => {
    const bad = P2P.intoError(buffer) ?? recvCheck(c, options)
    return bad === undefined ? P2P.irecvInto(c, buffer, options) : located(bad)
  },
  sendrecv: (value, options) => {
    const bad = P2P.validateSend(c, options.dest, options.sendTag ?? options.tag ?? 0) ??
      P2P.validateRecv(c, options.source ?? ANY_SOURCE, options.recvTag ?? ANY_TAG)
    return (bad === undefined ? P2P.sendrecv(c, value, options) : located(bad)) as Effect.Effect<any, P2P.SendError | P2P.RecvError>
  },
  probe: (options) => {
    const bad = recvCheck(c, options)
    return bad === undefined ? P2P.probe(c, options) : located(bad)
  },
  iprobe: (options) => {
    const bad = recvCheck(c, options)
    return bad === undefined ? P2P.iprobe(c, options) : located(bad)
  },
  alloc: (ctor, length) =>
    Effect.suspend(() => {
      const bytes = length * ctor.BYTES_PER_ELEMENT
      const allocator = c.engine.transport.alloc
      if (allocator === undefined) {
        return Effect.fail(new AllocationFailed({ bytes, message: `the ${c.engine.transport.kind} transport has no shared memory; allocate an ordinary typed array instead` }))
      }
      const array = allocator.alloc(ctor, length)
      return array === undefined
        ? Effect.fail(new AllocationFailed({ bytes, message: `the shared arena has no room for ${bytes} bytes; release arrays you no longer need, or start the job with a larger arena` }))
        : Effect.succeed(array)
    }),
  release: (array) => Effect.sync(() => void c.engine.transport.alloc?.release(array))
  }
  return traceMethods(comm)
}

const sendCheck = (c: CommState, options: P2P.SendOptions<any>): P2P.InvalidCall | undefined =>
  P2P.validateSend(c, options.dest, options.tag ?? 0)

const recvCheck = (c: CommState, options: P2P.ProbeOptions | undefined): P2P.InvalidCall | undefined =>
  P2P.validateRecv(c, options?.source ?? ANY_SOURCE, options?.tag ?? ANY_TAG)
