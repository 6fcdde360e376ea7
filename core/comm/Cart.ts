/**
 * Cartesian topologies (MPI_Cart_*): a communicator whose ranks form a grid
 * of `dims`, row-major (the last dimension varies fastest, as in MPI),
 * periodic where `periods` says so. The topology math is plain and pure
 * (`computeDims`, `coordsOf`, `rankOf`, `shift`, `neighbors`); the
 * `CartComm` wraps it as Effects, and adds `sub` and the neighbour
 * collectives.
 *
 * @example
 * ```ts
 * const dims = yield* Comm.computeDims(world.size, [0, 0])   // e.g. [4, 2] for 8 ranks
 * const grid = Option.getOrThrow(yield* world.createCart(dims, [true, false]))
 * const { source, dest } = yield* grid.shift(0, 1)           // up and down neighbours
 * const halo = yield* grid.sendrecv(lastRow, { dest, source })
 * const rows = yield* grid.sub([false, true])                 // my row of the grid
 * ```
 */
import { Effect, Option, Result } from "effect"
import type { Comm } from "./Comm.ts"
import type { CommState } from "./CommState.ts"
import * as Neighbor from "../collectives/neighbor.ts"
import type { Build, CreateError } from "./communicators.ts"
import * as Contexts from "./contexts.ts"
import { InvalidArgument, InvalidRank } from "../errors.ts"
import { PROC_NULL } from "../messaging/Matching.ts"

/** A grid's shape: its extent and whether it wraps around, per dimension. */
export interface Cart {
  readonly dims: ReadonlyArray<number>
  readonly periods: ReadonlyArray<boolean>
}

/**
 * The neighbours of a rank along one dimension (MPI_Cart_shift): either may be `PROC_NULL`.
 *
 * @example
 * ```ts
 * const { source, dest }: Comm.Shift = yield* grid.shift(0, 1)   // PROC_NULL at the edges of a non-periodic grid
 * yield* grid.sendrecv(edge, { dest, source })
 * ```
 */
export interface Shift {
  /** The rank `disp` steps back: the one this rank receives from in a shift. */
  readonly source: number
  /** The rank `disp` steps ahead: the one this rank sends to in a shift. */
  readonly dest: number
}

/**
 * A communicator with a Cartesian topology.
 *
 * @example
 * ```ts
 * const grid: Comm.CartComm = Option.getOrThrow(yield* world.createCart([2, 2], [true, false]))
 * const [row, col] = grid.coords
 * ```
 */
export interface CartComm extends Comm, Neighbor.NeighborCollectives {
  /** Extent of each dimension. */
  readonly dims: ReadonlyArray<number>
  /** Whether each dimension wraps around. */
  readonly periods: ReadonlyArray<boolean>
  /** Number of dimensions. */
  readonly ndims: number
  /** This rank's coordinates (MPI_Cart_coords of its own rank). */
  readonly coords: ReadonlyArray<number>
  /** The rank at `coords` (MPI_Cart_rank); periodic dimensions wrap, others must be in range. */
  rankOf(coords: ReadonlyArray<number>): Effect.Effect<number, InvalidArgument>
  /** The coordinates of `rank` (MPI_Cart_coords). */
  coordsOf(rank: number): Effect.Effect<Array<number>, InvalidRank>
  /**
   * The ranks `disp` steps back (`source`) and ahead (`dest`) along
   * `direction` (MPI_Cart_shift); `PROC_NULL` past a non-periodic edge.
   *
   * @example
   * ```ts
   * const { source, dest } = yield* grid.shift(0, 1)
   * const fromAbove = yield* grid.sendrecv(myLastRow, { dest, source })   // undefined at the top edge
   * ```
   */
  shift(direction: number, disp?: number): Effect.Effect<Shift, InvalidArgument>
  /**
   * The sub-grid through this rank that keeps the dimensions where
   * `remainDims` is true (MPI_Cart_sub): e.g. `[false, true]` on a 2-D grid
   * gives this rank's row. Collective.
   */
  sub(remainDims: ReadonlyArray<boolean>): Effect.Effect<CartComm, CreateError>
  /** A duplicate with the same topology and a message space of its own. Collective. */
  dup(): Effect.Effect<CartComm, CreateError>
}

// ---------------------------------------------------------------------------
// Topology math

const invalid = (argument: string, message: string) => new InvalidArgument({ argument, message })

const isIntegerAtLeast = (x: unknown, min: number): x is number => typeof x === "number" && Number.isInteger(x) && x >= min

/** Number of ranks in the grid. */
export const cellCount = (cart: Cart): number => cart.dims.reduce((n, d) => n * d, 1)

