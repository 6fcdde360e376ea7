/**
 * Rank programs of the I/O benchmark: a ROWS×COLS array of doubles in a 2-D
 * block decomposition, written to one file three ways and read back two; rank 0
 * returns the milliseconds of each (the slowest rank's, from open to close).
 */
import { Effect, Option } from "effect"
import { Comm, File, Op } from "rankflow"
import { Datatype } from "rankflow/codecs"
import { open } from "node:fs/promises"

const block = (n: number, p: number, i: number) => [Math.floor((i * n) / p), Math.floor(((i + 1) * n) / p)] as const

export const write = (path: string, rows: number, cols: number, repeats: number) =>
  Effect.gen(function*() {
    const world = yield* Comm.World
    const dims = yield* Comm.computeDims(world.size, [0, 0])
    const grid = Option.getOrThrow(yield* world.createCart(dims, [false, false]))
    const [r0, r1] = block(rows, dims[0]!, grid.coords[0]!)
    const [c0, c1] = block(cols, dims[1]!, grid.coords[1]!)
    const mine = Float64Array.from({ length: (r1 - r0) * (c1 - c0) }, (_, k) => (r0 + Math.floor(k / (c1 - c0))) * cols + c0 + (k % (c1 - c0)))
    const time = (run: Effect.Effect<unknown, unknown>) =>
      Effect.gen(function*() {
        let best = Infinity
        for (let i = 0; i < repeats; i++) {
          yield* grid.barrier()
          const t = performance.now()
          yield* run
          const slowest = yield* grid.allreduce(performance.now() - t, Op.MAX)
          best = Math.min(best, slowest)
        }
        return best
      })

    // rankflow's File: each rank's block through a subarray view, one collective write.
    const viaFile = yield* time(Effect.scoped(Effect.gen(function*() {
      const file = yield* File.open(grid, path, "w", { create: true })
      yield* file.setView(0, "float64", Datatype.subarray([rows, cols], [r1 - r0, c1 - c0], [r0, c0], "float64"))
      yield* file.writeAtAll(0, mine)
      yield* file.close()
    })))

    // Every rank writes its rows with its own fs calls.
    const ownCalls = yield* time(Effect.promise(async () => {
      const fh = await open(path, "r+")
      const width = c1 - c0
      for (let r = 0; r < r1 - r0; r++) {
        await fh.write(mine, r * width * 8, width * 8, ((r0 + r) * cols + c0) * 8)
      }
      await fh.close()
    }))

    // Rank 0 gathers every block, assembles the array and writes it in one call.
    const gathered = yield* time(Effect.gen(function*() {
      const blocks = yield* grid.gather({ r0, c0, rows: r1 - r0, cols: c1 - c0, data: mine }, { root: 0 })
      if (grid.rank !== 0) return
      const all = new Float64Array(rows * cols)
      for (const b of blocks!) for (let r = 0; r < b.rows; r++) all.set(b.data.subarray(r * b.cols, (r + 1) * b.cols), (b.r0 + r) * cols + b.c0)
      yield* Effect.promise(async () => {
        const fh = await open(path, "r+")
        await fh.write(all, 0, all.byteLength, 0)
        await fh.close()
      })
    }))

    // Reading the blocks back: rankflow's collective read through the view, against each rank's own reads of its rows.
    const back = new Float64Array(mine.length)
    const readViaFile = yield* time(Effect.scoped(Effect.gen(function*() {
      const file = yield* File.open(grid, path, "r")
      yield* file.setView(0, "float64", Datatype.subarray([rows, cols], [r1 - r0, c1 - c0], [r0, c0], "float64"))
      yield* file.readAtAll(0, back)
      yield* file.close()
    })))
    if (!back.every((x, i) => x === mine[i])) return yield* Effect.die(new Error("readAtAll did not give this rank's block"))
    const readOwnCalls = yield* time(Effect.promise(async () => {
      const fh = await open(path, "r")
      const width = c1 - c0
      for (let r = 0; r < r1 - r0; r++) await fh.read(back, r * width * 8, width * 8, ((r0 + r) * cols + c0) * 8)
      await fh.close()
    }))

    // Check: the file holds the array (rank 0, after the last method).
    if (grid.rank === 0) {
      const fh = yield* Effect.promise(() => open(path, "r"))
      const back = new Float64Array(rows * cols)
      yield* Effect.promise(() => fh.read(back, 0, back.byteLength, 0))
      yield* Effect.promise(() => fh.close())
      if (!back.every((x, i) => x === i)) return yield* Effect.die(new Error("the file does not hold the array"))
    }
    return { viaFile, ownCalls, gathered, readViaFile, readOwnCalls, dims }
  })
