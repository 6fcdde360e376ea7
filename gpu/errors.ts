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

/** No WebGPU adapter could be had: which were found, which drivers were looked for, what to install. */
export class GpuUnavailable extends Data.TaggedError("GpuUnavailable")<{
  /** Descriptions of the adapters that were found (none matched, or none could give a device). */
  readonly adapters: ReadonlyArray<string>
  /** Vulkan driver manifests (ICD files) that were looked for, and whether each exists. */
  readonly drivers: ReadonlyArray<string>
  readonly message: string
}> {}

/** The device was lost (driver reset, out of memory at the driver, destroyed); arrays on it are gone. */
export class GpuDeviceLost extends Data.TaggedError("GpuDeviceLost")<{
  readonly reason: string
  readonly message: string
}> {}

/** The device refused an operation: out of memory, a limit exceeded, or a validation error. */
export class GpuError extends Data.TaggedError("GpuError")<{
  /** What was being done (`allocate`, `dispatch matmul`, `download`, …). */
  readonly operation: string
  readonly message: string
}> {}

/** A kernel that does not compile, or is given the wrong bindings or uniforms. */
export class KernelError extends Data.TaggedError("KernelError")<{
  readonly kernel: string
  readonly message: string
}> {}

/** Every error of the GPU layer. */
export type GpuFailure = GpuDeviceLost | GpuError | KernelError
