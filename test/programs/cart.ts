/**
 * Rank programs for the Cartesian topology suite (test/core/cart.test.ts):
 * grids over a world of any size, their math seen from every rank, sub-grids,
 * and the neighbour collectives. Each checks its rules on every rank.
 */
import { Effect, Option } from "effect"
import { Comm, Op, PROC_NULL, Request } from "rankflow"
import { check, checkEqual } from "./check.ts"

const ranks = (n: number) => Array.from({ length: n }, (_, i) => i)
const product = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a * b, 1)

const failure = <E>(effect: Effect.Effect<unknown, E>) =>
  Effect.flatMap(Effect.result(effect), (r) =>
    r._tag === "Failure"
      ? Effect.succeed(r.failure as E & { _tag: string; message: string })
      : Effect.fail(new Error("expected the call to fail, but it succeeded")))

/** Row-major coordinates, computed independently of the library. */
const coordsIn = (dims: ReadonlyArray<number>, rank: number) =>
  dims.map((_, d) => Math.floor(rank / product(dims.slice(d + 1))) % dims[d]!)

/** The expected neighbour `offset` steps along `d`, from first principles. */
const neighborOf = (dims: ReadonlyArray<number>, periods: ReadonlyArray<boolean>, rank: number, d: number, offset: number) => {
  const coords = coordsIn(dims, rank)
  const x = coords[d]! + offset
  if (!periods[d] && (x < 0 || x >= dims[d]!)) return PROC_NULL
  coords[d] = ((x % dims[d]!) + dims[d]!) % dims[d]!
  return coords.reduce((r, c, k) => r * dims[k]! + c, 0)
}

/** The grids each world size is checked on: balanced ones from computeDims, and ones with degenerate dimensions. */
const gridsFor = (size: number): ReadonlyArray<readonly [ReadonlyArray<number>, ReadonlyArray<boolean>]> => [
  [[size], [false]],
  [[size], [true]],
  size >= 2 ? [[Math.floor(size / 2), 2], [true, false]] : [[1], [true]],
  [[1, size, 1], [true, true, false]],
  size === 8 ? [[2, 2, 2], [false, true, true]] : [[1, 1, size], [false, true, true]]
]

/**
 * On each grid: ranks beyond it get none; coords, rankOf and coordsOf agree
 * with row-major order for every rank; shift gives the expected neighbours
 * (PROC_NULL past non-periodic edges) for displacements -2..2; and
 * point-to-point and collectives work on the grid.
 */
export const gridMath = Effect.gen(function*() {
  const world = yield* Comm.World
  const { rank, size } = world
  const grids = [...gridsFor(size), [yield* Comm.computeDims(size, 2), [false, false]] as const]
  for (const [dims, periods] of grids) {
    const cells = product(dims)
    const made = yield* world.createCart(dims, periods)
    yield* checkEqual(Option.isSome(made), rank < cells, `rank ${rank} on a ${dims.join("×")} grid`)
    if (Option.isNone(made)) continue
    const cart = made.value
    const what = `${dims.join("×")} periods ${periods.join(",")}`
    yield* checkEqual([cart.dims, cart.periods, cart.ndims, cart.size, cart.rank], [dims, periods, dims.length, cells, rank], `${what}: shape`)
    yield* checkEqual(cart.coords, coordsIn(dims, rank), `${what}: coords`)
    for (const r of ranks(cells)) {
      const coords = yield* cart.coordsOf(r)
      yield* checkEqual(coords, coordsIn(dims, r), `${what}: coordsOf(${r})`)
      yield* checkEqual(yield* cart.rankOf(coords), r, `${what}: rankOf(coordsOf(${r}))`)
    }
    for (let d = 0; d < dims.length; d++) {
      for (const disp of [-2, -1, 0, 1, 2]) {
        const expected = { source: neighborOf(dims, periods, rank, d, -disp), dest: neighborOf(dims, periods, rank, d, disp) }
        yield* checkEqual(yield* cart.shift(d, disp), expected, `${what}: shift(${d}, ${disp})`)
      }
      yield* checkEqual(yield* cart.shift(d), yield* cart.shift(d, 1), `${what}: shift's default displacement is 1`)
      // Periodic dimensions wrap in rankOf too.
      if (periods[d]) {
        const beyond = cart.coords.map((x, k) => (k === d ? x + dims[d]! : x))
        yield* checkEqual(yield* cart.rankOf(beyond), rank, `${what}: rankOf wraps dimension ${d}`)
      }
      // A shift by sendrecv moves every rank's number one step along d.
      const { source, dest } = yield* cart.shift(d, 1)
      const got = yield* cart.sendrecv(rank, { dest, source, tag: d })
      yield* checkEqual(got, source === PROC_NULL ? undefined : source, `${what}: sendrecv along ${d}`)
    }
    yield* checkEqual(yield* cart.allreduce(1, Op.SUM), cells, `${what}: allreduce on the grid`)
    const dup = yield* cart.dup()
    yield* checkEqual([dup.dims, dup.coords, Comm.compare(dup, cart)], [cart.dims, cart.coords, Comm.CONGRUENT], `${what}: a dup keeps the topology`)
  }
  return rank
})

