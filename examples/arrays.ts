// Typed arrays take the buffer path: no encoding, the datatype travels in the
// header (mpi4py tutorial, second example).
// Run: npx rankflow run -n 2 examples/arrays.ts
import { Effect } from "effect"
import { Comm, Rank } from "rankflow"

Rank.main(Effect.gen(function*() {
  const world = yield* Comm.World

  // Passing the datatype and count explicitly.
  if (world.rank === 0) {
    const data = Int32Array.from({ length: 1000 }, (_, i) => i)
    yield* world.send([data, "int32", 1000], { dest: 1, tag: 77 })
  } else if (world.rank === 1) {
    const data = new Int32Array(1000)
    const status = yield* world.recvInto([data, "int32"], { source: 0, tag: 77 })
    yield* Effect.log(`received ${status.count} int32 from rank ${status.source}: ${data[0]}, ${data[1]}, …, ${data[999]}`)
  }

  // Automatic datatype discovery.
  if (world.rank === 0) {
    const data = Float64Array.from({ length: 100 }, (_, i) => i)
    yield* world.send(data, { dest: 1, tag: 13 })
  } else if (world.rank === 1) {
    const data = new Float64Array(100)
    const status = yield* world.recvInto(data, { source: 0, tag: 13 })
    yield* Effect.log(`received ${status.count} ${status.datatype}: sum ${data.reduce((a, b) => a + b, 0)}`)
    return data.reduce((a, b) => a + b, 0)
  }
}))
