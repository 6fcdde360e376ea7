/**
 * Making communicators from communicators: `dup`, `split`,
 * `createFromGroup`, `createCart`, and `free`; `compare` of two
 * communicators. (`Comm` extends the `Communicators` interface.)
 *
 * Every creation call is collective over the communicator it is called on:
 * every member calls it, in the same order as its other collectives (MPI's
 * rule). The members agree on the new communicator's context ids with one
 * collective on the parent (see `contexts.ts`), so that its messages never
 * match those of any other communicator, and on its group where ranks choose
 * it (`split`). Ranks that end up outside the new communicator get
 * `Option.none()`, MPI's `COMM_NULL`.
 *
 * @example
 * ```ts
 * const world = yield* Comm.World
 * const mine = yield* world.dup()                                  // a private message space
 * const row = yield* world.split(Math.floor(world.rank / 4), world.rank)
 * if (Option.isSome(row)) yield* row.value.allreduce(x, Op.SUM)   // within the row
 * const evens = yield* world.createFromGroup(yield* Group.incl(world.group, [0, 2]))
 * yield* mine.free()
 * ```
 */
import { Effect, Option } from "effect"
import { checkLimit } from "../../codecs/DecodeBudget.ts"
import type { Cart, CartComm } from "./Cart.ts"
import * as Carts from "./Cart.ts"
import type { Comm } from "./Comm.ts"
import type { CommState } from "./CommState.ts"
import type { CollectiveError } from "../collectives/Collectives.ts"
import * as Contexts from "./contexts.ts"
import { InvalidArgument, InvalidCommunicator } from "../errors.ts"
import * as Groups from "./Group.ts"
import type * as Intercomm from "./Intercomm.ts"
import { IntercommError } from "./Intercomm.ts"
import * as Intercomms from "./intercomms.ts"
import type * as Spawn from "../dynamic/Spawn.ts"
import { SpawnError } from "../dynamic/Spawn.ts"
import * as Spawns from "../dynamic/spawns.ts"
import { PortError } from "../dynamic/Port.ts"
import * as Ports from "../dynamic/ports.ts"
import type { ProgramInput } from "../launching/ProgramRef.ts"
import type { Comparison, Group } from "./Group.ts"
import { type CodecChoice, resolveCodec } from "../messaging/Message.ts"

export { UNDEFINED } from "./Group.ts"
export { CONGRUENT, IDENT, SIMILAR, UNEQUAL, type Comparison } from "./Group.ts"

/**
 * Every error a communicator-creating call may fail with (those of the collective it runs on the parent).
 *
 * @example
 * ```ts
 * const rows: Effect.Effect<Option.Option<Comm.Comm>, Comm.CreateError> = world.split(world.rank % 2)
 * ```
 */
export type CreateError = CollectiveError

/**
 * Settings of a duplicate that differ from its parent's (MPI_Comm_dup_with_info).
 *
 * @example
 * ```ts
 * // Values from other jobs' ranks: a tighter limit than the world's.
 * const guarded = yield* world.dup({ codec: "msgpack", maxDecodedBytes: 16 * 1024 * 1024 })
 * ```
 */
export interface DupOptions {
  /** The codec values go through unless a call names another (default: the parent's). */
  readonly codec?: CodecChoice
  /**
   * The most memory a received value may decode to beyond twice its encoded
   * size (default: the parent's; the world's is 256 MiB unless `rankflow run
   * --max-decoded-bytes` says otherwise). A larger message fails its receive
   * with a `DecodeError` naming the limit, and nothing else is lost.
   */
  readonly maxDecodedBytes?: number
}

/** Builds the full communicator object over a state (internal/facade.ts, passed in to keep the modules acyclic). */
export type Build = (c: CommState) => Comm

/**
 * Making communicators from a communicator (`Comm` extends it): `dup`, `split`, `createFromGroup`, `createCart`, `free`.
 *
 * @example
 * ```ts
 * const row = Option.getOrThrow(yield* world.split(Math.floor(world.rank / 4)))
 * const lib = yield* world.dup()   // a private message space for a library
 * ```
 */
export interface Communicators {
  /** The communicator's group: its members' world ranks in rank order (MPI_Comm_group). */
  readonly group: Group

