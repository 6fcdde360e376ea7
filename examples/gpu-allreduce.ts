// GPU-aware allreduce: each rank passes a GPU array and gets a GPU array
// back. The data moves between the GPUs in chunks, and the received chunks
// are added on the GPU; nothing is reduced on the host.
// Run: npx rankflow run -n 4 examples/gpu-allreduce.ts
import { Effect } from "effect"
import { Comm, Op, Rank } from "rankflow"
import { Gpu, GpuArray, Kernels } from "rankflow/gpu"

const N = 1 << 20

Rank.main(Effect.gen(function*() {
  const world = yield* Comm.World
  const gpu = yield* Gpu.Device
  const mine = yield* gpu.fill("f32", N, world.rank + 1)      // rank r contributes r + 1 everywhere
  const total = yield* world.allreduce(mine, Op.SUM)          // a GPU array on every rank
  const first = (yield* GpuArray.toHost(total.subarray(0, 4))).join(", ")
  const sum = yield* Kernels.sum(total)
  yield* Effect.log(`rank ${world.rank}: total starts ${first}; sum over ${N} elements = ${sum}`)
  return sum
}).pipe(Effect.provide(Gpu.layer())))