/**
 * sub keeps the chosen dimensions: the sub-grid through this rank, with the
 * kept extents and periods, ranked row-major in the kept coordinates.
 */
export const subGrids = Effect.gen(function*() {
  const world = yield* Comm.World
  const { rank, size } = world
  const dims = yield* Comm.computeDims(size, 3)
  const periods = [true, false, true]
  const cart = Option.getOrThrow(yield* world.createCart(dims, periods))
  const coords = cart.coords
  for (const remain of [[true, false, false], [false, true, true], [true, false, true], [false, false, false], [true, true, true]]) {
    const sub = yield* cart.sub(remain)
    const keptDims = dims.filter((_, d) => remain[d])
    const what = `sub(${remain.join(",")}) of ${dims.join("×")}`
    yield* checkEqual([sub.dims, sub.periods, sub.size], [keptDims, periods.filter((_, d) => remain[d]), product(keptDims)], `${what}: shape`)
    yield* checkEqual(sub.coords, coords.filter((_, d) => remain[d]), `${what}: coords are the kept ones`)
    // Its members are the world ranks that share the dropped coordinates, in rank order.
    const members = ranks(size).filter((r) => coordsIn(dims, r).every((x, d) => remain[d] || x === coords[d]))
    yield* checkEqual(sub.group.members, members, `${what}: members`)
    yield* checkEqual(yield* sub.allgather(rank), members, `${what}: allgather`)
    if (sub.ndims > 0) {
      const { source, dest } = yield* sub.shift(0, 1)
      yield* checkEqual(yield* sub.sendrecv(rank, { dest, source }), source === PROC_NULL ? undefined : members[source], `${what}: shift on the sub-grid`)
    }
  }
})

/** The neighbours of `rank` in MPI's order, from first principles. */
const expectedNeighbors = (dims: ReadonlyArray<number>, periods: ReadonlyArray<boolean>, rank: number) =>
  dims.flatMap((_, d) => [neighborOf(dims, periods, rank, d, -1), neighborOf(dims, periods, rank, d, 1)])

/**
 * Neighbour collectives on each grid, blocking and non-blocking, values and
 * buffers: block 2d comes from the -1 neighbour and holds what it sent to
 * its +1 side (block 2d+1 of its input), and the reverse; PROC_NULL gives
 * undefined or leaves the block alone. Where one rank is both neighbours
 * (periodic extents 1 and 2) the directions still come out right.
 */
