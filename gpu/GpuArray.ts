/**
 * Arrays in GPU memory: a dtype, a length, and a storage buffer from the
 * device's pool. `subarray` makes a view that shares the buffer. An array
 * is released when the Scope it was made in closes (or, made outside any
 * Scope, when the device's scope closes), or earlier by `release`; its
 * buffer then returns to the pool.
 *
 * GPU arrays are device arrays for communication: pass one to `send`,
 * `recvInto`, `bcast`, `reduce`, `allreduce`, `gather` or `allgather` and
 * the data moves in chunks between GPUs, reductions running on the GPU.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Gpu, GpuArray } from "rankflow/gpu"
 *
 * const program = Effect.gen(function* () {
 *   const gpu = yield* Gpu.Device
 *   const x = yield* gpu.array(Float32Array.of(1, 2, 3, 4))
 *   const tail = x.subarray(2)                 // a view of [3, 4]
 *   const host = yield* GpuArray.toHost(tail)  // Float32Array [3, 4]
 *   yield* GpuArray.release(x)
 * }).pipe(Effect.provide(Gpu.layer()))
 * ```
 */
import type { Effect } from "effect"
import type { InvalidArgument } from "../core/errors.ts"
import { DeviceArrayTypeId, type DeviceArray } from "../core/comm/DeviceArray.ts"
import { hooks } from "./Communication.ts"
import * as Dtypes from "./Dtype.ts"
import type { Dtype, HostArray } from "./Dtype.ts"
import type { GpuDeviceLost, GpuError, GpuFailure } from "./errors.ts"
import * as Arrays from "./internal/arrays.ts"
import type { DeviceState } from "./internal/DeviceState.ts"
import type { Allocation } from "./internal/Allocation.ts"

/**
 * An array in GPU memory, made by the device (`gpu.array`, `gpu.zeros`, …)
 * or returned by kernels and GPU-aware collectives.
 *
 * @example
 * ```ts
 * const x = yield* gpu.array(Float32Array.of(1, 2, 3))
 * x.dtype       // "f32"
 * x.length      // 3
 * ```
 */
export class GpuArray implements DeviceArray<GpuFailure | InvalidArgument> {
  readonly [DeviceArrayTypeId] = hooks
  /** @internal */ readonly state: DeviceState
  readonly dtype: Dtype
  readonly length: number
  /** First element within the buffer (views). */
  readonly offset: number
  /** @internal */ readonly allocation: Allocation
  /** True for a view made by `subarray`. */
  readonly isView: boolean
  /** @internal Arrays are made by the device (`gpu.array`, `gpu.zeros`, …) and by kernels. */
  constructor(state: DeviceState, dtype: Dtype, length: number, offset: number, allocation: Allocation, isView = false) {
    this.state = state
    this.dtype = dtype
    this.length = length
    this.offset = offset
    this.allocation = allocation
    this.isView = isView
  }

  /** Bytes per element. */
  get bytesPerElement(): number {
    return Dtypes.bytes(this.dtype)
  }

  /**
   * A view of elements `begin` to `end` (exclusive) sharing this array's
   * memory, with TypedArray.subarray's rules (negative indices count from
   * the end, out-of-range ones are clamped).
   */
  subarray(begin = 0, end = this.length): GpuArray {
    const clamp = (i: number) => Math.min(this.length, Math.max(0, i < 0 ? this.length + i : Math.trunc(i)))
    const b = clamp(begin)
    const e = Math.max(b, clamp(end))
    return new GpuArray(this.state, this.dtype, e - b, this.offset + b, this.allocation, true)
  }

  toString(): string {
    return `GpuArray<${this.dtype}>[${this.length}]`
  }
}

/**
 * True for a GPU array.
 *
 * @example
 * ```ts
 * if (GpuArray.isGpuArray(value)) yield* GpuArray.release(value)
 * ```
 */
export const isGpuArray = (u: unknown): u is GpuArray => u instanceof GpuArray

/**
 * Downloads the array to a new host typed array (through the staging ring,
 * in chunks).
 *
 * @example
 * ```ts
 * const host = yield* GpuArray.toHost(y)   // Float32Array
 * ```
 */
export const toHost = (x: GpuArray): Effect.Effect<HostArray, GpuDeviceLost | GpuError> => Arrays.toHost(x)

/**
 * Writes host data into the array from element `at` (same dtype).
 *
 * @example
 * ```ts
 * yield* GpuArray.fromHost(x, Float32Array.of(5, 6), 2)   // x[2] = 5, x[3] = 6
 * ```
 */
export const fromHost = (x: GpuArray, data: HostArray, at = 0) => Arrays.upload(x, data, at)

/**
 * Returns the array's buffer to the pool now (views of it become unusable).
 * Releasing twice does nothing.
 *
 * @example
 * ```ts
 * yield* GpuArray.release(tmp)
 * ```
 */
export const release = (x: GpuArray): Effect.Effect<void> => Arrays.releaseEffect(x)
