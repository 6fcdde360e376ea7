/**
 * Device-resident arrays: the hook through which communication accepts
 * arrays that live on an accelerator (the GPU arrays of `rankflow/gpu`)
 * without `core/` knowing about any device.
 *
 * An array that carries `DeviceArrayTypeId` brings its own implementation of
 * the GPU-aware calls; when one is passed as the buffer of `send`,
 * `recvInto`, `bcast`, `reduce`, `allreduce`, `gather` or `allgather`, the
 * communicator checks the common arguments, opens the call (its own context
 * and tag, as every collective) and hands the array a `DeviceLink`: the
 * host-buffer messages of that one call. The array moves its data through it
 * (in chunks, overlapping transfers with messages) and gives back a device
 * array. Every rank of a collective passes a device array (for `bcast`, the
 * non-roots pass the array that receives, as in MPI's `Bcast`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Comm, Op } from "rankflow"
 * import { Gpu } from "rankflow/gpu"
 *
 * const program = Effect.gen(function* () {
 *   const world = yield* Comm.World
 *   const gpu = yield* Gpu.Device
 *   const y = yield* gpu.array(Float32Array.of(1, 2, 3))
 *   const total = yield* world.allreduce(y, Op.SUM)     // a GPU array, reduced on the GPU
 * })
 * ```
 */
import { Context, type Effect } from "effect"
import type { TypedArray } from "../../codecs/Datatype.ts"
import type { Comm } from "./Comm.ts"
import type { InvalidArgument } from "../errors.ts"
import type { Op } from "../op/Op.ts"
import type { ProbeOptions, RecvIntoError, SendError } from "../messaging/PointToPoint.ts"
import type { Status } from "./Status.ts"
import type { CollectiveFailure } from "../collectives/errors.ts"

/** The key under which a device array carries its communication hooks. */
export const DeviceArrayTypeId: unique symbol = Symbol.for("rankflow/DeviceArray") as never

/**
 * The host-buffer messages of one collective call on a device array: sends
 * and receives of typed arrays between the ranks of the communicator, on the
 * call's own context and tag (they never match other traffic). Messages
 * between one pair keep their order.
 */
export interface DeviceLink {
  readonly rank: number
  readonly size: number
  /** The collective's name, for error messages. */
  readonly name: string
  /** Sends a host buffer to `dest`; completes when `data` may be reused. */
  send(dest: number, data: TypedArray): Effect.Effect<void, CollectiveFailure>
  /** Receives the next buffer from `source` into `into` (exactly its datatype and length). */
  recvInto<T extends TypedArray>(source: number, into: T): Effect.Effect<T, CollectiveFailure>
}

/** What a device array implements; `E` is the device's own error type. */
export interface DeviceArrayHooks<Self, E> {
  /** Point-to-point send on `comm` (the user's tag). */
  send(self: Self, comm: Comm, options: { readonly dest: number; readonly tag: number }): Effect.Effect<void, SendError | E>
  /** Point-to-point receive into `self`. */
  recvInto(self: Self, comm: Comm, options: ProbeOptions): Effect.Effect<Status, RecvIntoError | E>
  bcast(self: Self, link: DeviceLink, root: number): Effect.Effect<Self, CollectiveFailure | E>
  reduce(self: Self, link: DeviceLink, op: Op, root: number): Effect.Effect<Self | undefined, CollectiveFailure | E>
  allreduce(self: Self, link: DeviceLink, op: Op): Effect.Effect<Self, CollectiveFailure | E>
  gather(self: Self, link: DeviceLink, root: number): Effect.Effect<Self | undefined, CollectiveFailure | E>
  allgather(self: Self, link: DeviceLink): Effect.Effect<Self, CollectiveFailure | E>
}

/** An array that lives on a device and knows how to communicate itself. */
export interface DeviceArray<E = unknown> {
  readonly [DeviceArrayTypeId]: DeviceArrayHooks<any, E>
}

/** The device error type of a device array type. */
export type DeviceErrorOf<T> = T extends DeviceArray<infer E> ? E : never

/** True for a device array. */
export const isDeviceArray = (u: unknown): u is DeviceArray =>
  typeof u === "object" && u !== null && DeviceArrayTypeId in u

/**
 * The types a device layer registers for pipeline stages (`rankflow/gpu`
 * adds `{ array: GpuArray; device: GpuDevice }` by declaration merging), so
 * that `Pipeline.map(…, { gpu: true })` is typed without core importing it.
 */
export interface DeviceTypes {}

type Registered<K extends string, D> = DeviceTypes extends { readonly [P in K]: infer T } ? T : D

/** The array type a device stage receives (a GPU array once `rankflow/gpu` is imported). */
export type StageArray = Registered<"array", DeviceArray>
/** The device a device stage receives. */
export type StageDevice = Registered<"device", unknown>

/** How a rank's device runs one item of a device stage: upload, run in a Scope, download a device result. */
export interface StageRunner {
  readonly run: <B, E>(item: unknown, f: (x: any, device: any) => Effect.Effect<B, E>) => Effect.Effect<unknown, E | InvalidArgument>
}

/** The service through which pipeline stages with `gpu: true` reach this rank's device (`Gpu.layer()` provides it). */
export class StageDevices extends Context.Service<StageDevices, StageRunner>()("rankflow/StageDevices") {}
