/**
 * Kernels written in WGSL with typed bindings and uniforms, compiled once
 * per device and cached.
 *
 * rankflow writes the declarations: each binding becomes a storage array
 * whose element type is the dtype of the GPU array passed for it (with an
 * alias `<name>_t`), the uniforms become the fields of `params`, and `WG`
 * is the workgroup size. In the usual form the WGSL defines
 * `fn kernel(i: u32)`, called once for each `i` below the number of
 * invocations (by a grid-stride loop over as many invocations as keep the
 * device busy); a WGSL that defines its own `@compute fn main` (for
 * workgroup memory) gets the workgroup's number from `rf_group(wid)`, one
 * invocation per requested invocation.
 * Dispatches past 65,535 workgroups fold into 2-D on their own, sizes go in
 * uniforms so that a new size never recompiles, and compiled pipelines are
 * cached by source (dtypes included), constants and workgroup size.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Gpu, Kernel } from "rankflow/gpu"
 *
 * const saxpy = Kernel.make({
 *   name: "saxpy",
 *   wgsl: "fn kernel(i: u32) { y[i] = params.a * x[i] + y[i]; }",
 *   bindings: { x: "read", y: "read_write" },
 *   uniforms: { a: "f32", n: "u32" },
 *   workgroupSize: 256
 * })
 * const program = Effect.gen(function* () {
 *   const gpu = yield* Gpu.Device
 *   const x = yield* gpu.array(Float32Array.of(1, 2, 3))
 *   const y = yield* gpu.zeros("f32", 3)
 *   yield* Kernel.run(saxpy, { x, y }, { a: 2, n: 3 }, { invocations: 3 })
 * }).pipe(Effect.provide(Gpu.layer()))
 * ```
 */
import { Effect } from "effect"
import { InvalidArgument } from "../core/errors.ts"
import * as Dtypes from "./Dtype.ts"
import { GpuDeviceLost, GpuError, KernelError } from "./errors.ts"
import { GpuArray } from "./GpuArray.ts"
import { Allocation } from "./internal/Allocation.ts"
import * as Arrays from "./internal/arrays.ts"
import type { DeviceState } from "./internal/DeviceState.ts"

/**
 * How a kernel uses a binding.
 *
 * @example
 * ```ts
 * const bindings = { x: "read", y: "read_write" } as const satisfies Record<string, Kernel.Access>
 * ```
 */
export type Access = "read" | "read_write"
/**
 * The type of a uniform.
 *
 * @example
 * ```ts
 * const uniforms = { a: "f32", n: "u32" } as const satisfies Record<string, Kernel.UniformType>
 * ```
 */
export type UniformType = "f32" | "i32" | "u32"

/**
 * A kernel as written: its name, WGSL body over element `i`, the arrays it binds with their access, its uniforms, workgroup size and constants.
 *
 * @example
 * ```ts
 * const spec = { name: "scale", wgsl: "y[i] = a * y[i];", bindings: { y: "read_write" }, uniforms: { a: "f32" } } as const
 * const scale = Kernel.make(spec)
 * ```
 */
export interface KernelSpec<B extends Record<string, Access>, U extends Record<string, UniformType>> {
  /** A name for errors and statistics. */
  readonly name: string
  /** WGSL: `fn kernel(i: u32) { … }`, or a whole `@compute fn main` (see the module's doc). */
  readonly wgsl: string
  readonly bindings: B
  readonly uniforms?: U
  /** Invocations per workgroup (default 256). */
  readonly workgroupSize?: number
  /** Values of the WGSL's `override` constants. */
  readonly constants?: Readonly<Record<string, number>>
}

/**
 * A kernel: its spec, ready to run on any device.
 *
 * @example
 * ```ts
 * const scale: Kernel.Kernel = Kernel.make({ name: "scale", wgsl: "y[i] = a * y[i];", bindings: { y: "read_write" }, uniforms: { a: "f32" } })
 * ```
 */
export interface Kernel<B extends Record<string, Access> = Record<string, Access>, U extends Record<string, UniformType> = Record<string, UniformType>> {
  readonly _tag: "Kernel"
  readonly spec: KernelSpec<B, U>
  readonly workgroupSize: number
  /** True when the WGSL is a `fn kernel` (rankflow writes the looping entry point). */
  readonly gridStride: boolean
}

/**
 * Options of one kernel run: how many invocations (default: the first bound array's length).
 *
 * @example
 * ```ts
 * yield* Kernel.run(scale, { y }, { a: 0.5 }, { invocations: 1000 })   // the first 1000 elements only
 * ```
 */