export const neighborCollectives = Effect.gen(function*() {
  const world = yield* Comm.World
  const { rank, size } = world
  for (const [dims, periods] of gridsFor(size)) {
    const made = yield* world.createCart(dims, periods)
    if (Option.isNone(made)) continue
    const cart = made.value
    const what = `${dims.join("×")} periods ${periods.join(",")}`
    const k = 2 * dims.length
    const nbrs = expectedNeighbors(dims, periods, rank)
    const from = (i: number, f: (n: number) => unknown) => (nbrs[i] === PROC_NULL ? undefined : f(nbrs[i]!))
    // Allgather: every neighbour's value.
    yield* checkEqual(yield* cart.neighborAllgather({ r: rank }), ranks(k).map((i) => from(i, (n) => ({ r: n }))), `${what}: neighborAllgather`)
    const gatheredInto = new Int32Array(2 * k).fill(-1)
    yield* cart.neighborAllgather(Int32Array.of(rank, rank * 10), { into: gatheredInto })
    yield* checkEqual(Array.from(gatheredInto), ranks(k).flatMap((i) => (nbrs[i] === PROC_NULL ? [-1, -1] : [nbrs[i]!, nbrs[i]! * 10])), `${what}: neighborAllgather of buffers`)
    // Alltoall: block i goes to neighbour i and lands in block i^1 there.
    const label = (sender: number, block: number) => `${sender}:${block}`
    const got = yield* cart.neighborAlltoall(ranks(k).map((i) => label(rank, i)))
    yield* checkEqual(got, ranks(k).map((i) => from(i, (n) => label(n, i ^ 1))), `${what}: neighborAlltoall`)
    const blocks = Float64Array.from({ length: 3 * k }, (_, j) => rank * 100 + Math.floor(j / 3))
    const out = yield* cart.neighborAlltoall(blocks)
    yield* checkEqual(
      Array.from(out),
      ranks(k).flatMap((i) => (nbrs[i] === PROC_NULL ? [0, 0, 0] : new Array(3).fill(nbrs[i]! * 100 + (i ^ 1)))),
      `${what}: neighborAlltoall of buffers`
    )
    // Non-blocking forms, two in flight, waited in reverse.
    const a = yield* cart.ineighborAlltoall(ranks(k).map((i) => label(rank, i)))
    const b = yield* cart.ineighborAllgather(rank)
    yield* checkEqual(yield* Request.wait(b), ranks(k).map((i) => from(i, (n) => n)), `${what}: ineighborAllgather`)
    yield* checkEqual(yield* Request.wait(a), ranks(k).map((i) => from(i, (n) => label(n, i ^ 1))), `${what}: ineighborAlltoall`)
  }
  // A 0-dimensional grid is one rank, with no neighbours.
  const point = yield* world.createCart([], [])
  yield* checkEqual(Option.isSome(point), rank === 0, "a 0-D grid holds rank 0 only")
  if (Option.isSome(point)) {
    yield* checkEqual(yield* point.value.neighborAllgather(1), [], "a 0-D grid has no neighbours")
    yield* checkEqual((yield* point.value.neighborAlltoall(new Int8Array(0))).length, 0, "a 0-D grid: empty buffer")
  }
})

/** Bad arguments fail with typed errors that say what is wrong, before any message. */
export const invalidArguments = Effect.gen(function*() {
  const world = yield* Comm.World
  const size = world.size
  const errors: Array<readonly [string, Effect.Effect<unknown, unknown>, string]> = [
    ["too many cells", world.createCart([size + 1]), "needs"],
    ["a zero extent", world.createCart([0, size]), "positive"],
    ["periods of the wrong length", world.createCart([size], [true, true]), "periods"],
    ["computeDims: fixed extents that do not divide", Comm.computeDims(7, [0, 3, 0]), "divide"],
    ["computeDims: a negative extent", Comm.computeDims(6, [-1, 0]), "non-negative"],
    ["computeDims: no free extents and the wrong product", Comm.computeDims(6, [2, 2]), "grid of 4"]
  ]
  const cart = Option.getOrThrow(yield* world.createCart([size, 1], [false, true]))
  errors.push(
    ["shift in a missing dimension", cart.shift(2, 1), "direction"],
    ["rankOf beyond a non-periodic edge", cart.rankOf([size, 0]), "not periodic"],
    ["rankOf with too few coordinates", cart.rankOf([0]), "coords"],
    ["coordsOf a rank beyond the grid", cart.coordsOf(size), "not a rank"],
    ["sub with the wrong number of flags", cart.sub([true]), "remainDims"],
    ["neighborAlltoall with the wrong number of values", cart.neighborAlltoall([1, 2, 3]), "values"],
    ["neighborAlltoall of a buffer that does not split", cart.neighborAlltoall(new Int32Array(5)), "equal blocks"],
    ["neighborAllgather into the wrong type", cart.neighborAllgather(new Int32Array(1), { into: new Float64Array(4) }), "Float64Array"]
  )
  for (const [what, call, says] of errors) {
    const error = yield* failure(call)
    yield* check(["InvalidArgument", "InvalidRank", "DatatypeMismatch"].includes(error._tag) && error.message.includes(says), `${what}: ${error._tag}: ${error.message}`)
  }
  yield* checkEqual(yield* cart.neighborAllgather(world.rank), [world.rank === 0 ? undefined : world.rank - 1, world.rank === size - 1 ? undefined : world.rank + 1, world.rank, world.rank], "the grid works after the failed calls")
})