  /**
   * A new communicator with the same members in the same order and a message
   * space of its own (MPI_Comm_dup): a library can talk on it without ever
   * matching the caller's messages. `options` change its codec or its
   * decoding limit (MPI_Comm_dup_with_info). Collective.
   *
   * @example
   * ```ts
   * const lib = yield* world.dup()
   * const compact = yield* world.dup({ codec: "marshal", maxDecodedBytes: 64 * 1024 * 1024 })
   * ```
   */
  dup(options?: DupOptions): Effect.Effect<Comm, CreateError>

  /**
   * Partitions the communicator (MPI_Comm_split): ranks passing the same
   * `color` (a non-negative integer) form a new communicator, ordered by
   * `key` (default 0), ties by their rank here. `UNDEFINED` as the color
   * gives this rank no communicator (`Option.none()`). Collective.
   *
   * @example
   * ```ts
   * const row = yield* world.split(Math.floor(world.rank / cols))   // Option<Comm>
   * ```
   */
  split(color: number, key?: number): Effect.Effect<Option.Option<Comm>, CreateError>

  /**
   * The communicator of `group`, a subset of this communicator's group, in
   * the group's order (MPI_Comm_create). Collective over this communicator;
   * every rank passes the same group, and ranks outside it get `Option.none()`.
   */
  createFromGroup(group: Group): Effect.Effect<Option.Option<Comm>, CreateError>

  /**
   * A Cartesian grid of `dims` over the first `dims[0]·dims[1]·…` ranks
   * (MPI_Cart_create), periodic (wrapping around) in the dimensions where
   * `periods` is true (default: none). Ranks keep their order (`reorder` is
   * accepted for MPI's sake; this transport's ranks are all equally close).
   * Ranks beyond the grid get `Option.none()`. Collective; every rank passes
   * the same arguments. See `Comm.computeDims` for balanced `dims`.
   *
   * @example
   * ```ts
   * const dims = yield* Comm.computeDims(world.size, [0, 0])
   * const grid = Option.getOrThrow(yield* world.createCart(dims, [false, false]))
   * const { source, dest } = yield* grid.shift(0, 1)
   * ```
   */
  createCart(dims: ReadonlyArray<number>, periods?: ReadonlyArray<boolean>, reorder?: boolean): Effect.Effect<Option.Option<CartComm>, CreateError>

  /**
   * Marks the communicator freed on this rank (MPI_Comm_free): later calls
   * on it fail with `InvalidCommunicator`; requests already started complete.
   * Only communicators made by dup, split, createFromGroup or createCart can
   * be freed; the world cannot.
   */
  free(): Effect.Effect<void, InvalidCommunicator>

  /**
   * An intercommunicator between this communicator's group and the group led
   * by `remoteLeader` of `peerComm` (MPI_Intercomm_create; collective over
   * both groups). The two leaders (`localLeader` here) exchange the groups
   * over `peerComm` with `tag`. See `Intercomm`.
   *
   * @example
   * ```ts
   * const half = Option.getOrThrow(yield* world.split(world.rank % 2))
   * const inter = yield* half.createIntercomm(0, world, world.rank % 2 === 0 ? 1 : 0, 7)
   * ```
   */
  createIntercomm(localLeader: number, peerComm: Comm, remoteLeader: number, tag: number): Effect.Effect<Intercomm.Intercomm, Intercomm.IntercommError>

  /**
   * Starts `maxprocs` new ranks running `program` and returns an
   * intercommunicator to them (MPI_Comm_spawn; collective over this
   * communicator; `program`, `args` and `maxprocs` count at `root` only). In
   * the new ranks, `Comm.parent` is the other side. The job needs free slots
   * (`--universe`); see core/dynamic/Spawn.ts.
   *
   * @example
   * ```ts
   * const children = yield* world.spawn("worker.ts", { maxprocs: 4 })
   * yield* children.bcast(100, { root: Intercomm.ROOT })
   * ```
   */
  spawn(program: ProgramInput, options?: Spawn.SpawnOptions): Effect.Effect<Intercomm.Intercomm, Spawn.SpawnError>

  /**
   * Starts the ranks of several programs at once (MPI_Comm_spawn_multiple):
   * one intercommunicator whose remote group holds each program's ranks in turn.
   *
   * @example
   * ```ts
   * const inter = yield* world.spawnMultiple([{ program: "a.ts", maxprocs: 1 }, { program: "b.ts", maxprocs: 2 }])
   * inter.remoteSize   // 3: rank 0 runs a.ts, ranks 1 and 2 run b.ts
   * ```
   */
  spawnMultiple(programs: ReadonlyArray<Spawn.SpawnSpec>, options?: { readonly root?: number }): Effect.Effect<Intercomm.Intercomm, Spawn.SpawnError>