export interface RunOptions {
  /** How many invocations (default: the `n` uniform, else the first binding's length). */
  readonly invocations?: number
}

/**
 * Declares a kernel (nothing compiles until its first run on a device).
 *
 * @example
 * ```ts
 * const square = Kernel.make({ name: "square", wgsl: "fn kernel(i: u32) { y[i] = x[i] * x[i]; }", bindings: { x: "read", y: "read_write" } })
 * ```
 */
export const make = <const B extends Record<string, Access>, const U extends Record<string, UniformType> = {}>(spec: KernelSpec<B, U>): Kernel<B, U> => {
  const workgroupSize = spec.workgroupSize ?? 256
  if (!Number.isInteger(workgroupSize) || workgroupSize < 1 || workgroupSize > 1024) {
    throw new KernelError({ kernel: spec.name, message: `kernel ${spec.name}: workgroupSize must be an integer in 1..1024, got ${workgroupSize}` })
  }
  for (const name of [...Object.keys(spec.bindings), ...Object.keys(spec.uniforms ?? {})]) {
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(name) || name === "params" || name.startsWith("rf_")) {
      throw new KernelError({ kernel: spec.name, message: `kernel ${spec.name}: "${name}" is not a usable binding or uniform name (a WGSL identifier, not params or rf_…)` })
    }
  }
  return { _tag: "Kernel", spec, workgroupSize, gridStride: !/@compute/.test(spec.wgsl) }
}

/**
 * The WGSL rankflow compiles for a kernel with bindings of these dtypes
 * (what a compile error's line numbers refer to, after the declarations).
 *
 * @example
 * ```ts
 * console.log(Kernel.source(saxpy, ["f32", "f32"]))
 * ```
 */
export const source = (kernel: Kernel<any, any>, dtypes: ReadonlyArray<Dtypes.Dtype>): string => {
  const { spec, workgroupSize } = kernel
  const names = Object.keys(spec.bindings)
  const uniforms = Object.entries(spec.uniforms ?? {}) as Array<[string, UniformType]>
  const lines: Array<string> = []
  if (dtypes.includes("f16") || /\bf16\b/.test(spec.wgsl)) lines.push("enable f16;")
  lines.push(`struct Params { ${[...uniforms.map(([n, t]) => `${n}: ${t},`), "rf_count: u32,", "rf_row: u32,", "rf_groups: u32,"].join(" ")} }`)
  lines.push("@group(0) @binding(0) var<uniform> params: Params;")
  names.forEach((n, k) => {
    const access = spec.bindings[n] === "read" ? "read" : "read_write"
    lines.push(`alias ${n}_t = ${dtypes[k]};`)
    lines.push(`@group(0) @binding(${k + 1}) var<storage, ${access}> ${n}: array<${dtypes[k]}>;`)
  })
  lines.push(`const WG: u32 = ${workgroupSize}u;`)
  lines.push("fn rf_group(wid: vec3<u32>) -> u32 { return wid.y * params.rf_row + wid.x; }")
  lines.push(spec.wgsl)
  if (kernel.gridStride) {
    lines.push(
      `@compute @workgroup_size(${workgroupSize}) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {`,
      "  let g = rf_group(wid);",
      "  if (g >= params.rf_groups) { return; }",
      "  let stride = params.rf_groups * WG;",
      "  for (var i = g * WG + lid; i < params.rf_count; i += stride) { kernel(i); }",
      "}"
    )
  }
  return lines.join("\n")
}

// Each kernel's cache keys by dtypes, made once: a dispatch then looks its pipeline up by the same
// string object (whose hash V8 keeps) instead of generating the WGSL again.
const keys = new WeakMap<Kernel<any, any>, Map<string, { readonly code: string; readonly key: string }>>()
const keyOf = (kernel: Kernel<any, any>, dtypes: ReadonlyArray<Dtypes.Dtype>) => {
  let byDtypes = keys.get(kernel)
  if (byDtypes === undefined) keys.set(kernel, (byDtypes = new Map()))
  const d = dtypes.join(",")
  let entry = byDtypes.get(d)
  if (entry === undefined) {
    const code = source(kernel, dtypes)
    entry = { code, key: `${code}\u0000${JSON.stringify(kernel.spec.constants ?? {})}` }
    byDtypes.set(d, entry)
  }
  return entry
}