/** Checks a grid's shape for a communicator of `size` ranks (MPI_Cart_create's rules). */
export const topology = (dims: ReadonlyArray<number>, periods: ReadonlyArray<boolean>, size: number): Result.Result<Cart, InvalidArgument> => {
  if (!Array.isArray(dims)) return Result.fail(invalid("dims", "createCart: dims must be an array of positive integers (see Comm.computeDims)"))
  for (let d = 0; d < dims.length; d++) {
    if (!isIntegerAtLeast(dims[d], 1)) {
      return Result.fail(invalid("dims", `createCart: dims[${d}] is ${String(dims[d])}; each extent is a positive integer (fill zeros with Comm.computeDims first)`))
    }
  }
  if (!Array.isArray(periods) || periods.length !== dims.length || periods.some((p) => typeof p !== "boolean")) {
    return Result.fail(invalid("periods", `createCart: periods must be ${dims.length} booleans, one per dimension`))
  }
  const cells = dims.reduce((n, d) => n * d, 1)
  if (cells > size) {
    return Result.fail(invalid("dims", `createCart: a grid of ${dims.join("×")} needs ${cells} ranks but the communicator has ${size}`))
  }
  return Result.succeed({ dims: dims.slice(), periods: periods.slice() })
}

/** The coordinates of grid rank `rank` (row-major; `rank` is assumed in range). */
export const coordsOf = (cart: Cart, rank: number): Array<number> => {
  const coords = new Array<number>(cart.dims.length)
  let rest = rank
  for (let d = cart.dims.length - 1; d >= 0; d--) {
    const extent = cart.dims[d]!
    coords[d] = rest % extent
    rest = Math.floor(rest / extent)
  }
  return coords
}

const wrap = (x: number, extent: number): number => ((x % extent) + extent) % extent

/** The grid rank at `coords`: periodic dimensions wrap around, others must be in range. */
export const rankOf = (cart: Cart, coords: ReadonlyArray<number>): Result.Result<number, InvalidArgument> => {
  const { dims, periods } = cart
  if (!Array.isArray(coords) || coords.length !== dims.length) {
    return Result.fail(invalid("coords", `rankOf: coords must be ${dims.length} integers, one per dimension`))
  }
  let rank = 0
  for (let d = 0; d < dims.length; d++) {
    const x = coords[d]!
    const extent = dims[d]!
    if (!Number.isInteger(x)) return Result.fail(invalid("coords", `rankOf: coords[${d}] is ${String(x)}; coordinates are integers`))
    if (!periods[d] && (x < 0 || x >= extent)) {
      return Result.fail(invalid("coords", `rankOf: coordinate ${x} is outside dimension ${d} (0..${extent - 1}), which is not periodic`))
    }
    rank = rank * extent + wrap(x, extent)
  }
  return Result.succeed(rank)
}

/** The ranks `disp` steps back and ahead of `rank` along `direction`; PROC_NULL past a non-periodic edge. */
export const shift = (cart: Cart, rank: number, direction: number, disp: number): Result.Result<Shift, InvalidArgument> => {
  const { dims, periods } = cart
  if (!isIntegerAtLeast(direction, 0) || direction >= dims.length) {
    return Result.fail(invalid("direction", `shift: direction ${String(direction)} is not a dimension of this ${dims.length}-D grid (0..${dims.length - 1})`))
  }
  if (!Number.isInteger(disp)) return Result.fail(invalid("disp", `shift: disp is ${String(disp)}; a displacement is an integer`))
  const coords = coordsOf(cart, rank)
  const at = (offset: number): number => {
    const moved = coords.slice()
    const x = coords[direction]! + offset
    const extent = dims[direction]!
    if (!periods[direction] && (x < 0 || x >= extent)) return PROC_NULL
    moved[direction] = wrap(x, extent)
    return Result.getOrThrow(rankOf(cart, moved))
  }
  return Result.succeed({ source: at(-disp), dest: at(disp) })
}

/** The neighbours of `rank` in MPI's order: for each dimension, the -1 neighbour then the +1 neighbour. */
export const neighbors = (cart: Cart, rank: number): Array<number> =>
  cart.dims.flatMap((_, d) => {
    const { source, dest } = Result.getOrThrow(shift(cart, rank, d, 1))
    return [source, dest]
  })

/**
 * Largest-first balanced factorization of `m` into `k` factors no larger
 * than `cap`: the lexicographically smallest non-increasing one, so the
 * largest factor is as small as it can be, then the next, and so on.
 */
const balanced = (m: number, k: number, cap: number): Array<number> | undefined => {
  if (k === 0) return m === 1 ? [] : undefined
  if (k === 1) return m <= cap ? [m] : undefined
  const small: Array<number> = []
  const large: Array<number> = []
  for (let f = 1; f * f <= m; f++) {
    if (m % f !== 0) continue
    small.push(f)
    if (f * f !== m) large.unshift(m / f)
  }
  for (const f of [...small, ...large]) {
    if (f > cap) break
    if (f ** k < m) continue
    const rest = balanced(m / f, k - 1, f)
    if (rest !== undefined) return [f, ...rest]
  }
  return undefined
}

