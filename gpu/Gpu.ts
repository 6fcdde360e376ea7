/**
 * The GPU device of a rank, as a scoped service. `Gpu.layer()` acquires a
 * WebGPU adapter and device (Dawn through the `webgpu` package in Node, the
 * browser's `navigator.gpu` where there is one) with explicit limits, and
 * releases everything when its scope closes, so that rank processes exit.
 * Every rank (worker thread or process) gets its own device.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Gpu, Kernels } from "rankflow/gpu"
 *
 * const program = Effect.gen(function* () {
 *   const gpu = yield* Gpu.Device
 *   const x = yield* gpu.array(Float32Array.of(1, 2, 3))
 *   const y = yield* gpu.fill("f32", 3, 1)
 *   yield* Kernels.axpy(2, x, y)            // y = 2x + y
 *   return yield* gpu.toHost(y)             // Float32Array [3, 5, 7]
 * }).pipe(Effect.provide(Gpu.layer()))
 * ```
 */
import * as DeviceMemory from "../core/observe/deviceMemory.ts"
import { Context, Effect, Layer } from "effect"
import { type StageRunner, StageDevices } from "../core/comm/DeviceArray.ts"
import { InvalidArgument } from "../core/errors.ts"
import * as Dtypes from "./Dtype.ts"
import type { Dtype, HostArray, HostOf } from "./Dtype.ts"
import { GpuDeviceLost, GpuError, GpuUnavailable } from "./errors.ts"
import { GpuArray as GpuArrayClass, type GpuArray } from "./GpuArray.ts"
import * as Adapter from "./internal/adapter.ts"
import * as Arrays from "./internal/arrays.ts"
import { DeviceState } from "./internal/DeviceState.ts"

/**
 * How `Gpu.layer` picks and opens a device: an adapter by name, a power preference, a backend.
 *
 * @example
 * ```ts
 * program.pipe(Effect.provide(Gpu.layer({ powerPreference: "high-performance" })))
 * ```
 */
export interface LayerOptions {
  /** A substring of the adapter's name to pick (`llvmpipe` for lavapipe, `NVIDIA`, …). */
  readonly adapter?: string
  readonly powerPreference?: GPUPowerPreference
  /** Dawn's backend in Node (`vulkan`, `metal`, `d3d12`). */
  readonly backend?: string
}

/**
 * What the device reports about itself.
 *
 * @example
 * ```ts
 * const { vendor, architecture } = (yield* Gpu.Device).adapter
 * ```
 */
export interface AdapterInfo {
  readonly vendor: string
  readonly architecture: string
  readonly device: string
  readonly description: string
}

/**
 * The limits rankflow requested (the adapter's maxima).
 *
 * @example
 * ```ts
 * const { maxBufferSize } = (yield* Gpu.Device).limits
 * ```
 */
export interface Limits {
  readonly maxStorageBufferBindingSize: number
  readonly maxBufferSize: number
  readonly maxComputeWorkgroupsPerDimension: number
  readonly maxComputeInvocationsPerWorkgroup: number
  readonly maxComputeWorkgroupStorageSize: number
}

/**
 * Counters of the device's memory and queue.
 *
 * @example
 * ```ts
 * const { liveBytes, submits, pipelines } = (yield* Gpu.Device).stats()
 * ```
 */
export interface Stats {
  /** Bytes of buffers held by live arrays. */
  readonly liveBytes: number
  /** Bytes of released buffers kept for reuse. */
  readonly pooledBytes: number
  /** Storage buffers created so far (reuse keeps this flat). */
  readonly buffersCreated: number
  readonly submits: number
  /** Compiled pipelines in the cache. */
  readonly pipelines: number
}

type Failure = GpuDeviceLost | GpuError | InvalidArgument

/**
 * A rank's GPU device.
 *
 * @example
 * ```ts
 * const gpu: Gpu.GpuDevice = yield* Gpu.Device
 * const x = yield* gpu.fill("f32", 1024, 1)
 * yield* gpu.idle()
 * ```
 */
