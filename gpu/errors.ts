/**
 * The GPU layer's errors. Each message says what was wrong and what to do.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Gpu } from "rankflow/gpu"
 *
 * const program = Effect.gen(function* () {
 *   const gpu = yield* Gpu.Device
 *   yield* Effect.log(gpu.adapter.description)
 * }).pipe(
 *   Effect.provide(Gpu.layer()),
 *   Effect.catchTag("GpuUnavailable", (e) => Effect.log(e.message))
 * )
 * ```
 */
import { Data } from "effect"

/**
 * No WebGPU adapter could be had: which were found, which drivers were looked for, what to install.
 *
 * @example
 * ```ts
 * program.pipe(Effect.provide(Gpu.layer()), Effect.catchTag("GpuUnavailable", (e) => Effect.logWarning(e.message)))
 * ```
 */
export class GpuUnavailable extends Data.TaggedError("GpuUnavailable")<{
  /** Descriptions of the adapters that were found (none matched, or none could give a device). */
  readonly adapters: ReadonlyArray<string>
  /** Vulkan driver manifests (ICD files) that were looked for, and whether each exists. */
  readonly drivers: ReadonlyArray<string>
  readonly message: string
}> {}

/**
 * The device was lost (driver reset, out of memory at the driver, destroyed); arrays on it are gone.
 *
 * @example
 * ```ts
 * yield* Kernels.axpy(2, x, y).pipe(Effect.catchTag("GpuDeviceLost", (e) => Effect.logError(e.message)))
 * ```
 */
export class GpuDeviceLost extends Data.TaggedError("GpuDeviceLost")<{
  readonly reason: string
  readonly message: string
}> {}

/**
 * The device refused an operation: out of memory, a limit exceeded, or a validation error.
 *
 * @example
 * ```ts
 * yield* gpu.empty("f32", 1 << 30).pipe(Effect.catchTag("GpuError", (e) => Effect.logError(e.message)))
 * ```
 */
export class GpuError extends Data.TaggedError("GpuError")<{
  /** What was being done (`allocate`, `dispatch matmul`, `download`, …). */
  readonly operation: string
  readonly message: string
}> {}

/**
 * A kernel that does not compile, or is given the wrong bindings or uniforms.
 *
 * @example
 * ```ts
 * yield* Kernel.run(broken, { y }).pipe(Effect.catchTag("KernelError", (e) => Effect.logError(e.message)))   // the WGSL compiler's message
 * ```
 */
export class KernelError extends Data.TaggedError("KernelError")<{
  readonly kernel: string
  readonly message: string
}> {}

/**
 * Every error of the GPU layer.
 *
 * @example
 * ```ts
 * const run: Effect.Effect<void, GpuFailure> = Kernels.axpy(2, x, y)
 * ```
 */
export type GpuFailure = GpuDeviceLost | GpuError | KernelError
