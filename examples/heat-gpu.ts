// The 2-D heat equation of examples/heat.ts with each rank's block on its
// GPU: the 5-point stencil runs there, the halo rows travel between ranks
// as GPU arrays (send/recvInto of row views), and the largest change comes
// from a GPU reduction. In f32 instead of heat.ts's f64, so the plate agrees
// with heat.ts within 1e-3° (the tests check it), on any number of ranks.
// Run: npx rankflow run -n 4 examples/heat-gpu.ts
import { Effect } from "effect"
import { Comm, Op, Rank } from "rankflow"
import { Gpu, GpuArray, Kernels } from "rankflow/gpu"

const ROWS = 24
const COLS = 32
const TOP = 100
const TOLERANCE = 0.1
const MAX_SWEEPS = 400

Rank.main(Effect.gen(function*() {
  const world = yield* Comm.World
  const gpu = yield* Gpu.Device
  // Rows are split between ranks; each block has a halo row above and below and a wall column at each side.
  const r0 = Math.floor((world.rank * ROWS) / world.size)
  const rows = Math.floor(((world.rank + 1) * ROWS) / world.size) - r0
  const width = COLS + 2
  const up = world.rank > 0 ? world.rank - 1 : Comm.PROC_NULL
  const down = world.rank < world.size - 1 ? world.rank + 1 : Comm.PROC_NULL

  const start = new Float32Array((rows + 2) * width)
  if (r0 === 0) start.fill(TOP, 1, COLS + 1)                 // the plate's top edge
  let u = yield* gpu.array(start)
  let next = yield* gpu.copy(u)
  const change = yield* gpu.empty("f32", u.length)
  const row = (a: GpuArray.GpuArray, i: number) => a.subarray(i * width, (i + 1) * width)

  // Built at each sweep (suspend): u changes place with next after every sweep.
  const exchangeHalos = Effect.suspend(() => Effect.all([
    world.send(row(u, 1), { dest: up, tag: 0 }),
    world.send(row(u, rows), { dest: down, tag: 1 }),
    world.recvInto(row(u, rows + 1), { source: down, tag: 0 }),
    world.recvInto(row(u, 0), { source: up, tag: 1 })
  ], { concurrency: "unbounded" }))

  let sweeps = 0
  let largest = Infinity
  while (largest > TOLERANCE && sweeps < MAX_SWEEPS) {
    yield* exchangeHalos
    yield* Kernels.stencil(u, { rows: rows + 2, cols: width, out: next })   // edges (halos, walls) stay fixed
    yield* Kernels.map("abs(a - b)", [next, u], { out: change })
    largest = yield* world.allreduce(yield* Kernels.max(change), Op.MAX)
    ;[u, next] = [next, u]
    sweeps++
  }

  const local = yield* GpuArray.toHost(u)
  const interior = Float64Array.from({ length: rows * COLS }, (_, k) => local[(Math.floor(k / COLS) + 1) * width + (k % COLS) + 1]!)
  const blocks = yield* world.gather({ r0, rows, interior }, { root: 0 })
  if (world.rank !== 0) return undefined
  const plate = new Float64Array(ROWS * COLS)
  for (const b of blocks!) plate.set(b.interior, b.r0 * COLS)
  yield* Effect.log(`${sweeps} sweeps on ${world.size} GPU${world.size > 1 ? "s" : ""}: last change ${largest.toExponential(2)}, centre ${plate[(ROWS / 2) * COLS + COLS / 2]!.toFixed(4)}°`)
  return { sweeps, change: largest, plate }
}).pipe(Effect.provide(Gpu.layer())))