export interface GpuDevice {
  readonly adapter: AdapterInfo
  readonly limits: Limits
  readonly features: ReadonlySet<string>
  /** The dtypes this device supports (`f16` only with `shader-f16`). */
  readonly dtypes: ReadonlyArray<Dtype>
  /** A GPU array holding a copy of `data` (its dtype from the host array's type). */
  array<T extends HostArray>(data: T): Effect.Effect<GpuArray, Failure>
  /** A GPU array of `length` elements whose contents are unspecified (fastest). */
  empty(dtype: Dtype, length: number): Effect.Effect<GpuArray, Failure>
  /** A GPU array of zeros. */
  zeros(dtype: Dtype, length: number): Effect.Effect<GpuArray, Failure>
  /** A GPU array with every element `value`. */
  fill(dtype: Dtype, length: number, value: number): Effect.Effect<GpuArray, Failure>
  /** A new GPU array with the contents of `x` (a copy on the device). */
  copy(x: GpuArray): Effect.Effect<GpuArray, Failure>
  /** Downloads `x` to a new host array (chunks through a ring of staging buffers). */
  toHost<D extends Dtype>(x: GpuArray & { readonly dtype: D }): Effect.Effect<HostOf<D>, GpuDeviceLost | GpuError>
  /** Writes host data into `x` from element `at`. */
  fromHost(x: GpuArray, data: HostArray, at?: number): Effect.Effect<void, Failure>
  /** Submits the commands recorded so far (kernels are batched; downloads and transfers submit on their own). */
  flush(): Effect.Effect<void, GpuDeviceLost | GpuError>
  /** Waits until the GPU has finished everything submitted (for timing). */
  idle(): Effect.Effect<void, GpuDeviceLost | GpuError>
  stats(): Stats
  /** The underlying WebGPU device, for what rankflow does not cover. */
  readonly raw: GPUDevice
}

/**
 * The service of this rank's GPU device; provide it with `Gpu.layer()`.
 *
 * @example
 * ```ts
 * const gpu = yield* Gpu.Device
 * yield* Effect.log(`${gpu.adapter.description}: ${gpu.limits.maxStorageBufferBindingSize} bytes per binding`)
 * ```
 */
export class Device extends Context.Service<Device, GpuDevice>()("rankflow/gpu/Device") {}

// The GPU objects of live devices: Dawn crashes if one is collected while a device made from it lives.
const reachable = new Set<unknown>()

const acquire = (options: LayerOptions) =>
  Effect.tryPromise({
    try: async () => {
      const entry = await Adapter.createGpu(options)
      const adapter = await Adapter.requestAdapter(entry, options)
      if (adapter instanceof GpuUnavailable) throw adapter
      const a = adapter.limits
      const requiredLimits = {
        maxStorageBufferBindingSize: a.maxStorageBufferBindingSize,
        maxBufferSize: a.maxBufferSize,
        maxComputeWorkgroupsPerDimension: a.maxComputeWorkgroupsPerDimension,
        maxComputeInvocationsPerWorkgroup: a.maxComputeInvocationsPerWorkgroup,
        maxComputeWorkgroupStorageSize: a.maxComputeWorkgroupStorageSize,
        maxComputeWorkgroupSizeX: a.maxComputeWorkgroupSizeX
      }
      const requiredFeatures: Array<GPUFeatureName> = adapter.features.has("shader-f16") ? ["shader-f16"] : []
      let device: GPUDevice
      try {
        device = await adapter.requestDevice({ requiredLimits, requiredFeatures })
      } catch (e) {
        throw new GpuUnavailable({
          adapters: [Adapter.describe(adapter)],
          drivers: [],
          message: `the adapter ${Adapter.describe(adapter)} gave no device: ${e instanceof Error ? e.message : String(e)}`
        })
      }
      reachable.add(entry.gpu)
      return { entry, adapter, device, state: new DeviceState(device, new Set(device.features as unknown as Iterable<string>), Adapter.isSoftware(adapter)) }
    },
    catch: (e) =>
      e instanceof GpuUnavailable
        ? e
        : new GpuUnavailable({ adapters: [], drivers: [], message: `WebGPU could not start: ${e instanceof Error ? e.message : String(e)}` })
  })