const pipelineOf = (state: DeviceState, kernel: Kernel<any, any>, dtypes: ReadonlyArray<Dtypes.Dtype>): Effect.Effect<GPUComputePipeline, KernelError | GpuError | GpuDeviceLost> => {
  const { code, key } = keyOf(kernel, dtypes)
  const constants = kernel.spec.constants ?? {}
  const cached = state.pipelines.get(key)
  if (cached !== undefined) return Effect.succeed(cached)
  const name = kernel.spec.name
  return Effect.flatMap(
    Arrays.promise(state, `compile ${name}`, async () => {
      const device = state.device
      device.pushErrorScope("validation")
      const module = device.createShaderModule({ code, label: name })
      const info = await module.getCompilationInfo()
      const errors = info.messages.filter((m) => m.type === "error")
      const names = Object.keys(kernel.spec.bindings)
      const layout = device.createBindGroupLayout({
        entries: [
          { binding: 0, visibility: 4 /* COMPUTE */, buffer: { type: "uniform" } },
          ...names.map((n, k) => ({
            binding: k + 1,
            visibility: 4,
            buffer: { type: kernel.spec.bindings[n] === "read" ? "read-only-storage" as const : "storage" as const }
          }))
        ]
      })
      const pipeline = errors.length > 0 ? undefined : device.createComputePipeline({
        label: name,
        layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: "main", constants }
      })
      const scoped = await device.popErrorScope()
      if (errors.length > 0 || scoped !== null || pipeline === undefined) {
        const before = code.slice(0, code.indexOf(kernel.spec.wgsl)).split("\n").length - 1
        const where = errors.map((m) => `${m.lineNum > before ? `line ${m.lineNum - before} of its wgsl` : "in rankflow's declarations"}: ${m.message}`)
        return new KernelError({
          kernel: name,
          message: `kernel ${name} does not compile: ${errors.length > 0 ? where.join("; ") : scoped?.message}`
        })
      }
      return pipeline
    }),
    (r) => r instanceof KernelError ? Effect.fail(r) : Effect.sync(() => {
      state.pipelines.set(key, r)
      return r
    })
  )
}

const MIN_OFFSET_ALIGN = 256

/**
 * Runs a kernel: records one dispatch over `invocations` (batched with the
 * next ones; the results are there for any later kernel, download or
 * transfer). Bindings are GPU arrays (views too); uniforms are numbers.
 *
 * @example
 * ```ts
 * yield* Kernel.run(saxpy, { x, y }, { a: 2, n: x.length })
 * ```
 */
