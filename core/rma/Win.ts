/**
 * One-sided communication (MPI's RMA, mpi4py's `MPI.Win`): each rank of a
 * communicator exposes a window of its memory, and any rank puts into, gets
 * from and accumulates into another rank's window without that rank calling
 * anything.
 *
 * How it moves depends on where the memory is. Where every rank can address
 * every rank's window (the shm transport, for `allocate`, `allocateShared`,
 * and `create` over arrays from `comm.alloc`), the origin does each operation
 * itself on the target's memory: put and get are copies, accumulates run
 * under the target's mutex in shared memory, and locks are words there, so
 * passive target needs nothing from the target's thread (SharedAccess.ts).
 * Elsewhere (NATS; `create` over a rank's private array; dynamic windows)
 * every operation is a message to the target rank, where a *progress fiber*
 * of the window (one receive per origin, forked when the window is made)
 * applies it to the window's memory and answers. Operations at one target
 * are applied one at a time, so accumulates are element-wise atomic with
 * respect to each other, as MPI requires; the target's program may be busy
 * in a receive, a collective or its own Effects meanwhile (a long synchronous
 * loop delays them, as it delays everything on that thread).
 *
 * A rank that fails has the locks it held released (what it wrote stays);
 * operations on its window fail with a `WinError` whose cause is its
 * `RankFailed`.
 *
 * Synchronisation follows MPI: an operation needs an open *access epoch* to
 * its target — after `fence`, between `lock`/`unlock` (or `lockAll`), or
 * between `start` and `complete` — and is complete at the target after the
 * next `fence`, `unlock`, `flush` or `complete`.
 *
 * @example
 * ```ts
 * const win = yield* Win.allocate(world, 10, "float64")
 * yield* win.fence()
 * yield* win.put(Float64Array.of(world.rank), (world.rank + 1) % world.size, 0)
 * yield* win.fence()
 * win.base[0]   // the previous rank's number
 * ```
 */
import { Cause, Data, Deferred, Effect, Exit, Fiber, type Scope } from "effect"
import * as Datatype from "../../codecs/Datatype.ts"
import type { DatatypeName, DerivedDatatype, TypedArray } from "../../codecs/Datatype.ts"
import { type BufferSpec, describe, describeTarget, scatter } from "../../codecs/buffer.ts"
import type { Comm } from "../comm/Comm.ts"
import { stateOf } from "../comm/communicators.ts"
import { PROC_NULL } from "../messaging/Matching.ts"
import * as Op from "../op/Op.ts"
import * as Request from "../messaging/Request.ts"
import * as SharedAccess from "./SharedAccess.ts"

/**
 * A window operation that cannot be done: out of range, no open epoch, a
 * datatype that does not fit, an unlock without a lock, a target that failed.
 * The window stays usable.
 *
 * @example
 * ```ts
 * yield* win.put(data, 1, 1_000_000).pipe(Effect.catchTag("WinError", (e) => Effect.log(e.message)))
 * ```
 */
export class WinError extends Data.TaggedError("WinError")<{
  readonly operation: string
  readonly rank: number
  readonly target: number
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * `fence` assertion: the window was not updated locally since the last fence (accepted; nothing to skip here).
 *
 * @example
 * ```ts
 * yield* win.fence(Win.MODE_NOSTORE | Win.MODE_NOPUT)
 * ```
 */
export const MODE_NOSTORE = 1
/**
 * `fence` assertion: no put or accumulate will target this window until the next fence (accepted).
 *
 * @example
 * ```ts
 * yield* win.fence(Win.MODE_NOPUT)
 * ```
 */
export const MODE_NOPUT = 2
/**
 * `fence` assertion: no operation precedes this fence, e.g. the first one (accepted).
 *
 * @example
 * ```ts
 * yield* win.fence(Win.MODE_NOPRECEDE)
 * ```
 */
export const MODE_NOPRECEDE = 4
/**
 * `fence` assertion: no operation follows this fence: it closes the access epoch.
 *
 * @example
 * ```ts
 * yield* win.fence(Win.MODE_NOSUCCEED)   // a put after this fails until the next fence
 * ```
 */
export const MODE_NOSUCCEED = 8
/**
 * `lock`/`post`/`start` assertion of MPI: no conflicting lock is held. Kept for ported code; nothing here reads it.
 *
 * @example
 * ```ts
 * const assertion = Win.MODE_NOCHECK
 * ```
 */
export const MODE_NOCHECK = 16

/**
 * Where an operation lands at the target: a displacement (in the target's
 * `dispUnit`s), or a displacement with a count and datatype, which must agree
 * with the origin array.
 *
 * @example
 * ```ts
 * yield* win.get(into, 1, { disp: 4, count: into.length, datatype: "float64" })
 * ```
 */
export type Target = number | { readonly disp: number; readonly count?: number; readonly datatype?: DatatypeName | DerivedDatatype }

/**
 * A window (MPI_Win). Operations return Effects; the `r…` forms a `Request`.
 *
 * @example
 * ```ts
 * const old = yield* win.withLock(0, "exclusive", win.fetchAndOp(1, 0, 0, Op.SUM))   // a shared counter
 * ```
 */
export interface Win<T extends TypedArray = TypedArray> {
  readonly comm: Comm
  /** This rank's window memory. */
  readonly base: T
  /** Its size in bytes. */
  readonly size: number
  readonly dispUnit: number
  readonly flavor: "allocate" | "create" | "shared" | "dynamic"

  /** Origins and results are typed arrays, or buffer specs (`[data, datatype, count]`) whose derived layout is packed and unpacked. */
  put(origin: TypedArray | BufferSpec, targetRank: number, target?: Target): Effect.Effect<void, WinError>
  get(into: TypedArray | BufferSpec, targetRank: number, target?: Target): Effect.Effect<void, WinError>
  accumulate(origin: TypedArray | BufferSpec, targetRank: number, target: Target | undefined, op: Op.Op): Effect.Effect<void, WinError>
  getAccumulate(origin: TypedArray | BufferSpec, result: TypedArray | BufferSpec, targetRank: number, target: Target | undefined, op: Op.Op): Effect.Effect<void, WinError>
  /** One element at `target` (its datatype: the target spec's, else the window's elements; a dynamic window needs the spec's). */
  fetchAndOp(value: number | bigint, targetRank: number, target: Target, op: Op.Op): Effect.Effect<number | bigint, WinError>
  compareAndSwap(value: number | bigint, compare: number | bigint, targetRank: number, target: Target): Effect.Effect<number | bigint, WinError>
  rput(origin: TypedArray | BufferSpec, targetRank: number, target?: Target): Effect.Effect<Request.Request<void, WinError>>
  rget(into: TypedArray | BufferSpec, targetRank: number, target?: Target): Effect.Effect<Request.Request<void, WinError>>
  raccumulate(origin: TypedArray | BufferSpec, targetRank: number, target: Target | undefined, op: Op.Op): Effect.Effect<Request.Request<void, WinError>>
  rgetAccumulate(
    origin: TypedArray | BufferSpec, result: TypedArray | BufferSpec, targetRank: number, target: Target | undefined, op: Op.Op
  ): Effect.Effect<Request.Request<void, WinError>>

