/**
 * The GPU benchmark. In one run, each with its baseline:
 *
 * - every built-in kernel against plain JavaScript on the CPU (the same
 *   operation as a loop over typed arrays);
 * - matmul and sum against TensorFlow.js's WebGPU backend on the same Dawn
 *   adapter (a devDependency, as a baseline only);
 * - upload and download bandwidth, and the device's copy bandwidth (a
 *   buffer copy, and a copy kernel) as the ceiling that axpy and sum are
 *   measured against (effective bytes moved per second);
 * - GPU-aware allreduce on 2 ranks against download + host allreduce + upload.
 *
 * Timings are the best of several runs of `reps` repetitions, each ended by
 * waiting for the GPU to finish. On lavapipe (Mesa's CPU driver) the "GPU"
 * is the same CPU cores, so kernels may well lose to plain JS there.
 *
 * Run: npm run bench:gpu [-- --quick]
 * Writes bench/results/gpu-<adapter>.json.
 */
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { World } from "rankflow"
import { Gpu, GpuArray, Kernels } from "rankflow/gpu"
import { machine, printTable, progress, writeResults } from "./support/results.ts"

const quick = process.argv.includes("--quick")
const N = quick ? 1 << 20 : 1 << 22
const RUNS = quick ? 2 : 3

const now = () => performance.now()

/** Best (smallest) ms per repetition of `f` over RUNS runs of `reps`. */
const bestMs = async (reps: number, f: () => Promise<unknown>, settle: () => Promise<unknown> = async () => undefined) => {
  await f()
  await settle()
  let best = Infinity
  for (let r = 0; r < RUNS; r++) {
    const t0 = now()
    for (let i = 0; i < reps; i++) await f()
    await settle()
    best = Math.min(best, (now() - t0) / reps)
  }
  return best
}

const random = (n: number, seed = 1) => {
  let s = seed
  return Float32Array.from({ length: n }, () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return 0.5 + s / 4294967296
  })
}

const scope = await Effect.runPromise(Scope.make())
const context = await Effect.runPromise(Layer.buildWithScope(Gpu.layer(), scope))
/** Runs an effect on the device; arrays it makes are released at its end. */
const run = <A>(e: Effect.Effect<A, unknown, Gpu.Device | Scope.Scope>) => Effect.runPromise(e.pipe(Effect.scoped, Effect.provide(context)))
/** Runs an effect on the device outside any Scope: arrays it makes live until the device closes. */
const keep = <A>(e: Effect.Effect<A, unknown, Gpu.Device>) => Effect.runPromise(e.pipe(Effect.provide(context)))
const gpu = Context.get(context, Gpu.Device)
const adapter = gpu.adapter.description || gpu.adapter.device
const slug = (gpu.adapter.device || gpu.adapter.description).toLowerCase().split(/[^a-z0-9]+/).filter(Boolean).slice(0, 1).join("-") || "unknown"
progress(`adapter: ${adapter}`)
const idle = () => run(gpu.idle())

const hx = random(N, 1), hy = random(N, 2), hz = random(N, 3)
const x = await keep(gpu.array(hx)), y = await keep(gpu.array(hy)), z = await keep(gpu.array(hz))
const out = await keep(gpu.empty("f32", N))
const MB = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1e3)

interface Row { readonly kernel: string; readonly size: string; readonly gpuMs: number; readonly cpuMs: number; readonly speedup: number; readonly gpuGBs?: number }
const rows: Array<Row> = []
const kernel = async (name: string, size: string, reps: number, onGpu: () => Promise<unknown>, onCpu: () => unknown, bytes?: number) => {
  progress(name)
  const gpuMs = await bestMs(reps, onGpu, idle)
  const cpuMs = await bestMs(reps, async () => onCpu())
  rows.push({ kernel: name, size, gpuMs, cpuMs, speedup: cpuMs / gpuMs, ...(bytes !== undefined ? { gpuGBs: MB(bytes, gpuMs) / 1e3 } : {}) })
}

// --- the device's copy bandwidth: the ceiling
progress("copy bandwidth")
const copyMs = await bestMs(20, () => run(Effect.sync(() => {
  const enc = gpu.raw.createCommandEncoder()
  enc.copyBufferToBuffer((x as never as { allocation: { buffer: GPUBuffer } }).allocation.buffer, 0, (out as never as { allocation: { buffer: GPUBuffer } }).allocation.buffer, 0, N * 4)
  gpu.raw.queue.submit([enc.finish()])
})), idle)
const copyKernelMs = await bestMs(20, () => run(Kernels.map("a", [x], { out })), idle)
const copyGBs = MB(2 * N * 4, copyMs) / 1e3
const copyKernelGBs = MB(2 * N * 4, copyKernelMs) / 1e3

