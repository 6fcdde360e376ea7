/**
 * Rank programs of the GPU benchmark: GPU-aware allreduce of a GPU array
 * against what a user would write without it (download, allreduce of the
 * host array, upload), timed on every rank; rank 0 reports the slowest rank.
 */
import { Effect } from "effect"
import { Comm, Op, wtime } from "rankflow"
import { Gpu, GpuArray } from "rankflow/gpu"

export const allreduce = (n: number, reps: number) =>
  Effect.gen(function*() {
    const world = yield* Comm.World
    const gpu = yield* Gpu.Device
    const x = yield* gpu.array(Float32Array.from({ length: n }, (_, i) => (i + world.rank) % 17))
    const time = (f: Effect.Effect<unknown, unknown>) =>
      Effect.gen(function*() {
        yield* f // warm-up: pipelines compiled, buffers pooled
        yield* world.barrier()
        const t0 = yield* wtime()
        for (let i = 0; i < reps; i++) yield* Effect.scoped(f)
        yield* gpu.idle()
        const mine = ((yield* wtime()) - t0) / reps
        return yield* world.allreduce(mine, Op.MAX)
      })
    const aware = yield* time(world.allreduce(x, Op.SUM))
    const staged = yield* time(Effect.gen(function*() {
      const host = (yield* GpuArray.toHost(x)) as Float32Array
      const sum = yield* world.allreduce(host, Op.SUM)
      return yield* gpu.array(sum)
    }))
    return world.rank === 0 ? { aware, staged } : undefined
  }).pipe(Effect.provide(Gpu.layer()))
