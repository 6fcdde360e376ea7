// Each rank writes its block of a global 2-D array into one file, through a
// subarray view, with one collective write; rank 0 then reads the whole file
// back and checks it (mpi4py's MPI.File with Set_view and Write_at_all).
// Run: npx rankflow run -n 4 examples/parallel-write.ts [file]
import { Effect } from "effect"
import { Comm, File, Rank } from "rankflow"
import { Datatype } from "rankflow/codecs"
import { tmpdir } from "node:os"
import { join } from "node:path"

Rank.main(Effect.gen(function*() {
  const world = yield* Comm.World
  // Rank 0 names a fresh file unless one is given; every rank must use the same path.
  const path = process.argv[2] ?? (yield* world.bcast(join(tmpdir(), `parallel-write-${process.pid}-${Date.now()}.bin`), { root: 0 }))
  const rows = 6
  const columns = 4 * world.size

  // This rank's 6×4 block: columns 4·rank .. 4·rank+3 of the global array, value row·1000 + column.
  const block = Float64Array.from({ length: rows * 4 }, (_, i) => Math.floor(i / 4) * 1000 + 4 * world.rank + (i % 4))
  const view = Datatype.subarray([rows, columns], [rows, 4], [0, 4 * world.rank], "float64")

  const file = yield* File.open(world, path, "w", { create: true })
  yield* file.setSize(0)
  yield* file.setView(0, "float64", view)
  yield* file.writeAtAll(0, block)
  yield* file.close()

  // Every rank opens it again (open is collective); rank 0 reads the whole array back.
  const check = yield* File.open(world, path, "r", { deleteOnClose: true })
  const all = new Float64Array(rows * columns)
  if (world.rank === 0) yield* check.readAt(0, all)
  yield* check.close()
  if (world.rank !== 0) return true
  const ok = all.every((x, i) => x === Math.floor(i / columns) * 1000 + (i % columns))
  yield* Effect.log(`rank 0 read ${all.length} doubles: ${ok ? "every block in its place" : "WRONG"}`)
  return ok
}))