// --- kernels against plain JS
const cpuOut = new Float32Array(N)
await kernel("axpy", `${N}`, 20, () => run(Kernels.axpy(1.0001, x, y)), () => {
  for (let i = 0; i < N; i++) hy[i] = 1.0001 * hx[i]! + hy[i]!
}, 3 * N * 4)
await kernel("map a*b+c", `${N}`, 20, () => run(Kernels.map("a * b + c", [x, y, z], { out })), () => {
  for (let i = 0; i < N; i++) cpuOut[i] = hx[i]! * hy[i]! + hz[i]!
}, 4 * N * 4)
await kernel("sum", `${N}`, 10, () => run(Kernels.sum(x)), () => {
  let s = 0
  for (let i = 0; i < N; i++) s += hx[i]!
  return s
}, N * 4)
await kernel("max", `${N}`, 10, () => run(Kernels.max(x)), () => {
  let s = -Infinity
  for (let i = 0; i < N; i++) s = Math.max(s, hx[i]!)
  return s
}, N * 4)
await kernel("dot", `${N}`, 10, () => run(Kernels.dot(x, y)), () => {
  let s = 0
  for (let i = 0; i < N; i++) s += hx[i]! * hy[i]!
  return s
}, 2 * N * 4)
await kernel("scan", `${N}`, 5, () => run(Kernels.scan(x, { out })), () => {
  let s = 0
  for (let i = 0; i < N; i++) cpuOut[i] = s += hx[i]!
})
const side = quick ? 512 : 1024
const grid = await keep(gpu.array(random(side * side, 4)))
const gridOut = await keep(gpu.empty("f32", side * side))
const hg = random(side * side, 4), hgo = new Float32Array(side * side)
await kernel("stencil", `${side}×${side}`, 20, () => run(Kernels.stencil(grid, { rows: side, cols: side, out: gridOut })), () => {
  for (let r = 1; r < side - 1; r++) {
    for (let c = 1; c < side - 1; c++) {
      const i = r * side + c
      hgo[i] = 0.25 * (hg[i - side]! + hg[i + side]! + hg[i - 1]! + hg[i + 1]!)
    }
  }
}, 2 * side * side * 4)
const matmulSizes = quick ? [128, 256] : [128, 256, 512]
const mats = new Map<number, { a: GpuArray.GpuArray; b: GpuArray.GpuArray; c: GpuArray.GpuArray; ha: Float32Array; hb: Float32Array }>()
for (const m of matmulSizes) {
  const ha = random(m * m, 5), hb = random(m * m, 6)
  const e = { a: await keep(gpu.array(ha)), b: await keep(gpu.array(hb)), c: await keep(gpu.empty("f32", m * m)), ha, hb }
  mats.set(m, e)
  const hc = new Float32Array(m * m)
  await kernel("matmul", `${m}×${m}×${m}`, m >= 512 ? 3 : 10, () => run(Kernels.matmul(e.a, e.b, { m, k: m, n: m, out: e.c })), () => {
    // i-k-j order: the cache-friendly plain loop.
    hc.fill(0)
    for (let i = 0; i < m; i++) {
      for (let k = 0; k < m; k++) {
        const aik = ha[i * m + k]!
        for (let j = 0; j < m; j++) hc[i * m + j] += aik * hb[k * m + j]!
      }
    }
  })
}

// --- upload / download
progress("upload and download")
const big = random(N, 7)
const uploadMs = await bestMs(10, () => run(GpuArray.fromHost(out, big)), idle)
const downloadMs = await bestMs(10, () => run(GpuArray.toHost(out)))