  /**
   * Waits for a group to `connect` to `port` and returns an intercommunicator
   * to it (MPI_Comm_accept; collective over this communicator; `port` counts
   * at `root`, default 0). See core/dynamic/Port.ts.
   *
   * @example
   * ```ts
   * const port = yield* Comm.openPort
   * const clients = yield* group.accept(port)
   * ```
   */
  accept(port: string, options?: { readonly root?: number }): Effect.Effect<Intercomm.Intercomm, PortError>

  /**
   * Joins the group that accepts on `port` and returns an intercommunicator
   * to it (MPI_Comm_connect; collective over this communicator; `port`
   * counts at `root`, default 0).
   *
   * @example
   * ```ts
   * const server = yield* group.connect(yield* Comm.lookupName("solver"))
   * ```
   */
  connect(port: string, options?: { readonly root?: number }): Effect.Effect<Intercomm.Intercomm, PortError>
}

const STATE = Symbol.for("rankflow/Comm/state")

/** The state under a communicator object (undefined for an object that is not one). */
export const stateOf = (comm: Comm): CommState | undefined => (comm as unknown as Record<symbol, CommState | undefined>)[STATE]

const freedError = () => new InvalidCommunicator({ message: "this communicator was freed; use it before free(), or dup() it to keep one" })

const checkUsable = (c: CommState): Effect.Effect<void, InvalidCommunicator> => (c.freed ? Effect.fail(freedError()) : Effect.void)

const createCart = (
  c: CommState,
  build: Build,
  dims: ReadonlyArray<number>,
  periods: ReadonlyArray<boolean> | undefined,
  reorder: boolean | undefined
): Effect.Effect<Option.Option<CartComm>, CreateError> =>
  Effect.gen(function*() {
    yield* checkUsable(c)
    if (reorder !== undefined && typeof reorder !== "boolean") {
      return yield* new InvalidArgument({ argument: "reorder", message: "createCart: reorder must be a boolean" })
    }
    // The arguments are the same on every rank (MPI's rule), so a bad one fails everywhere before any message.
    const cart: Cart = yield* Effect.fromResult(Carts.topology(dims, periods ?? dims.map(() => false), c.size))
    const members = c.group.slice(0, Carts.cellCount(cart))
    const state = yield* Contexts.derive(c, members)
    return Option.map(state, (s) => Carts.make(s, cart, build))
  })

const dupSettings = (options: DupOptions | undefined): Contexts.Settings | InvalidArgument => {
  if (options === undefined) return {}
  if (typeof options !== "object" || options === null) return new InvalidArgument({ argument: "options", message: "dup: options must be an object { codec?, maxDecodedBytes? }" })
  const bad = checkLimit(options.maxDecodedBytes)
  if (bad !== undefined) return new InvalidArgument({ argument: "maxDecodedBytes", message: `dup: ${bad}` })
  let codec
  try {
    codec = options.codec === undefined ? undefined : resolveCodec(options.codec)
  } catch (e) {
    return new InvalidArgument({ argument: "codec", message: `dup: ${(e as Error).message}` })
  }
  return { codec, decodeOptions: options.maxDecodedBytes === undefined ? undefined : { maxDecodedBytes: options.maxDecodedBytes } }
}

