// y = a·x + y on each rank's GPU, then the sum of y, also on the GPU.
// Every rank (thread or process) gets its own device from Gpu.layer();
// without a GPU, Mesa's lavapipe runs the same kernels on the CPU.
// Run: npx rankflow run -n 2 examples/gpu-axpy.ts
import { Effect } from "effect"
import { Comm, Rank } from "rankflow"
import { Gpu, Kernels } from "rankflow/gpu"

const N = 1_000_000

Rank.main(Effect.gen(function*() {
  const world = yield* Comm.World
  const gpu = yield* Gpu.Device
  const x = yield* gpu.array(Float32Array.from({ length: N }, (_, i) => i % 10))  // 0, 1, …, 9, 0, 1, …
  const y = yield* gpu.fill("f32", N, world.rank)
  yield* Kernels.axpy(2, x, y)                                                     // y = 2x + y
  const total = yield* Kernels.sum(y)
  yield* Effect.log(`rank ${world.rank} on ${gpu.adapter.description}: sum(2x + y) = ${total}`)
  return total
}).pipe(Effect.provide(Gpu.layer())))