export const run = <B extends Record<string, Access>, U extends Record<string, UniformType>>(
  kernel: Kernel<B, U>,
  bindings: { readonly [K in keyof B]: GpuArray },
  uniforms: { readonly [K in keyof U]: number },
  options?: RunOptions
): Effect.Effect<void, KernelError | GpuError | GpuDeviceLost | InvalidArgument> =>
  Effect.suspend((): Effect.Effect<void, KernelError | GpuError | GpuDeviceLost | InvalidArgument> => {
    const spec = kernel.spec
    const names = Object.keys(spec.bindings)
    const arrays: Array<GpuArray> = []
    for (const n of names) {
      const a = (bindings as Record<string, unknown>)[n]
      if (!(a instanceof GpuArray)) return Effect.fail(new KernelError({ kernel: spec.name, message: `kernel ${spec.name}: binding ${n} must be a GPU array, got ${a === undefined ? "nothing" : typeof a}` }))
      const bad = Arrays.live(a, `run ${spec.name}`)
      if (bad !== undefined) return Effect.fail(bad)
      arrays.push(a)
    }
    for (let k = 0; k < arrays.length; k++) {
      if (spec.bindings[names[k]!] !== "read_write") continue
      const other = arrays.findIndex((a, j) => j !== k && a.allocation === arrays[k]!.allocation)
      if (other >= 0) {
        return Effect.fail(new KernelError({
          kernel: spec.name,
          message: `kernel ${spec.name}: binding ${names[k]} is written and shares its memory with binding ${names[other]}; WebGPU forbids that aliasing, so pass a separate array (gpu.copy) or an out array`
        }))
      }
    }
    const state = arrays[0]?.state
    if (state === undefined) return Effect.fail(new KernelError({ kernel: spec.name, message: `kernel ${spec.name} needs at least one binding` }))
    if (arrays.some((a) => a.state !== state)) return Effect.fail(new KernelError({ kernel: spec.name, message: `kernel ${spec.name}: its arrays are on different devices` }))
    const declared = Object.entries(spec.uniforms ?? {}) as Array<[string, UniformType]>
    const values = uniforms as Record<string, number>
    for (const [n] of declared) {
      if (typeof values[n] !== "number") {
        return Effect.fail(new KernelError({ kernel: spec.name, message: `kernel ${spec.name}: uniform ${n} needs a number, got ${typeof values[n]}` }))
      }
    }
    const invocations = options?.invocations ?? ("n" in values ? values.n! : arrays[0]!.length)
    if (!Number.isInteger(invocations) || invocations < 0) {
      return Effect.fail(new InvalidArgument({ argument: "invocations", message: `kernel ${spec.name}: invocations must be a non-negative integer, got ${invocations}` }))
    }
    const maxBinding = state.device.limits.maxStorageBufferBindingSize
    for (let k = 0; k < arrays.length; k++) {
      const bytes = arrays[k]!.length * arrays[k]!.bytesPerElement
      if (bytes > maxBinding) {
        return Effect.fail(new KernelError({ kernel: spec.name, message: `kernel ${spec.name}: binding ${names[k]} holds ${bytes} bytes, more than this device's maxStorageBufferBindingSize (${maxBinding}); split it` }))
      }
    }
    // The generated entry point loops (grid-stride), so a `fn kernel` dispatch needs no more
    // invocations than the device keeps busy; a CPU driver gains most from few workgroups
    // (lavapipe, axpy of 4 M floats: 16,384 workgroups 34 ms, 64 workgroups 8.6 ms).
    const gridStride = kernel.gridStride
    const cap = state.software ? 64 * 256 : 1 << 20
    const wgs = Math.ceil((gridStride ? Math.min(invocations, cap) : invocations) / kernel.workgroupSize)
    const maxDim = state.device.limits.maxComputeWorkgroupsPerDimension
    const x = Math.min(wgs, maxDim)
    const y = x === 0 ? 0 : Math.ceil(wgs / x)
    if (y > maxDim) return Effect.fail(new KernelError({ kernel: spec.name, message: `kernel ${spec.name}: ${invocations} invocations need more than ${maxDim}² workgroups; use a larger workgroupSize or split the work` }))
    return Effect.flatMap(pipelineOf(state, kernel, arrays.map((a) => a.dtype)), (pipeline) =>
      Arrays.sync(state, `run ${spec.name}`, () => {
        if (wgs === 0) return
        const u = new ArrayBuffer(Math.ceil((declared.length + 3) * 4 / 16) * 16)
        const dv = new DataView(u)
        declared.forEach(([n, t], k) => {
          const v = values[n]!
          if (t === "f32") dv.setFloat32(k * 4, v, true)
          else if (t === "i32") dv.setInt32(k * 4, v, true)
          else dv.setUint32(k * 4, v >>> 0, true)
        })
        dv.setUint32(declared.length * 4, invocations, true)
        dv.setUint32(declared.length * 4 + 4, x, true)
        dv.setUint32(declared.length * 4 + 8, wgs, true)
        // Views at offsets the device cannot bind go through aligned copies (written back after, for read_write).
        const temps: Array<{ view: GpuArray; temp: GpuArray }> = []
        const bound = arrays.map((a) => {
          if ((a.offset * a.bytesPerElement) % MIN_OFFSET_ALIGN === 0) return a
          const temp = new GpuArray(state, a.dtype, a.length, 0, new Allocation(state, state.pool.take(a.length * a.bytesPerElement)))
          Arrays.copyInto(a, 0, temp, 0, a.length)
          temps.push({ view: a, temp })
          return temp
        })
        const group = state.device.createBindGroup({
          layout: pipeline.getBindGroupLayout(0),
          entries: [
            { binding: 0, resource: { buffer: state.uniform(new Uint8Array(u)) } },
            ...bound.map((a, k) => ({
              binding: k + 1,
              resource: { buffer: a.allocation.buffer, offset: a.offset * a.bytesPerElement, size: Math.max(4, (a.length * a.bytesPerElement + 3) & ~3) }
            }))
          ]
        })
        const pass = state.recorder().beginComputePass({ label: spec.name })
        pass.setPipeline(pipeline)
        pass.setBindGroup(0, group)
        pass.dispatchWorkgroups(x, y)
        pass.end()
        for (const { view, temp } of temps) {
          const k = bound.indexOf(temp)
          if (spec.bindings[names[k]!] === "read_write") Arrays.copyInto(temp, 0, view, 0, view.length)
          temp.allocation.release()
        }
        state.recorded()
      }))
  })