const make = (adapter: GPUAdapter, state: DeviceState): GpuDevice => {
  const info = adapter.info
  const l = state.device.limits
  const array = (data: HostArray) =>
    Effect.gen(function*() {
      const dtype = Dtypes.of(data)
      if (dtype === undefined) return yield* Effect.fail(new GpuError({ operation: "array", message: `array: ${(data as object).constructor.name} has no GPU dtype; use Float32Array, Int32Array, Uint32Array or Float16Array` }))
      const x = yield* Arrays.empty(state, dtype, data.length)
      yield* Arrays.upload(x, data)
      return x
    })
  const empty = (dtype: Dtype, length: number) => Arrays.empty(state, dtype, length)
  const zeros = (dtype: Dtype, length: number) =>
    Effect.tap(Arrays.empty(state, dtype, length), (x) =>
      Arrays.sync(state, "zeros", () => {
        const bytes = (x.length * x.bytesPerElement + 3) & ~3
        if (bytes > 0) {
          state.recorder().clearBuffer(x.allocation.buffer, 0, bytes)
          state.recorded()
        }
      }))
  return {
    adapter: { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description || Adapter.describe(adapter) },
    limits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize
    },
    features: state.features,
    dtypes: Dtypes.all.filter((d) => d !== "f16" || state.features.has("shader-f16")),
    array,
    empty,
    zeros,
    fill: (dtype, length, value) => {
      const host = new (Dtypes.ctor(dtype))(length)
      host.fill(value)
      return array(host)
    },
    copy: (x) =>
      Effect.suspend(() => {
        const bad = Arrays.live(x, "copy")
        if (bad !== undefined) return Effect.fail(bad)
        return Effect.tap(Arrays.empty(state, x.dtype, x.length), (y) => Arrays.sync(state, "copy", () => Arrays.copyInto(x, 0, y, 0, x.length)))
      }),
    toHost: (x) => Arrays.toHost(x) as never,
    fromHost: (x, data, at) => Arrays.upload(x, data, at),
    flush: () => Arrays.sync(state, "flush", () => state.flush()),
    idle: () => Arrays.promise(state, "idle", () => state.idle()),
    stats: () => ({
      liveBytes: state.pool.liveBytes,
      pooledBytes: state.pool.pooledBytes,
      buffersCreated: state.pool.created,
      submits: state.submits,
      pipelines: state.pipelines.size
    }),
    raw: state.device
  }
}

/**
 * Provides `Gpu.Device`: acquires an adapter and a device for this rank and
 * releases them (buffers, device, the WebGPU instance) when the scope closes.
 * Fails with `GpuUnavailable`, naming the adapters found and the drivers
 * looked for, when there is no usable adapter.
 *
 * @example
 * ```ts
 * Rank.main(program.pipe(Effect.provide(Gpu.layer())))
 * Gpu.layer({ adapter: "llvmpipe" })         // Mesa's lavapipe: the CPU
 * ```
 */
export const layer = (options: LayerOptions = {}): Layer.Layer<Device | StageDevices, GpuUnavailable> =>
  Layer.effectContext(
    Effect.map(
      Effect.acquireRelease(
        Effect.map(acquire(options), (acquired) => ({
          ...acquired,
          // The dashboard shows what the device holds (core/observe/deviceMemory.ts).
          unregister: DeviceMemory.register(() => acquired.state.pool.liveBytes + acquired.state.pool.pooledBytes)
        })),
        ({ entry, state, unregister }) =>
          Effect.promise(async () => {
            unregister()
            state.close()
            // Let Dawn run the destruction before the instance may be collected.
            await new Promise((resolve) => setTimeout(resolve, 0))
            reachable.delete(entry.gpu)
          })
      ),
      ({ adapter, state }) => {
        const device = make(adapter, state)
        return Context.make(Device, device).pipe(Context.add(StageDevices, stageRunner(device)))
      }
    )
  )

/** Runs one item of a pipeline stage with `gpu: true` on this device (see Pipeline.map). */
const stageRunner = (device: GpuDevice): StageRunner => ({
  run: (item, f) =>
    Effect.scoped(Effect.gen(function*() {
      let x: GpuArray
      if (item instanceof GpuArrayClass) x = item
      else if (ArrayBuffer.isView(item) && Dtypes.of(item) !== undefined) x = yield* device.array(item as HostArray)
      else {
        return yield* Effect.fail(new InvalidArgument({
          argument: "item",
          message: `a GPU stage takes Float32Array, Int32Array, Uint32Array or Float16Array items, got ${item === null ? "null" : typeof item === "object" ? (item as object).constructor.name : typeof item}`
        }))
      }
      const out = yield* f(x, device)
      return out instanceof GpuArrayClass ? yield* Arrays.toHost(out) : out
    })) as never
})

declare module "../core/comm/DeviceArray.ts" {
  interface DeviceTypes {
    readonly array: GpuArray
    readonly device: GpuDevice
  }
}
