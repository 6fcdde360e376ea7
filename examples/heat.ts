// The 2-D heat equation by Jacobi iteration on a Cartesian grid of ranks.
// The plate's top edge is held at 100°, the other edges at 0°; each rank owns
// a block of the plate plus a one-cell halo that it refreshes from its four
// neighbours every sweep (shift + sendrecv, or with --neighbor one
// neighborAlltoall). Every cell is computed with the same operations in the
// same order on any number of ranks, so the result is the same to the bit.
// With --checkpoint FILE, the ranks write the plate into FILE together: each
// its own block, through a subarray view, in one collective write.
// Run: npx rankflow run -n 4 examples/heat.ts [--neighbor] [--checkpoint FILE]
import { Effect, Option } from "effect"
import { Comm, File, Op, Rank } from "rankflow"
import { Datatype } from "rankflow/codecs"

const ROWS = 24
const COLS = 32
const TOP = 100
const TOLERANCE = 0.1
const MAX_SWEEPS = 400

/** The part of 0..n-1 that block i of p owns: [start, end). */
const block = (n: number, p: number, i: number) => [Math.floor((i * n) / p), Math.floor(((i + 1) * n) / p)] as const

Rank.main(Effect.gen(function*() {
  const world = yield* Comm.World
  const useNeighborCollective = process.argv.includes("--neighbor")

  const dims = yield* Comm.computeDims(world.size, [0, 0])
  const grid = Option.getOrThrow(yield* world.createCart(dims, [false, false]))
  const [r0, r1] = block(ROWS, dims[0]!, grid.coords[0]!)
  const [c0, c1] = block(COLS, dims[1]!, grid.coords[1]!)
  const rows = r1 - r0
  const cols = c1 - c0
  const width = cols + 2
  const at = (i: number, j: number) => i * width + j

  // Local block with its halo; a halo at the plate's edge holds the boundary temperature.
  let u = new Float64Array((rows + 2) * width)
  if (r0 === 0) u.fill(TOP, at(0, 1), at(0, cols + 1))
  let next = u.slice()

  const { source: up, dest: down } = yield* grid.shift(0, 1)
  const { source: left, dest: right } = yield* grid.shift(1, 1)
  const row = (i: number) => u.slice(at(i, 1), at(i, cols + 1))
  const column = (j: number) => Float64Array.from({ length: rows }, (_, i) => u[at(i + 1, j)]!)
  // A halo facing PROC_NULL (the plate's edge) gets undefined and keeps the boundary temperature.
  const setRow = (i: number, values: Float64Array | undefined) => {
    if (values !== undefined) u.set(values, at(i, 1))
  }
  const setColumn = (j: number, values: Float64Array | undefined) => {
    if (values !== undefined) values.forEach((v, i) => (u[at(i + 1, j)] = v))
  }

  const exchangeHalos = Effect.gen(function*() {
    if (useNeighborCollective) {
      // Neighbour order: up, down, left, right; each gets the edge that faces it.
      const [fromUp, fromDown, fromLeft, fromRight] = yield* grid.neighborAlltoall([row(1), row(rows), column(1), column(cols)])
      setRow(0, fromUp)
      setRow(rows + 1, fromDown)
      setColumn(0, fromLeft)
      setColumn(cols + 1, fromRight)
      return
    }
    setRow(0, yield* grid.sendrecv<Float64Array>(row(rows), { dest: down, source: up, tag: 0 }))
    setRow(rows + 1, yield* grid.sendrecv<Float64Array>(row(1), { dest: up, source: down, tag: 1 }))
    setColumn(0, yield* grid.sendrecv<Float64Array>(column(cols), { dest: right, source: left, tag: 2 }))
    setColumn(cols + 1, yield* grid.sendrecv<Float64Array>(column(1), { dest: left, source: right, tag: 3 }))
  })

  let sweeps = 0
  let change = Infinity
  while (change > TOLERANCE && sweeps < MAX_SWEEPS) {
    yield* exchangeHalos
    let local = 0
    for (let i = 1; i <= rows; i++) {
      for (let j = 1; j <= cols; j++) {
        const v = 0.25 * (u[at(i - 1, j)]! + u[at(i + 1, j)]! + u[at(i, j - 1)]! + u[at(i, j + 1)]!)
        local = Math.max(local, Math.abs(v - u[at(i, j)]!))
        next[at(i, j)] = v
      }
    }
    ;[u, next] = [next, u]
    change = yield* grid.allreduce(local, Op.MAX)
    sweeps++
  }

  const checkpoint = process.argv.indexOf("--checkpoint")
  if (checkpoint > 0) {
    // The plate as a ROWS×COLS array of doubles in the file; this rank's block straight from its haloed grid.
    const path = process.argv[checkpoint + 1]!
    const file = yield* File.open(grid, path, "w", { create: true })
    yield* file.setSize(0)
    yield* file.setView(0, "float64", Datatype.subarray([ROWS, COLS], [rows, cols], [r0, c0], "float64"))
    yield* file.writeAtAll(0, [u, Datatype.subarray([rows + 2, width], [rows, cols], [1, 1], "float64"), 1])
    yield* file.close()
    if (grid.rank === 0) yield* Effect.log(`checkpoint: the ${ROWS}×${COLS} plate written to ${path}`)
  }

  // Rank 0 assembles the plate from every rank's block.
  const interior = Float64Array.from({ length: rows * cols }, (_, k) => u[at(Math.floor(k / cols) + 1, (k % cols) + 1)]!)
  const blocks = yield* grid.gather({ r0, c0, rows, cols, interior }, { root: 0 })
  if (grid.rank !== 0) return undefined
  const plate = new Float64Array(ROWS * COLS)
  for (const b of blocks!) {
    for (let i = 0; i < b.rows; i++) plate.set(b.interior.subarray(i * b.cols, (i + 1) * b.cols), (b.r0 + i) * COLS + b.c0)
  }
  const center = plate[(ROWS / 2) * COLS + COLS / 2]!
  yield* Effect.log(`${sweeps} sweeps on a ${dims.join("×")} grid of ranks (${useNeighborCollective ? "neighborAlltoall" : "shift + sendrecv"}): last change ${change.toExponential(2)}, centre ${center.toFixed(6)}°`)
  return { sweeps, change, plate }
}))
