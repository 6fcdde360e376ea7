/**
 * The array operations under `GpuArray` and the device service: allocation
 * (tied to the caller's Scope when there is one), uploads, chunked
 * downloads and device copies. Internal: the public names are in
 * GpuArray.ts and Gpu.ts.
 */
import { Cause, Effect, Exit, Option, Scope } from "effect"
import { InvalidArgument } from "../../core/errors.ts"
import * as Dtypes from "../Dtype.ts"
import type { Dtype, HostArray } from "../Dtype.ts"
import { GpuDeviceLost, GpuError } from "../errors.ts"
import { GpuArray } from "../GpuArray.ts"
import { Allocation } from "./Allocation.ts"
import type { DeviceState } from "./DeviceState.ts"
import { sizeClass } from "./BufferPool.ts"

/** Turns a thrown or rejected value into the layer's errors. */
export const gpuError = (state: DeviceState, operation: string) => (e: unknown): GpuDeviceLost | GpuError =>
  e instanceof GpuDeviceLost || e instanceof GpuError
    ? e
    : state.lost ?? new GpuError({ operation, message: `${operation}: ${e instanceof Error ? e.message : String(e)}` })

/** Runs a GPU promise as an Effect with the layer's errors. */
export const promise = <A>(state: DeviceState, operation: string, f: () => Promise<A>): Effect.Effect<A, GpuDeviceLost | GpuError> =>
  Effect.suspend(() => {
    const bad = state.check(operation)
    return bad !== undefined ? Effect.fail(bad) : Effect.tryPromise({ try: f, catch: gpuError(state, operation) })
  })

/** Runs synchronous GPU work as an Effect with the layer's errors. */
export const sync = <A>(state: DeviceState, operation: string, f: () => A): Effect.Effect<A, GpuDeviceLost | GpuError> =>
  Effect.suspend(() => {
    const bad = state.check(operation)
    if (bad !== undefined) return Effect.fail(bad)
    try {
      return Effect.succeed(f())
    } catch (e) {
      return Effect.fail(gpuError(state, operation)(e))
    }
  })

/** Checks a requested length. */
export const checkLength = (state: DeviceState, dtype: Dtype, length: number): GpuError | InvalidArgument | undefined => {
  if (!Number.isInteger(length) || length < 0) return new InvalidArgument({ argument: "length", message: `a GPU array's length must be a non-negative integer, got ${length}` })
  if (dtype === "f16" && !state.features.has("shader-f16")) {
    return new GpuError({ operation: "allocate", message: "allocate: this adapter has no shader-f16 feature, so f16 arrays are not available; use f32" })
  }
  const bytes = length * Dtypes.bytes(dtype)
  const max = state.device.limits.maxBufferSize
  if (sizeClass(bytes) > max) return new GpuError({ operation: "allocate", message: `allocate: ${bytes} bytes exceeds the device's maxBufferSize of ${max} bytes; split the array` })
  return undefined
}

/**
 * A new array of `length` elements (contents undefined). It is released when
 * the caller's Scope closes, if the caller has one, and otherwise when the
 * device's scope closes; `release` frees it earlier.
 */
export const empty = (state: DeviceState, dtype: Dtype, length: number): Effect.Effect<GpuArray, GpuDeviceLost | GpuError | InvalidArgument> =>
  Effect.gen(function*() {
    const bad = checkLength(state, dtype, length) ?? state.check("allocate")
    if (bad !== undefined) return yield* Effect.fail(bad)
    const array = yield* allocate(state, dtype, length)
    const scope = yield* Effect.serviceOption(Scope.Scope)
    if (Option.isSome(scope)) yield* Scope.addFinalizer(scope.value, Effect.sync(() => array.allocation.release()))
    return array
  })

/** A working array for a kernel's own use: not tied to any Scope; the caller releases it. */
export const temp = (state: DeviceState, dtype: Dtype, length: number): Effect.Effect<GpuArray, GpuDeviceLost | GpuError | InvalidArgument> =>
  Effect.suspend(() => {
    const bad = checkLength(state, dtype, length) ?? state.check("allocate")
    return bad !== undefined ? Effect.fail(bad) : allocate(state, dtype, length)
  })

/** Runs `f` with working arrays that are released however it ends. */
export const withTemps = <A, E>(
  state: DeviceState,
  specs: ReadonlyArray<readonly [Dtype, number]>,
  f: (arrays: Array<GpuArray>) => Effect.Effect<A, E>
): Effect.Effect<A, E | GpuDeviceLost | GpuError | InvalidArgument> =>
  Effect.acquireUseRelease(
    Effect.forEach(specs, ([d, n]) => temp(state, d, n)),
    f,
    (arrays) => Effect.sync(() => arrays.forEach((a) => a.allocation.release()))
  )

const allocate = (state: DeviceState, dtype: Dtype, length: number): Effect.Effect<GpuArray, GpuDeviceLost | GpuError> => {
  const bytes = Math.max(4, length * Dtypes.bytes(dtype))
  if (!state.pool.wouldCreate(bytes)) return sync(state, "allocate", () => new GpuArray(state, dtype, length, 0, new Allocation(state, state.pool.take(bytes))))
  return promise(state, "allocate", async () => {
    state.device.pushErrorScope("out-of-memory")
    const buffer = state.pool.take(bytes)
    const error = await state.device.popErrorScope()
    if (error !== null) {
      state.pool.forget(buffer)
      throw new GpuError({ operation: "allocate", message: `allocate: the device is out of memory for ${bytes} bytes (${error.message}); release arrays you no longer need` })
    }
    return new GpuArray(state, dtype, length, 0, new Allocation(state, buffer))
  })
}