/**
 * Balanced grid dimensions for `n` ranks (MPI_Dims_create): `dims` is the
 * number of dimensions, or an array whose non-zero entries are kept and
 * whose zeros are filled with extents as close to each other as possible,
 * in non-increasing order. Fails when the fixed extents do not divide `n`.
 */
export const computeDims = (n: number, dims: number | ReadonlyArray<number>): Result.Result<Array<number>, InvalidArgument> => {
  if (!isIntegerAtLeast(n, 1)) return Result.fail(invalid("n", `computeDims: n is ${String(n)}; the number of ranks is a positive integer`))
  if (typeof dims === "number" && !isIntegerAtLeast(dims, 0)) {
    return Result.fail(invalid("dims", `computeDims: ${dims} dimensions; the number of dimensions is a non-negative integer`))
  }
  const given = typeof dims === "number" ? new Array<number>(dims).fill(0) : dims
  if (!Array.isArray(given)) return Result.fail(invalid("dims", "computeDims: dims is a number of dimensions or an array of extents (0 = choose)"))
  let fixed = 1
  for (let d = 0; d < given.length; d++) {
    const x = given[d]
    if (!isIntegerAtLeast(x, 0)) return Result.fail(invalid("dims", `computeDims: dims[${d}] is ${String(x)}; extents are non-negative integers (0 = choose)`))
    if (x > 0) fixed *= x
  }
  const free = given.filter((x) => x === 0).length
  if (n % fixed !== 0 || (free === 0 && fixed !== n)) {
    const shown = `[${given.join(", ")}]`
    return Result.fail(invalid("dims", free === 0
      ? `computeDims: the extents ${shown} make a grid of ${fixed} ranks, not ${n}`
      : `computeDims: ${n} ranks do not fill a grid with the fixed extents ${shown} (their product ${fixed} does not divide ${n})`))
  }
  const chosen = balanced(n / fixed, free, n)!
  let next = 0
  return Result.succeed(given.map((x) => (x === 0 ? chosen[next++]! : x)))
}

// ---------------------------------------------------------------------------
// The Cartesian communicator

const fromResult = <A>(r: Result.Result<A, InvalidArgument>): Effect.Effect<A, InvalidArgument> => Effect.fromResult(r)

/** The sub-grid of `cart` keeping the dimensions where `remain` is true. */
const keep = (cart: Cart, remain: ReadonlyArray<boolean>): Cart => ({
  dims: cart.dims.filter((_, d) => remain[d]),
  periods: cart.periods.filter((_, d) => remain[d])
})

const checkRemain = (cart: Cart, remain: ReadonlyArray<boolean>): InvalidArgument | undefined =>
  Array.isArray(remain) && remain.length === cart.dims.length && remain.every((r) => typeof r === "boolean")
    ? undefined
    : invalid("remainDims", `sub: remainDims must be ${cart.dims.length} booleans, one per dimension (true keeps it)`)

/** The Cartesian communicator of `cart` over state `c` (every member of `c` is a grid cell). */
export const make = (c: CommState, cart: Cart, build: Build): CartComm => {
  const coords = coordsOf(cart, c.rank)
  const self: CartComm = {
    ...build(c),
    ...Neighbor.make(c, neighbors(cart, c.rank)),
    dims: cart.dims,
    periods: cart.periods,
    ndims: cart.dims.length,
    coords,
    rankOf: (at) => fromResult(rankOf(cart, at)),
    coordsOf: (rank) =>
      Number.isInteger(rank) && rank >= 0 && rank < c.size
        ? Effect.succeed(coordsOf(cart, rank))
        : Effect.fail(new InvalidRank({ rank, size: c.size, message: `coordsOf: ${String(rank)} is not a rank of this grid of ${c.size} (0..${c.size - 1})` })),
    shift: (direction, disp = 1) => fromResult(shift(cart, c.rank, direction, disp)),
    sub: (remain) =>
      Effect.suspend(() => {
        const bad = checkRemain(cart, remain)
        if (bad !== undefined) return Effect.fail(bad)
        // Ranks sharing the dropped coordinates form one sub-grid; ordered by rank, they are row-major in the kept ones.
        const dropped = cart.dims.reduce((color, extent, d) => (remain[d] ? color : color * extent + coords[d]!), 0)
        return Effect.map(Contexts.split(c, dropped, c.rank), (s) => make(Option.getOrThrow(s), keep(cart, remain), build))
      }),
    dup: () => Effect.map(Contexts.derive(c, c.group), (s) => make(Option.getOrThrow(s), cart, build))
  }
  return self
}