/** The communicator methods of the communicator with state `c`. */
export const make = (c: CommState, build: Build): Communicators & { readonly [STATE]: CommState } => ({
  [STATE]: c,
  group: Groups.make(c.group, c.engine.rank),
  dup: (options) =>
    Effect.flatMap(checkUsable(c), () => {
      const settings = dupSettings(options)
      // Agree first, so that every rank takes part even if its options are wrong; then fail.
      const made = Contexts.derive(c, c.group, settings instanceof InvalidArgument ? undefined : settings)
      return settings instanceof InvalidArgument
        ? Effect.flatMap(made, () => Effect.fail(settings))
        : Effect.map(made, (s) => build(Option.getOrThrow(s)))
    }),
  split: (color, key = 0) => Effect.flatMap(checkUsable(c), () => Effect.map(Contexts.split(c, color, key), Option.map(build))),
  createFromGroup: (group) =>
    Effect.flatMap(checkUsable(c), () =>
      Effect.suspend(() => {
        if (!Groups.isGroup(group)) return Effect.fail(new InvalidArgument({ argument: "group", message: "createFromGroup needs a Group (from comm.group and the Group operations)" }))
        const inParent = new Set(c.group)
        const outside = group.members.find((w) => !inParent.has(w))
        // Agree first, so that every rank takes part even if its group is wrong; then fail.
        const made = Contexts.derive(c, outside === undefined ? group.members : [])
        if (outside === undefined) return Effect.map(made, Option.map(build))
        return Effect.flatMap(made, () =>
          Effect.fail(new InvalidArgument({ argument: "group", message: `createFromGroup: world rank ${outside} of the group is not a member of this communicator; the group must be a subset of comm.group` })))
      })),
  createCart: (dims, periods, reorder) => createCart(c, build, dims, periods, reorder),
  createIntercomm: (localLeader, peerComm, remoteLeader, tag) =>
    Effect.flatMap(Effect.mapError(checkUsable(c), (e) => new IntercommError({ message: e.message, cause: e })), () =>
      Intercomms.create(build(c), localLeader, peerComm, remoteLeader, tag, build)),
  spawn: (program, options) =>
    Effect.flatMap(Effect.mapError(checkUsable(c), (e) => new SpawnError({ message: e.message, errors: [], cause: e })), () =>
      Spawns.spawnMultiple(build(c), [{ program, ...(options?.maxprocs === undefined ? {} : { maxprocs: options.maxprocs }), ...(options?.args === undefined ? {} : { args: options.args }) }], options?.root ?? 0, build)),
  accept: (port, options) =>
    Effect.flatMap(Effect.mapError(checkUsable(c), (e) => new PortError({ message: e.message, cause: e })), () =>
      Ports.join("accept", build(c), port, options?.root ?? 0, build)),
  connect: (port, options) =>
    Effect.flatMap(Effect.mapError(checkUsable(c), (e) => new PortError({ message: e.message, cause: e })), () =>
      Ports.join("connect", build(c), port, options?.root ?? 0, build)),
  spawnMultiple: (programs, options) =>
    Effect.flatMap(Effect.mapError(checkUsable(c), (e) => new SpawnError({ message: e.message, errors: [], cause: e })), () =>
      Spawns.spawnMultiple(build(c), programs, options?.root ?? 0, build)),
  free: () =>
    Effect.suspend(() => {
      if (c.freed) return Effect.fail(new InvalidCommunicator({ message: "free: this communicator was already freed" }))
      if (!Contexts.isDerived(c)) return Effect.fail(new InvalidCommunicator({ message: "free: the world communicator cannot be freed; free only communicators you made (dup, split, …)" }))
      c.freed = true
      c.shared?.close()
      // Its name is no longer needed for reports of what the rank waits for.
      c.engine.comms.delete(c.context)
      return Effect.void
    })
})

/**
 * How two communicators relate (MPI_Comm_compare): IDENT (the same
 * communicator), CONGRUENT (same members in the same order, different
 * message spaces, as after `dup`), SIMILAR (same members, another order) or
 * UNEQUAL.
 *
 * @example
 * ```ts
 * const copy = yield* world.dup()
 * Comm.compare(world, world)   // "IDENT"
 * Comm.compare(world, copy)    // "CONGRUENT": same members, their own messages
 * ```
 */
export const compare = (a: Comm, b: Comm): Comparison => {
  const sa = stateOf(a)
  const sb = stateOf(b)
  if (sa !== undefined && sa === sb) return Groups.IDENT
  const groups = Groups.compare(a.group, b.group)
  return groups === Groups.IDENT ? Groups.CONGRUENT : groups
}

/**
 * Balanced grid dimensions for `n` ranks (MPI_Dims_create): `dims` is a
 * number of dimensions, or extents where 0 means "choose". The chosen
 * extents are as close to each other as possible, largest first.
 *
 * @example
 * ```ts
 * yield* Comm.computeDims(6, 2)          // [3, 2]
 * yield* Comm.computeDims(6, [0, 3, 0])  // [2, 3, 1]
 * yield* Comm.computeDims(7, [0, 3, 0])  // fails: 3 does not divide 7
 * ```
 */
export const computeDims = (n: number, dims: number | ReadonlyArray<number>): Effect.Effect<Array<number>, InvalidArgument> =>
  Effect.suspend(() => Effect.fromResult(Carts.computeDims(n, dims)))
