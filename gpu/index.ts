/**
 * rankflow's GPU layer (`rankflow/gpu`): a WebGPU device per rank, GPU
 * arrays, WGSL kernels with a pipeline cache, built-in kernels, and
 * GPU-aware communication (GPU arrays passed to `send`, `bcast`,
 * `allreduce`, …).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Comm, Op, Rank } from "rankflow"
 * import { Gpu, Kernels } from "rankflow/gpu"
 *
 * Rank.main(Effect.gen(function* () {
 *   const world = yield* Comm.World
 *   const gpu = yield* Gpu.Device
 *   const x = yield* gpu.array(Float32Array.from({ length: 1024 }, (_, i) => i))
 *   const y = yield* gpu.zeros("f32", 1024)
 *   yield* Kernels.axpy(2, x, y)
 *   const total = yield* world.allreduce(y, Op.SUM)
 *   yield* Effect.log(yield* Kernels.sum(total))
 * }).pipe(Effect.provide(Gpu.layer())))
 * ```
 */
export * as Dtype from "./Dtype.ts"
export * as Gpu from "./Gpu.ts"
export * as GpuArray from "./GpuArray.ts"
export * as Kernel from "./Kernel.ts"
export * as Kernels from "./Kernels.ts"
export { GpuDeviceLost, GpuError, GpuUnavailable, KernelError, type GpuFailure } from "./errors.ts"