/** Fails unless `x` is usable. */
export const live = (x: GpuArray, operation: string): GpuError | GpuDeviceLost | undefined =>
  x.state.check(operation) ??
    (x.allocation.released ? new GpuError({ operation, message: `${operation}: this GPU array was released; use arrays only until their release or their Scope's end` }) : undefined)

/** Writes `data` into `x` from element `at` (data's dtype must be x's). */
export const upload = (x: GpuArray, data: HostArray, at = 0): Effect.Effect<void, GpuDeviceLost | GpuError | InvalidArgument> =>
  Effect.suspend((): Effect.Effect<void, GpuDeviceLost | GpuError | InvalidArgument> => {
    const bad = live(x, "upload")
    if (bad !== undefined) return Effect.fail(bad)
    const d = Dtypes.of(data)
    if (d !== x.dtype) return Effect.fail(new InvalidArgument({ argument: "data", message: `upload: the data is ${d ?? data.constructor.name} but the GPU array is ${x.dtype}` }))
    if (!Number.isInteger(at) || at < 0 || at + data.length > x.length) {
      return Effect.fail(new InvalidArgument({ argument: "at", message: `upload: ${data.length} elements at ${at} do not fit a GPU array of ${x.length}` }))
    }
    return sync(x.state, "upload", () => writeBytes(x, at, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)))
  })

/** Writes raw bytes at element `at` of `x` (no checks). f16 writes need 4-byte alignment: an even start, and an even length unless they end the allocation. */
export const writeBytes = (x: GpuArray, at: number, bytes: Uint8Array): void => {
  if (bytes.byteLength === 0) return
  const offset = (x.offset + at) * Dtypes.bytes(x.dtype)
  if (offset % 4 !== 0) throw new GpuError({ operation: "upload", message: "upload: an f16 write must start at an even element of its buffer; slice f16 arrays at even indices" })
  if (bytes.byteLength % 4 === 0) return x.state.write(x.allocation.buffer, offset, bytes)
  const padded = new Uint8Array((bytes.byteLength + 3) & ~3)
  padded.set(bytes)
  const end = offset + padded.byteLength
  if (end > x.allocation.buffer.size) throw new GpuError({ operation: "upload", message: "upload: an f16 write of odd length must end its buffer" })
  if (x.isView || at + bytes.byteLength / 2 !== x.length) {
    throw new GpuError({ operation: "upload", message: "upload: an f16 write of an odd number of elements must end its array; use even lengths for f16 views" })
  }
  x.state.write(x.allocation.buffer, offset, padded)
}

/** Downloads `x` in chunks: `onChunk(hostChunk, elementOffset)`, the next chunks copying while each is handled. */
export const download = <E>(
  x: GpuArray,
  onChunk: (chunk: HostArray, at: number) => Effect.Effect<void, E>,
  chunkBytes?: number
): Effect.Effect<void, E | GpuDeviceLost | GpuError> =>
  Effect.gen(function*() {
    const bad = live(x, "download")
    if (bad !== undefined) return yield* Effect.fail(bad)
    const size = Dtypes.bytes(x.dtype)
    const Ctor = Dtypes.ctor(x.dtype)
    const services = yield* Effect.context<never>()
    const run = Effect.runPromiseExitWith(services)
    let failure: Cause.Cause<E> | undefined
    yield* promise(x.state, "download", () =>
      x.state.read(x.allocation.buffer, x.offset * size, x.length * size, async (bytes, at) => {
        if (failure !== undefined) return
        const exit = await run(onChunk(new Ctor(bytes.buffer as ArrayBuffer, 0, bytes.byteLength / size), at / size))
        if (Exit.isFailure(exit)) failure = exit.cause
      }, chunkBytes === undefined ? undefined : Math.max(4, chunkBytes - (chunkBytes % 4))))
    if (failure !== undefined) return yield* Effect.failCause(failure)
  })

/** The whole of `x` on the host. */
export const toHost = (x: GpuArray): Effect.Effect<HostArray, GpuDeviceLost | GpuError> =>
  Effect.suspend(() => {
    const out = new (Dtypes.ctor(x.dtype))(x.length)
    return Effect.as(download(x, (chunk, at) => Effect.sync(() => out.set(chunk as never, at))), out)
  })

/** Copies `n` elements from `src` at `from` to `dst` at `to` on the device (same dtype). */
export const copyInto = (src: GpuArray, from: number, dst: GpuArray, to: number, n: number): void => {
  if (n === 0) return
  const size = Dtypes.bytes(src.dtype)
  const a = (src.offset + from) * size
  const b = (dst.offset + to) * size
  let bytes = n * size
  if (a % 4 !== 0 || b % 4 !== 0) throw new GpuError({ operation: "copy", message: "copy: f16 copies must start at even elements; slice f16 arrays at even indices" })
  bytes = (bytes + 3) & ~3
  src.state.recorder().copyBufferToBuffer(src.allocation.buffer, a, dst.allocation.buffer, b, bytes)
  src.state.recorded()
}

/** Releases an array's buffer (a view releases the whole allocation). */
export const releaseEffect = (x: GpuArray): Effect.Effect<void> => Effect.sync(() => x.allocation.release())