  /** Collective: completes every operation, then opens an access epoch (unless `MODE_NOSUCCEED`). */
  fence(assert?: number): Effect.Effect<void, WinError>
  post(group: ReadonlyArray<number>): Effect.Effect<void, WinError>
  start(group: ReadonlyArray<number>): Effect.Effect<void, WinError>
  complete(): Effect.Effect<void, WinError>
  wait(): Effect.Effect<void, WinError>
  /** Whether every origin of the exposure epoch has completed (then the epoch ends, as after `wait`). */
  test(): Effect.Effect<boolean, WinError>
  lock(rank: number, kind?: "exclusive" | "shared"): Effect.Effect<void, WinError>
  unlock(rank: number): Effect.Effect<void, WinError>
  lockAll(): Effect.Effect<void, WinError>
  unlockAll(): Effect.Effect<void, WinError>
  flush(rank: number): Effect.Effect<void, WinError>
  flushAll(): Effect.Effect<void, WinError>
  flushLocal(rank: number): Effect.Effect<void, WinError>
  flushLocalAll(): Effect.Effect<void, WinError>
  /** Synchronises the private and public copies of the window (one copy here: nothing to do). */
  sync(): Effect.Effect<void>
  /** `lock`, run `effect`, `unlock` (also when `effect` fails). */
  withLock<A, E, R>(rank: number, kind: "exclusive" | "shared", effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | WinError, R>
  /** `fence`, run `effect`, `fence`. */
  epoch<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | WinError, R>
  /** Collective: completes everything and stops the window's progress fiber. */
  free(): Effect.Effect<void, WinError>
}

const BUILTIN_OPS = new Map([Op.SUM, Op.PROD, Op.MAX, Op.MIN, Op.LAND, Op.LOR, Op.LXOR, Op.BAND, Op.BOR, Op.BXOR, Op.MAXLOC, Op.MINLOC, Op.REPLACE, Op.NO_OP].map((op) => [op.name, op] as const))

/** A request to a target's progress fiber. */
interface Order {
  readonly k: "put" | "get" | "acc" | "getacc" | "cas" | "lock" | "unlock" | "post" | "complete"
  readonly id: number
  readonly at?: number // byte offset in the target's window
  /** A derived target layout: [byte offset, elements] pairs, in layout order (instead of `at` and `n`). */
  readonly pieces?: Float64Array
  readonly dt?: DatatypeName
  readonly n?: number
  readonly data?: TypedArray
  readonly cmp?: TypedArray
  readonly op?: string
  readonly shared?: boolean
}

/** What a target answers: nothing (done), data, or why it refused. */
type Answer = { readonly ok: true; readonly data?: TypedArray } | { readonly ok: false; readonly error: string }

/** Where an operation lands: its basic datatype, its element count, and [byte offset, elements] pairs at the target (one pair for a basic target). */
interface Landing {
  readonly dt: DatatypeName
  readonly n: number
  readonly pieces: ReadonlyArray<number>
}

/** An order's placement fields for a landing. */
const placement = (w: Landing): Pick<Order, "dt" | "at" | "n" | "pieces"> =>
  w.pieces.length === 2 ? { dt: w.dt, at: w.pieces[0]!, n: w.n } : { dt: w.dt, pieces: Float64Array.from(w.pieces) }

/** `data`'s elements into the views, in order. */
const putInto = (views: ReadonlyArray<TypedArray>, data: TypedArray) => {
  let o = 0
  for (const v of views) {
    v.set(data.subarray(o, o + v.length) as never)
    o += v.length
  }
}

/** The views' elements, in order, into `out`. */
const copyInto = (views: ReadonlyArray<TypedArray>, out: TypedArray) => {
  let o = 0
  for (const v of views) {
    out.set(v as never, o)
    o += v.length
  }
}

/** The views' elements, in order, in one new array. */
const copyOut = (views: ReadonlyArray<TypedArray>, like: TypedArray, n: number): TypedArray => {
  if (views.length === 1) return views[0]!.slice()
  const out = new (Datatype.of(like).ctor)(n)
  copyInto(views, out)
  return out
}

/** `view = view op data` for each view, with `data`'s elements in order. */
const combine = (op: Op.Op, views: ReadonlyArray<TypedArray>, data: TypedArray) => {
  let o = 0
  for (const v of views) {
    Op.reduceLocal(op, v, data.subarray(o, o + v.length), v)
    o += v.length
  }
}

/** An origin buffer as one typed array of its elements (a derived layout packed). */
const originArray = (spec: TypedArray | BufferSpec): TypedArray => {
  if (Datatype.isTypedArray(spec)) return spec
  const d = describe(spec)
  const aligned = d.bytes.byteOffset % d.datatype.size === 0 ? d.bytes : d.bytes.slice()
  return new d.datatype.ctor(aligned.buffer, aligned.byteOffset, d.count)
}

/** A result buffer as a typed array to fill, and what puts it in place after (a derived layout's scatter). */
const resultArray = (spec: TypedArray | BufferSpec): { readonly array: TypedArray; readonly finish: () => void } => {
  if (Datatype.isTypedArray(spec)) return { array: spec, finish: () => {} }
  const d = describeTarget(spec)
  const array = new d.datatype.ctor(d.bytes.buffer, d.bytes.byteOffset, d.count)
  return { array, finish: () => scatter(d, d.bytes.byteLength) }
}

/**
 * The typed array class that holds a basic datatype.
 *
 * @example
 * ```ts
 * const a: Win.ArrayOf<"int32"> = new Int32Array(4)
 * ```
 */
export type ArrayOf<N extends DatatypeName> = N extends "int8" ? Int8Array : N extends "uint8" ? Uint8Array
  : N extends "uint8clamped" ? Uint8ClampedArray : N extends "int16" ? Int16Array : N extends "uint16" ? Uint16Array
  : N extends "int32" ? Int32Array : N extends "uint32" ? Uint32Array : N extends "float16" ? Float16Array
  : N extends "float32" ? Float32Array : N extends "float64" ? Float64Array : N extends "int64" ? BigInt64Array
  : N extends "uint64" ? BigUint64Array : TypedArray

/**
 * A window of `count` fresh elements of `datatype` on every rank (collective;
 * MPI_Win_allocate). The window lives as long as the enclosing scope, or until `free`.
 *
 * @example
 * ```ts
 * const win = yield* Win.allocate(world, 100, "int32")
 * ```
 */
export const allocate = <N extends DatatypeName>(
  comm: Comm, count: number, datatype: N, options?: { readonly dispUnit?: number }
): Effect.Effect<Win<ArrayOf<N>>, WinError, Scope.Scope> =>
  Effect.gen(function*() {
    const d = Datatype.byName(datatype)
    if (d === undefined || !Number.isSafeInteger(count) || count < 0) {
      return yield* new WinError({ operation: "allocate", rank: comm.rank, target: comm.rank, message: `a window needs a count ≥ 0 and a known datatype; got ${count} of ${datatype}` })
    }
    // Where the ranks share memory, the window lives there and operations are done by the origin itself.
    const parts = yield* sharedParts(comm, count, d)
    if (typeof parts === "string") return yield* make(comm, new d.ctor(count) as ArrayOf<N>, options?.dispUnit ?? d.size, "allocate")
    return yield* make(comm, parts[comm.rank] as ArrayOf<N>, options?.dispUnit ?? d.size, "allocate", parts)
  })

/**
 * One array in the shared arena holding every rank's `count` elements, as
 * each rank's part (collective), or why there is none (the transport has no
 * shared memory, or too little of it): every rank gets the same answer.
 */
const sharedParts = (comm: Comm, count: number, d: Datatype.Datatype): Effect.Effect<ReadonlyArray<TypedArray> | string, never, Scope.Scope> =>
  Effect.gen(function*() {
    const counts = yield* comm.allgather(count).pipe(Effect.orDie)
    const starts = counts.map((_, r) => counts.slice(0, r).reduce((a, b) => a + b, 0))
    const total = counts.reduce((a, b) => a + b, 0)
    const setup = yield* comm.dup().pipe(Effect.orDie)
    // Rank 0 takes the whole window from the shared arena and hands every rank the same memory.
    const made = comm.rank === 0 ? yield* Effect.result(comm.alloc(d.ctor as never, Math.max(1, total))) : undefined
    const refusal = yield* setup.bcast(made === undefined || made._tag === "Success" ? null : made.failure.message, { root: 0 }).pipe(Effect.orDie)
    if (refusal !== null) return refusal
    let whole: TypedArray
    if (comm.rank === 0) {
      whole = (made as unknown as { readonly success: TypedArray }).success
      for (let r = 1; r < comm.size; r++) yield* setup.send(whole, { dest: r }).pipe(Effect.orDie)
    } else whole = yield* setup.recv<TypedArray>({ source: 0 }).pipe(Effect.orDie)
    yield* Effect.addFinalizer(() => comm.release(whole))
    return counts.map((n, r) => whole.subarray(starts[r]!, starts[r]! + n))
  })

/**
 * A window over memory this rank already has (collective; MPI_Win_create).
 * `dispUnit` (default: the array's element size) scales displacements.
 *
 * @example
 * ```ts
 * const data = new Float64Array(64)
 * const win = yield* Win.create(world, data)
 * ```
 */
export const create = <T extends TypedArray>(comm: Comm, array: T, options?: { readonly dispUnit?: number }): Effect.Effect<Win<T>, WinError, Scope.Scope> =>
  Effect.gen(function*() {
    const dispUnit = options?.dispUnit ?? array?.BYTES_PER_ELEMENT
    // Arrays from `comm.alloc` on every rank: each rank gets views of the others' (the zero-copy
    // path shares them), and operations are done by the origin itself. Any other memory only its
    // own thread can reach: operations go to the target's progress fiber.
    const alloc = stateOf(comm)?.engine.transport.alloc
    const mine = alloc !== undefined && Datatype.isTypedArray(array) && alloc.owns(array)
    const everywhere = (yield* comm.allgather(mine).pipe(Effect.orDie)).every((m) => m)
    if (!everywhere) return yield* make(comm, array, dispUnit, "create")
    const setup = yield* comm.dup().pipe(Effect.orDie)
    for (let r = 0; r < comm.size; r++) if (r !== comm.rank) yield* setup.send(array, { dest: r }).pipe(Effect.orDie)
    const views: Array<TypedArray> = []
    for (let r = 0; r < comm.size; r++) views.push(r === comm.rank ? array : yield* setup.recv<TypedArray>({ source: r }).pipe(Effect.orDie))
    yield* Effect.addFinalizer(() => Effect.forEach(views.filter((v) => v !== array), (v) => comm.release(v), { discard: true }))
    return yield* make(comm, array, dispUnit, "create", views)
  })

/**
 * A window whose ranks' memory is one shared array (`Win.allocateShared`): besides
 * the operations, any rank reads and writes another rank's part directly.
 *
 * @example
 * ```ts
 * const left = win.sharedQuery(world.rank - 1)   // a view of the left neighbour's part
 * left[0] = 1                                      // a plain store into its memory
 * ```
 */
export interface SharedWin<T extends TypedArray = TypedArray> extends Win<T> {
  /** A view of rank `rank`'s part of the window (MPI_Win_shared_query). */
  sharedQuery(rank: number): T
}

/**
 * A window of `count` elements per rank in memory that every rank of it
 * shares (collective; MPI_Win_allocate_shared): on shm, one array in the
 * shared arena, of which each rank's part is its `base` and `sharedQuery(r)`
 * gives rank r's. Plain loads and stores reach the other ranks' parts (order
 * them with `fence`, a barrier or `Atomics`); the window's operations work
 * too. Where the transport has no shared memory (NATS) it fails with a
 * `WinError` that says so.
 *
 * @example
 * ```ts
 * const win = yield* Win.allocateShared(world, 4, "float64")
 * win.base.fill(world.rank)
 * yield* world.barrier()
 * win.sharedQuery(0)[0]   // rank 0's 0, read directly
 * ```
 */
export const allocateShared = <N extends DatatypeName>(
  comm: Comm, count: number, datatype: N, options?: { readonly dispUnit?: number }
): Effect.Effect<SharedWin<ArrayOf<N>>, WinError, Scope.Scope> =>
  Effect.gen(function*() {
    const failure = (message: string, cause?: unknown) => new WinError({ operation: "allocateShared", rank: comm.rank, target: comm.rank, message, cause })
    const d = Datatype.byName(datatype)
    if (d === undefined || !Number.isSafeInteger(count) || count < 0) {
      return yield* failure(`a window needs a count ≥ 0 and a known datatype; got ${count} of ${datatype}`)
    }
    const parts = yield* sharedParts(comm, count, d)
    if (typeof parts === "string") {
      return yield* failure(`allocateShared needs memory that every rank shares (the shm transport); here: ${parts}. Use Win.allocate instead`)
    }
    const win = yield* make(comm, parts[comm.rank] as ArrayOf<N>, options?.dispUnit ?? d.size, "shared", parts)
    return Object.assign(win, {
      sharedQuery: (r: number) => {
        if (!Number.isInteger(r) || r < 0 || r >= comm.size) throw new RangeError(`sharedQuery: rank ${r} is not in the window's communicator of ${comm.size}`)
        return parts[r] as ArrayOf<N>
      }
    })
  })

/**
 * A window with no memory of its own yet (collective; MPI_Win_create_dynamic):
 * each rank `attach`es arrays to it, which gives each an address, and hands
 * the addresses to the ranks that will target them (with a send, as in MPI).
 * Displacements are these addresses, in bytes. An operation that lands
 * outside every attached array fails at the target; `detach` takes an array
 * out again.
 *
 * @example
 * ```ts
 * const win = yield* Win.createDynamic(world)
 * const address = yield* win.attach(new Float64Array(16))
 * const addresses = yield* world.allgather(address)
 * yield* win.lockAll()
 * yield* win.put(Float64Array.of(1), 1, addresses[1]!)
 * ```
 */
export interface DynamicWin extends Win<Uint8Array> {
  /** Exposes `array` through the window; returns its address (the displacement that reaches its first byte). */
  attach(array: TypedArray): Effect.Effect<number, WinError>
  /** Takes an attached array out of the window. */
  detach(array: TypedArray): Effect.Effect<void, WinError>
}

/**
 * A dynamic window (collective; MPI_Win_create_dynamic): memory comes and goes with `attach` and `detach`.
 *
 * @example
 * ```ts
 * const win = yield* Win.createDynamic(world)
 * const mine = new Int32Array(8)
 * const addresses = yield* world.allgather(yield* win.attach(mine))   // every rank's address of its array
 * ```
 */
export const createDynamic = (comm: Comm): Effect.Effect<DynamicWin, WinError, Scope.Scope> =>
  Effect.gen(function*() {
    const regions = new Map<number, Uint8Array>()
    let next = 64 // addresses start above 0 and stay 64-byte aligned, so that any element type lines up
    const win = yield* make(comm, new Uint8Array(0), 1, "dynamic", undefined, regions)
    const failure = (operation: string, message: string) => new WinError({ operation, rank: comm.rank, target: comm.rank, message })
    return Object.assign(win, {
      attach: (array: TypedArray) =>
        Effect.suspend(() => {
          if (!Datatype.isTypedArray(array)) return Effect.fail(failure("attach", "attach takes a typed array"))
          for (const region of regions.values()) {
            if (region.buffer === array.buffer && region.byteOffset === array.byteOffset && region.byteLength === array.byteLength) {
              return Effect.fail(failure("attach", "this array is attached already"))
            }
          }
          const address = next
          regions.set(address, new Uint8Array(array.buffer, array.byteOffset, array.byteLength))
          next += Math.ceil(Math.max(array.byteLength, 1) / 64) * 64
          return Effect.succeed(address)
        }),
      detach: (array: TypedArray) =>
        Effect.suspend(() => {
          for (const [address, region] of regions) {
            if (region.buffer === array.buffer && region.byteOffset === array.byteOffset && region.byteLength === array.byteLength) {
              regions.delete(address)
              return Effect.void
            }
          }
          return Effect.fail(failure("detach", "this array is not attached to the window"))
        })
    }) as DynamicWin
  })

/**
 * `parts`: every rank's window memory, where every rank can address it (shm):
 * then operations and passive-target locks take the direct path
 * (SharedAccess.ts), and the progress fiber serves only post and complete.
 */
const make = <T extends TypedArray>(
  comm: Comm, base: T, dispUnit: number, flavor: "allocate" | "create" | "shared" | "dynamic", parts?: ReadonlyArray<TypedArray>,
  regions?: Map<number, Uint8Array>
): Effect.Effect<Win<T>, WinError, Scope.Scope> =>
  Effect.gen(function*() {
    const rank = comm.rank
    const failure = (operation: string, target: number, message: string, cause?: unknown) => new WinError({ operation, rank, target, message, cause })
    if (!Number.isSafeInteger(dispUnit) || dispUnit < 1) return yield* failure("create", rank, `dispUnit must be a positive integer, got ${dispUnit}`)
    // Requests travel on one private message space, answers and the window's collectives on another.
    const orders = yield* comm.dup().pipe(Effect.orDie)
    const answers = yield* comm.dup().pipe(Effect.orDie)
    // A dynamic window's extent is whatever is attached when an operation arrives: the target checks it.
    const sizes = yield* answers.allgather([regions === undefined ? base.byteLength : Infinity, dispUnit] as const).pipe(Effect.orDie)
    const memory = new Uint8Array(base.buffer, base.byteOffset, base.byteLength)
    const access = parts === undefined
      ? undefined
      : yield* SharedAccess.open(answers, stateOf(answers)!, parts.map((p) => new Uint8Array(p.buffer, p.byteOffset, p.byteLength)))
    if (access !== undefined) yield* Effect.addFinalizer(() => Effect.sync(() => access.close()))

    // ---- the target side: the progress fiber ----------------------------------------------
    let exclusive = -1 // the rank holding the exclusive lock, or -1
    const sharedBy = new Map<number, number>() // origin -> shared locks it holds here
    let sharedHolders = 0
    const waiting: Array<{ readonly source: number; readonly order: Order }> = []
    const posted = new Set<number>() // targets that posted to us (for start)
    const completed = new Set<number>() // origins that completed to us (for wait)
    let exposure: ReadonlyArray<number> = []
    let changed = yield* Deferred.make<void>()
    const notify = () =>
      Effect.gen(function*() {
        const old = changed
        changed = yield* Deferred.make<void>()
        yield* Deferred.succeed(old, undefined)
      })

    const answer = (source: number, id: number, a: Answer) => answers.send(a, { dest: source, tag: id }).pipe(Effect.ignore)

    /** In a dynamic window: the attached array holding bytes `at .. at + bytes`, as its memory and the offset in it. */
    const attached = (at: number, bytes: number): readonly [Uint8Array, number] | string => {
      for (const [address, region] of regions!) {
        if (at >= address && at + bytes <= address + region.byteLength) return [region, at - address]
      }
      return `bytes ${at}..${at + bytes} are in no array attached to rank ${rank}'s dynamic window`
    }

    const view = (dt: DatatypeName, at: number, n: number): TypedArray | string => {
      const d = Datatype.byName(dt)
      if (d === undefined) return `unknown datatype ${dt}`
      if (regions !== undefined) {
        const found = attached(at, n * d.size)
        if (typeof found === "string") return found
        const [region, offset] = found
        if ((region.byteOffset + offset) % d.size !== 0) return `address ${at} of rank ${rank}'s window is not aligned for ${dt}`
        return new d.ctor(region.buffer, region.byteOffset + offset, n)
      }
      if (at < 0 || at + n * d.size > memory.byteLength) {
        return `bytes ${at}..${at + n * d.size} are outside rank ${rank}'s window of ${memory.byteLength} bytes`
      }
      if ((memory.byteOffset + at) % d.size !== 0) {
        return `byte ${at} of rank ${rank}'s window is not aligned for ${dt}`
      }
      return new d.ctor(memory.buffer, memory.byteOffset + at, n)
    }

    const grant = (source: number, order: Order) =>
      Effect.gen(function*() {
        if (order.shared) {
          sharedHolders++
          sharedBy.set(source, (sharedBy.get(source) ?? 0) + 1)
        } else exclusive = source
        yield* answer(source, order.id, { ok: true })
      })

    const releaseShared = (source: number, n: number) => {
      const held = sharedBy.get(source) ?? 0
      sharedHolders -= Math.min(n, held)
      if (held <= n) sharedBy.delete(source)
      else sharedBy.set(source, held - n)
    }

    /** Grants what now can be, in order: shared locks together, an exclusive one alone. */
    const grantWaiting = Effect.gen(function*() {
      while (waiting.length > 0) {
        const next = waiting[0]!
        const free = next.order.shared ? exclusive < 0 : exclusive < 0 && sharedHolders === 0
        if (!free) break
        waiting.shift()
        yield* grant(next.source, next.order)
      }
    })

    /**
     * An origin that failed (or finished) is gone: the locks it held here are
     * released (what it wrote stays), its queued lock requests dropped, and the
     * others waiting for the lock get it.
     */
    const forget = (source: number) =>
      Effect.suspend(() => {
        if (exclusive === source) exclusive = -1
        releaseShared(source, Infinity)
        for (let i = waiting.length - 1; i >= 0; i--) if (waiting[i]!.source === source) waiting.splice(i, 1)
        return grantWaiting
      })

    const apply = (source: number, order: Order): Effect.Effect<void> =>
      Effect.gen(function*() {
        switch (order.k) {
          case "lock": {
            const free = order.shared ? exclusive < 0 : exclusive < 0 && sharedHolders === 0
            if (free && waiting.length === 0) return yield* grant(source, order)
            waiting.push({ source, order })
            return
          }
          case "unlock": {
            if (exclusive === source) exclusive = -1
            else if ((sharedBy.get(source) ?? 0) > 0) releaseShared(source, 1)
            else return yield* answer(source, order.id, { ok: false, error: `rank ${source} holds no lock on rank ${rank}'s window` })
            yield* answer(source, order.id, { ok: true })
            return yield* grantWaiting
          }
          case "post":
            posted.add(source)
            return yield* notify()
          case "complete":
            completed.add(source)
            return yield* notify()
        }
        const pieces = order.pieces ?? [order.at!, order.n!]
        const views: Array<TypedArray> = []
        let n = 0
        for (let i = 0; i < pieces.length; i += 2) {
          const v = view(order.dt!, pieces[i]!, pieces[i + 1]!)
          if (typeof v === "string") return yield* answer(source, order.id, { ok: false, error: v })
          views.push(v)
          n += v.length
        }
        const target = views[0]!
        switch (order.k) {
          case "put":
            putInto(views, order.data!)
            return yield* answer(source, order.id, { ok: true })
          case "get":
            return yield* answer(source, order.id, { ok: true, data: copyOut(views, target, n) })
          case "acc":
          case "getacc": {
            const before = order.k === "getacc" ? copyOut(views, target, n) : undefined
            const op = BUILTIN_OPS.get(order.op!)
            if (op === undefined) return yield* answer(source, order.id, { ok: false, error: `accumulate takes a built-in op, not ${order.op}` })
            try {
              combine(op, views, order.data!)
            } catch (e) {
              return yield* answer(source, order.id, { ok: false, error: e instanceof Error ? e.message : String(e) })
            }
            return yield* answer(source, order.id, { ok: true, ...(before === undefined ? {} : { data: before }) })
          }
          case "cas": {
            const before = target.slice()
            if (target[0] === order.cmp![0]) target.set(order.data as never)
            return yield* answer(source, order.id, { ok: true, data: before })
          }
        }
      })

    // An order that cannot be applied (one this window did not send, data that does not fit) is
    // answered with why, and the fiber goes on serving the others.
    // One receive per origin (not one from any source, which fails for good once any rank has
    // failed): an origin that fails ends only its own loop, and the window goes on serving the others.
    const serve = (source: number) =>
      Effect.forever(
        Effect.flatMap(orders.recv<Order>({ source }), (value) =>
          apply(source, value).pipe(Effect.catchCause((cause) =>
            typeof value?.id === "number" && value.id >= 0
              ? answer(source, value.id, { ok: false, error: `rank ${rank} could not apply a ${String(value.k)}: ${Cause.pretty(cause)}` })
              : Effect.logWarning(`rankflow: window on rank ${rank} dropped an order from rank ${source}: ${Cause.pretty(cause)}`)
          )))
      ).pipe(Effect.catchCause(() => forget(source)))
    const progress = Effect.forEach(Array.from({ length: comm.size }, (_, r) => r), serve, { concurrency: "unbounded", discard: true })
    const fiber = yield* Effect.forkScoped(progress)
    let freed = false

    // ---- the origin side ------------------------------------------------------------------
    let nextId = 0
    const pending = new Map<number, Array<Request.Request<unknown, WinError>>>()
    let fenceOpen = false
    const locked = new Map<number, boolean>() // rank -> shared?
    let lockedAll = false
    let started: ReadonlyArray<number> = []

    const hasEpoch = (t: number) => fenceOpen || lockedAll || locked.has(t) || started.includes(t)

    /** Sends an order and returns the Request of its answer. */
    const order = (operation: string, t: number, o: Omit<Order, "id">): Effect.Effect<Request.Request<Answer, WinError>, WinError> =>
      Effect.gen(function*() {
        const id = nextId
        nextId = (nextId + 1) & 0x3fffffff
        yield* orders.send({ ...o, id }, { dest: t }).pipe(Effect.mapError((e) => failure(operation, t, `the order could not reach rank ${t}: ${e.message}`, e)))
        // The answer waits in the matching engine until it is received here, however soon it comes.
        return yield* Request.fromEffect(
          answers.recv<Answer>({ source: t, tag: id }).pipe(
            Effect.mapError((e) => failure(operation, t, `rank ${t} did not answer: ${e.message}`, e))
          )
        )
      })

    /** Checks an operation's target and lands it: the byte offset and element count at the target. */
    const locate = (operation: string, t: number, target: Target | undefined, data: TypedArray): Landing | WinError => {
      if (t < 0 || t >= comm.size) return failure(operation, t, `target rank ${t} is not in the window's communicator of ${comm.size}`)
      if (!hasEpoch(t)) return failure(operation, t, `no access epoch to rank ${t} is open: call fence, lock, lockAll or start first`)
      const disp = typeof target === "object" ? target.disp : target ?? 0
      if (!Number.isSafeInteger(disp) || disp < 0) return failure(operation, t, `displacement ${disp} must be a non-negative integer`)
      const origin = Datatype.of(data).name
      const [bytes, unit] = sizes[t]!
      const at = disp * unit
      const type = typeof target === "object" ? target.datatype : undefined
      if (type !== undefined && typeof type === "object") {
        // A derived target layout: `count` items of it (default: as many as the origin's elements fill).
        if (!Datatype.isDerived(type)) return failure(operation, t, `the target datatype must be a datatype name or a derived datatype`)
        if (type.base === undefined) return failure(operation, t, `a target layout must hold one basic type; ${type.name} mixes several`)
        if (type.base.name !== origin) return failure(operation, t, `the origin holds ${origin} but the target layout ${type.name} holds ${type.base.name}`)
        const perItem = type.size / type.base.size
        const count = typeof target === "object" && target.count !== undefined ? target.count : perItem === 0 ? 0 : data.length / perItem
        if (!Number.isSafeInteger(count) || count < 0 || count * perItem !== data.length) {
          return failure(operation, t, `${typeof target === "object" && target.count !== undefined ? count : "whole"} items of ${type.name} (${perItem} ${origin} each) do not match the origin's ${data.length} elements`)
        }
        if (count > 0 && (at + type.trueLowerBound < 0 || at + (count - 1) * type.extent + type.trueUpperBound > bytes)) {
          return failure(operation, t, `displacement ${disp} (byte ${at}) and ${count} items of ${type.name} run past rank ${t}'s window of ${bytes} bytes`)
        }
        const pieces: Array<number> = []
        for (let i = 0; i < count; i++) {
          for (let j = 0; j < type.offsets.length; j++) pieces.push(at + i * type.extent + type.offsets[j]!, type.lengths[j]! / type.base.size)
        }
        return { dt: origin, n: data.length, pieces: pieces.length === 0 ? [at, 0] : pieces }
      }
      const dt = type ?? origin
      const n = typeof target === "object" && target.count !== undefined ? target.count : data.length
      if (dt !== origin) return failure(operation, t, `the origin holds ${origin} but the target datatype is ${dt}`)
      if (n !== data.length) return failure(operation, t, `the target count ${n} differs from the origin's ${data.length} elements`)
      const size = Datatype.byName(dt)!.size
      if (at + n * size > bytes) {
        return failure(operation, t, `displacement ${disp} (byte ${at}) and ${n} ${dt} run past rank ${t}'s window of ${bytes} bytes`)
      }
      return { dt, n, pieces: [at, n] }
    }

    const track = (t: number, r: Request.Request<unknown, WinError>) => {
      const list = pending.get(t)
      if (list === undefined) pending.set(t, [r])
      else list.push(r)
    }

    /** Starts an operation: its Request completes when the target applied it (with data for the fetching ones). */
    const start = (operation: string, t: number, target: Target | undefined, data: TypedArray, o: (where: Pick<Order, "dt" | "at" | "n" | "pieces">) => Omit<Order, "id">) =>
      Effect.gen(function*() {
        if (t === PROC_NULL) return Request.succeeded<Answer>({ ok: true })
        const where = locate(operation, t, target, data)
        if (where instanceof WinError) return yield* where
        const reply = yield* order(operation, t, o(placement(where)))
        track(t, reply as Request.Request<unknown, WinError>)
        return reply
      })

    const settle = (operation: string, t: number, reply: Request.Request<Answer, WinError>) =>
      Effect.flatMap(Request.wait(reply).pipe(Effect.mapError((e) => (e instanceof WinError ? e : failure(operation, t, String(e))))), (a) =>
        a.ok ? Effect.succeed(a) : Effect.fail(failure(operation, t, a.error)))

    /** `value` as a one-element array of the target's datatype: the target spec's, else the window's elements. */
    const element = (operation: string, t: number, target: Target, value: number | bigint) =>
      Effect.suspend(() => {
        const given = typeof target === "object" ? target.datatype : undefined
        if (typeof given === "object") {
          return Effect.fail(failure(operation, t, "fetchAndOp and compareAndSwap take one element of a basic datatype, not a derived layout"))
        }
        const name = given ?? (flavor === "dynamic" ? undefined : Datatype.of(base).name)
        if (name === undefined) return Effect.fail(failure(operation, t, "a dynamic window has no element type of its own: give the target as { disp, datatype }"))
        const d = Datatype.byName(name)
        if (d === undefined) return Effect.fail(failure(operation, t, `unknown datatype ${name}`))
        const one = new d.ctor(1)
        try {
          one[0] = value as never
        } catch (e) {
          return Effect.fail(failure(operation, t, `${String(value)} is not a ${name} element: ${e instanceof Error ? e.message : String(e)}`))
        }
        return Effect.succeed(one)
      })

    const into = (result: TypedArray) => (a: Answer) => {
      if (a.ok && a.data !== undefined) result.set(a.data as never)
    }

    const flush = (t: number) =>
      Effect.gen(function*() {
        const list = pending.get(t)
        if (list === undefined) return
        pending.delete(t)
        for (const r of list) {
          const a = yield* Request.wait(r).pipe(Effect.mapError((e) => (e instanceof WinError ? e : failure("flush", t, String(e)))))
          const answered = a as Answer
          if (!answered.ok) return yield* failure("flush", t, answered.error)
        }
      })
    const flushAll = Effect.suspend(() => Effect.forEach([...pending.keys()], flush, { discard: true }))

    const waitUntil = (ready: () => boolean): Effect.Effect<void> =>
      Effect.suspend(() => (ready() ? Effect.void : Effect.andThen(Deferred.await(changed), waitUntil(ready))))

    const lockOne = (t: number, shared: boolean) =>
      Effect.gen(function*() {
        if (t === PROC_NULL) return
        if (t < 0 || t >= comm.size) return yield* failure("lock", t, `target rank ${t} is not in the window's communicator of ${comm.size}`)
        if (locked.has(t)) return yield* failure("lock", t, `this rank already holds a lock on rank ${t}`)
        if (access !== undefined) {
          yield* access.lock(t, shared).pipe(Effect.mapError((why) => failure("lock", t, why.message, why.cause)))
          locked.set(t, shared)
          return
        }
        const reply = yield* order("lock", t, { k: "lock", shared })
        yield* settle("lock", t, reply)
        locked.set(t, shared)
      })
    const unlockOne = (t: number) =>
      Effect.gen(function*() {
        if (t === PROC_NULL) return
        if (!locked.has(t)) return yield* failure("unlock", t, `this rank holds no lock on rank ${t}`)
        if (access !== undefined) {
          // Operations on the direct path are complete when they return: nothing to flush.
          locked.delete(t)
          access.unlock(t)
          return
        }
        // The lock is released even when an operation of the epoch failed; that failure is reported after.
        const flushed = yield* Effect.exit(flush(t))
        const reply = yield* order("unlock", t, { k: "unlock" })
        locked.delete(t)
        yield* settle("unlock", t, reply)
        if (Exit.isFailure(flushed)) return yield* Effect.failCause(flushed.cause)
      })

    const notifyAll = (kind: "post" | "complete", group: ReadonlyArray<number>) =>
      Effect.forEach(group, (t) => orders.send({ k: kind, id: -1 } satisfies Order, { dest: t }).pipe(Effect.mapError((e) => failure(kind, t, String(e)))), { discard: true })

    const checkGroup = (operation: string, group: ReadonlyArray<number>) =>
      Array.isArray(group) && group.every((r) => Number.isInteger(r) && r >= 0 && r < comm.size)
        ? Effect.void
        : Effect.fail(failure(operation, -1, `a group is a list of ranks of the window's communicator (0..${comm.size - 1})`))

    const requestOf = <A>(effect: Effect.Effect<Request.Request<Answer, WinError>, WinError>, finish: (a: Answer) => A, operation: string, t: number) =>
      Effect.flatMap(Effect.result(effect), (r) =>
        r._tag === "Failure"
          ? Effect.succeed(Request.failed(r.failure) as Request.Request<A, WinError>)
          : Request.fromEffect(Effect.map(settle(operation, t, r.success), finish)))

    /** A buffer spec made into what an operation uses (`make`); a spec that is not a buffer fails the operation. */
    const bufferOf = <B>(operation: string, t: number, role: "origin" | "result", spec: TypedArray | BufferSpec, make: (spec: TypedArray | BufferSpec) => B) =>
      Effect.try({
        try: () => make(spec),
        catch: (e) => failure(operation, t, `the ${role} is not a buffer this window can use: ${e instanceof Error ? e.message : String(e)}`, e)
      })
    const withOrigin = <A>(operation: string, t: number, spec: TypedArray | BufferSpec, f: (origin: TypedArray) => Effect.Effect<A, WinError>) =>
      Effect.flatMap(bufferOf(operation, t, "origin", spec, originArray), f)
    const withResult = <A>(operation: string, t: number, spec: TypedArray | BufferSpec, f: (result: TypedArray, finish: () => void) => Effect.Effect<A, WinError>) =>
      Effect.flatMap(bufferOf(operation, t, "result", spec, resultArray), (r) => f(r.array, r.finish))
    /** The request forms: a buffer that cannot be used gives a failed Request, as any refused operation does. */
    const asRequest = <A>(effect: Effect.Effect<Request.Request<A, WinError>, WinError>): Effect.Effect<Request.Request<A, WinError>> =>
      Effect.catch(effect, (e) => Effect.succeed(Request.failed(e) as Request.Request<A, WinError>))

    const win: Win<T> = {
      comm,
      base,
      size: base.byteLength,
      dispUnit,
      flavor,
      put: (spec, t, target) =>
        withOrigin("put", t, spec, (origin) =>
          access !== undefined ? inMemory.put("put", origin, t, target) : Effect.asVoid(start("put", t, target, origin, (w) => ({ k: "put", ...w, data: origin.slice() })))),
      get: (spec, t, target) =>
        withResult("get", t, spec, (result, finish) =>
          access !== undefined
            ? Effect.map(inMemory.get("get", result, t, target), finish)
            : Effect.flatMap(start("get", t, target, result, (w) => ({ k: "get", ...w })), (r) => Effect.map(settle("get", t, r), (a) => {
                  into(result)(a)
                  finish()
                }))),
      // Put and accumulate complete locally at once (the origin is copied into the order); their
      // answers are awaited by the next flush, fence, unlock or complete.
      accumulate: (spec, t, target, op) =>
        withOrigin("accumulate", t, spec, (origin) =>
          access !== undefined
            ? inMemory.accumulate("accumulate", origin, undefined, t, target, op)
            : Effect.asVoid(start("accumulate", t, target, origin, (w) => ({ k: "acc", ...w, data: origin.slice(), op: op.name })))),
      getAccumulate: (spec, resultSpec, t, target, op) =>
        withOrigin("getAccumulate", t, spec, (origin) =>
          withResult("getAccumulate", t, resultSpec, (result, finish) =>
            access !== undefined
              ? Effect.map(inMemory.accumulate("getAccumulate", origin, result, t, target, op), finish)
              : Effect.flatMap(start("getAccumulate", t, target, origin, (w) => ({ k: "getacc", ...w, data: origin.slice(), op: op.name })), (r) =>
                Effect.map(settle("getAccumulate", t, r), (a) => {
                  into(result)(a)
                  finish()
                })))),
      fetchAndOp: (value, t, target, op) =>
        Effect.gen(function*() {
          if (t === PROC_NULL) return value
          const one = yield* element("fetchAndOp", t, target, value)
          if (access !== undefined) {
            const before = one.slice()
            yield* inMemory.accumulate("fetchAndOp", one, before, t, target, op)
            return before[0] as number | bigint
          }
          const a = yield* settle("fetchAndOp", t, yield* start("fetchAndOp", t, target, one, (w) => ({ k: "getacc", ...w, data: one, op: op.name })))
          return a.data![0] as number | bigint
        }),
      compareAndSwap: (value, compare, t, target) =>
        Effect.gen(function*() {
          if (t === PROC_NULL) return value
          const one = yield* element("compareAndSwap", t, target, value)
          const cmp = yield* element("compareAndSwap", t, target, compare)
          if (access !== undefined) return yield* inMemory.compareAndSwap(one, cmp, t, target)
          const a = yield* settle("compareAndSwap", t, yield* start("compareAndSwap", t, target, one, (w) => ({ k: "cas", ...w, data: one, cmp })))
          return a.data![0] as number | bigint
        }),
      rput: (spec, t, target) =>
        asRequest(withOrigin("rput", t, spec, (origin) =>
          access !== undefined
            ? done(inMemory.put("rput", origin, t, target))
            : requestOf(start("rput", t, target, origin, (w) => ({ k: "put", ...w, data: origin.slice() })), () => undefined, "rput", t))),
      rget: (spec, t, target) =>
        asRequest(withResult("rget", t, spec, (result, finish) =>
          access !== undefined
            ? done(Effect.map(inMemory.get("rget", result, t, target), finish))
            : requestOf(start("rget", t, target, result, (w) => ({ k: "get", ...w })), (a) => {
                  into(result)(a)
                  finish()
                }, "rget", t))),
      raccumulate: (spec, t, target, op) =>
        asRequest(withOrigin("raccumulate", t, spec, (origin) =>
          access !== undefined
            ? done(inMemory.accumulate("raccumulate", origin, undefined, t, target, op))
            : requestOf(start("raccumulate", t, target, origin, (w) => ({ k: "acc", ...w, data: origin.slice(), op: op.name })), () => undefined, "raccumulate", t))),
      rgetAccumulate: (spec, resultSpec, t, target, op) =>
        asRequest(withOrigin("rgetAccumulate", t, spec, (origin) =>
          withResult("rgetAccumulate", t, resultSpec, (result, finish) =>
            access !== undefined
              ? done(Effect.map(inMemory.accumulate("rgetAccumulate", origin, result, t, target, op), finish))
              : requestOf(start("rgetAccumulate", t, target, origin, (w) => ({ k: "getacc", ...w, data: origin.slice(), op: op.name })), (a) => {
                  into(result)(a)
                  finish()
                }, "rgetAccumulate", t)))),

      fence: (assert = 0) =>
        Effect.gen(function*() {
          yield* flushAll
          yield* answers.barrier().pipe(Effect.mapError((e) => failure("fence", -1, String(e), e)))
          fenceOpen = (assert & MODE_NOSUCCEED) === 0
        }),
      post: (group) =>
        Effect.gen(function*() {
          yield* checkGroup("post", group)
          exposure = group
          for (const r of group) completed.delete(r)
          yield* notifyAll("post", group)
        }),
      start: (group) =>
        Effect.gen(function*() {
          yield* checkGroup("start", group)
          yield* waitUntil(() => group.every((r) => posted.has(r)))
          for (const r of group) posted.delete(r)
          started = group
        }),
      complete: () =>
        Effect.gen(function*() {
          const group = started
          for (const t of group) yield* flush(t)
          started = []
          yield* notifyAll("complete", group)
        }),
      wait: () =>
        Effect.gen(function*() {
          const group = exposure
          yield* waitUntil(() => group.every((r) => completed.has(r)))
          for (const r of group) completed.delete(r)
          exposure = []
        }),
      test: () =>
        Effect.sync(() => {
          if (!exposure.every((r) => completed.has(r))) return false
          for (const r of exposure) completed.delete(r)
          exposure = []
          return true
        }),
      lock: (t, kind = "exclusive") => lockOne(t, kind === "shared"),
      unlock: unlockOne,
      lockAll: () =>
        Effect.gen(function*() {
          if (lockedAll) return yield* failure("lockAll", -1, "this rank already holds lockAll")
          for (let t = 0; t < comm.size; t++) yield* lockOne(t, true)
          lockedAll = true
        }),
      unlockAll: () =>
        Effect.gen(function*() {
          if (!lockedAll) return yield* failure("unlockAll", -1, "this rank holds no lockAll")
          for (let t = 0; t < comm.size; t++) yield* unlockOne(t)
          lockedAll = false
        }),
      flush,
      flushAll: () => flushAll,
      // An origin buffer is copied into the order when the operation starts: it is free at once.
      flushLocal: () => Effect.void,
      flushLocalAll: () => Effect.void,
      sync: () => Effect.void,
      // The unlock runs whatever the effect does, and its own failure (an operation the target
      // refused, found by the unlock's flush) is reported when the effect succeeded.
      withLock: (t, kind, effect) =>
        Effect.uninterruptibleMask((restore) =>
          Effect.gen(function*() {
            yield* lockOne(t, kind === "shared")
            const result = yield* Effect.exit(restore(effect))
            const unlocked = yield* Effect.exit(unlockOne(t))
            if (Exit.isFailure(result)) return yield* Effect.failCause(result.cause)
            if (Exit.isFailure(unlocked)) return yield* Effect.failCause(unlocked.cause)
            return result.value
          })
        ),
      epoch: (effect) => Effect.gen(function*() {
        yield* win.fence()
        const a = yield* effect
        yield* win.fence(MODE_NOSUCCEED)
        return a
      }),
      free: () =>
        Effect.gen(function*() {
          if (freed) return
          yield* flushAll
          yield* answers.barrier().pipe(Effect.mapError((e) => failure("free", -1, String(e), e)))
          freed = true
          access?.close()
          yield* Fiber.interrupt(fiber)
        })
    }

    /** An operation done at once on the direct path, as a settled Request. */
    const done = <A>(effect: Effect.Effect<A, WinError>): Effect.Effect<Request.Request<A, WinError>> =>
      Effect.map(Effect.result(effect), (r) => (r._tag === "Failure" ? Request.failed(r.failure) : Request.succeeded(r.success)))

    /** The direct path's operations (where every rank's memory is addressable): checked like any operation, then done by this rank. */
    const inMemory = (() => {
      /** The operation's elements in rank t's memory: one view per piece of the target layout. */
      const place = (operation: string, t: number, target: Target | undefined, data: TypedArray): Array<TypedArray> | WinError => {
        const where = locate(operation, t, target, data)
        if (where instanceof WinError) return where
        const gone = access!.goneReason(t)
        if (gone !== undefined) return failure(operation, t, `${gone.message}: its window can no longer be reached`, gone.cause)
        const part = access!.memories[t]!
        const d = Datatype.byName(where.dt)!
        const views: Array<TypedArray> = []
        for (let i = 0; i < where.pieces.length; i += 2) {
          const at = where.pieces[i]!
          const byte = part.byteOffset + at
          if (byte % d.size !== 0) return failure(operation, t, `byte ${at} of rank ${t}'s window is not aligned for ${where.dt}`)
          views.push(new d.ctor(part.buffer, byte, where.pieces[i + 1]!))
        }
        return views
      }
      /** `step` under rank t's accumulate mutex; a throw (an op that does not fit the datatype) is the operation's failure. */
      const atomically = <A>(operation: string, t: number, step: () => A): Effect.Effect<A, WinError> =>
        Effect.flatMap(
          Effect.try({ try: () => access!.atomically(t, step), catch: (e) => failure(operation, t, e instanceof Error ? e.message : String(e), e) }),
          (r) => (r.refused === undefined ? Effect.succeed(r.value as A) : Effect.fail(failure(operation, t, r.refused.message, r.refused.cause)))
        )
      return {
        put: (operation: string, origin: TypedArray, t: number, target: Target | undefined) =>
          Effect.suspend(() => {
            if (t === PROC_NULL) return Effect.void
            const views = place(operation, t, target, origin)
            if (views instanceof WinError) return Effect.fail(views)
            putInto(views, origin)
            return Effect.void
          }),
        get: (operation: string, result: TypedArray, t: number, target: Target | undefined) =>
          Effect.suspend(() => {
            if (t === PROC_NULL) return Effect.void
            const views = place(operation, t, target, result)
            if (views instanceof WinError) return Effect.fail(views)
            copyInto(views, result)
            return Effect.void
          }),
        /** accumulate (no `result`) or getAccumulate: the target's elements before go to `result`. */
        accumulate: (operation: string, origin: TypedArray, result: TypedArray | undefined, t: number, target: Target | undefined, op: Op.Op) =>
          Effect.suspend(() => {
            if (t === PROC_NULL) return Effect.void
            if (BUILTIN_OPS.get(op.name) !== op) return Effect.fail(failure(operation, t, `accumulate takes a built-in op, not ${op.name}`))
            const views = place(operation, t, target, origin)
            if (views instanceof WinError) return Effect.fail(views)
            if (result !== undefined && (Datatype.of(result) !== Datatype.of(origin) || result.length !== origin.length)) {
              return Effect.fail(failure(operation, t, `the result buffer must hold ${origin.length} ${Datatype.of(origin).name} like the origin`))
            }
            return atomically(operation, t, () => {
              if (result !== undefined) copyInto(views, result)
              combine(op, views, origin)
            })
          }),
        compareAndSwap: (one: TypedArray, cmp: TypedArray, t: number, target: Target) =>
          Effect.suspend(() => {
            const views = place("compareAndSwap", t, target, one)
            if (views instanceof WinError) return Effect.fail(views)
            const view = views[0]!
            return atomically("compareAndSwap", t, () => {
              const before = view[0] as number | bigint
              if (before === cmp[0]) view[0] = one[0] as never
              return before
            })
          })
      }
    })()

    return win
  })