// --- TensorFlow.js's WebGPU backend on the same adapter
progress("TensorFlow.js (WebGPU backend)")
let tfjs: Record<string, unknown> = { available: false }
try {
  const dawn = await import("webgpu")
  const instance = dawn.create([])
  Object.defineProperty(globalThis.navigator, "gpu", { value: instance, configurable: true })
  const tf = await import("@tensorflow/tfjs-core")
  await import("@tensorflow/tfjs-backend-webgpu")
  if (!(await tf.setBackend("webgpu"))) throw new Error("the webgpu backend did not start")
  const tx = tf.tensor1d(hx)
  const sumMs = await bestMs(10, async () => {
    const s = tf.sum(tx)
    await s.data()
    s.dispose()
  })
  const matmul: Record<string, number> = {}
  for (const m of matmulSizes) {
    const e = mats.get(m)!
    const ta = tf.tensor2d(e.ha, [m, m]), tb = tf.tensor2d(e.hb, [m, m])
    matmul[m] = await bestMs(m >= 512 ? 3 : 10, async () => {
      const c = tf.matMul(ta, tb)
      await c.data()
      c.dispose()
    })
  }
  // Ours with the same download of the result that tf's data() does.
  const oursMatmul: Record<string, number> = {}
  for (const m of matmulSizes) {
    const e = mats.get(m)!
    oursMatmul[m] = await bestMs(m >= 512 ? 3 : 10, () => run(Effect.flatMap(Kernels.matmul(e.a, e.b, { m, k: m, n: m, out: e.c }), GpuArray.toHost)))
  }
  const oursSum = rows.find((r) => r.kernel === "sum")!.gpuMs
  tfjs = {
    available: true,
    sumMs,
    sumRatio: sumMs / oursSum,
    matmul: Object.fromEntries(matmulSizes.map((m) => [m, { tfjsMs: matmul[m], oursMs: oursMatmul[m], ratio: matmul[m]! / oursMatmul[m]! }]))
  }
  tf.disposeVariables()
  tf.engine().reset()
} catch (e) {
  tfjs = { available: false, reason: e instanceof Error ? e.message : String(e) }
}

// --- GPU-aware allreduce on 2 ranks
progress("GPU-aware allreduce on 2 ranks")
const worldScope = await Effect.runPromise(Scope.make())
const world = await Effect.runPromise(Scope.provide(World.make({ size: 2, prefixOutput: false }), worldScope))
const allreduce: Record<string, unknown> = {}
for (const n of quick ? [1 << 16, 1 << 20] : [1 << 16, 1 << 20, 1 << 22]) {
  let best: { aware: number; staged: number } | undefined
  for (let r = 0; r < RUNS; r++) {
    const results = await Effect.runPromise(world.run<{ aware: number; staged: number } | undefined>({ module: new URL("./programs/gpu.ts", import.meta.url), export: "allreduce", args: [n, 5] }))
    const m = results[0]!
    if (best === undefined || m.aware < best.aware) best = { aware: m.aware, staged: Math.min(m.staged, best?.staged ?? Infinity) }
  }
  allreduce[n] = { awareMs: best!.aware * 1e3, stagedMs: best!.staged * 1e3, speedup: best!.staged / best!.aware }
}
await Effect.runPromise(Scope.close(worldScope, Exit.void))

const ceiling = { copyGBs, copyKernelGBs }
const axpy = rows.find((r) => r.kernel === "axpy")!
const sum = rows.find((r) => r.kernel === "sum")!
const targets = {
  axpyOfCopyKernel: axpy.gpuGBs! / copyKernelGBs,
  sumOfCopyKernel: sum.gpuGBs! / copyKernelGBs,
  note: "targets on a real GPU: axpy and sum at >= 0.5 of the copy kernel's bandwidth, matmul >= 1.0x TensorFlow.js"
}

printTable(rows.map((r) => ({ kernel: r.kernel, size: r.size, "GPU ms": r.gpuMs, "JS ms": r.cpuMs, "GPU speedup": r.speedup, "GPU GB/s": r.gpuGBs ?? "" })))
console.log(`copy: ${copyGBs.toFixed(2)} GB/s (buffer copy), ${copyKernelGBs.toFixed(2)} GB/s (copy kernel); upload ${MB(N * 4, uploadMs).toFixed(0)} MB/s, download ${MB(N * 4, downloadMs).toFixed(0)} MB/s`)
console.log(`axpy at ${(targets.axpyOfCopyKernel * 100).toFixed(0)} %, sum at ${(targets.sumOfCopyKernel * 100).toFixed(0)} % of the copy kernel's bandwidth`)
console.log("TensorFlow.js:", JSON.stringify(tfjs))
console.log("allreduce (2 ranks):", JSON.stringify(allreduce))
const file = writeResults(`gpu-${slug}`, {
  adapter: gpu.adapter,
  quick,
  elements: N,
  kernels: rows,
  ceiling,
  transfer: { uploadMBs: MB(N * 4, uploadMs), downloadMBs: MB(N * 4, downloadMs) },
  targets,
  tfjs,
  allreduce,
  machineNote: machine().cpu
})
console.log(`wrote ${file}`)
await Effect.runPromise(Scope.close(scope, Exit.void))
process.exit(0)
