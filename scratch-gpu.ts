import { Effect } from "effect"
import { Gpu, GpuArray, Kernels } from "./gpu/index.ts"

const program = Effect.gen(function* () {
  const gpu = yield* Gpu.Device
  console.log(gpu.adapter, gpu.dtypes)
  const n = 100_003
  const x = yield* gpu.array(Float32Array.from({ length: n }, (_, i) => i % 7))
  const y = yield* gpu.fill("f32", n, 1)
  yield* Kernels.axpy(2, x, y)
  const h = yield* GpuArray.toHost(y)
  console.log("axpy", h[0], h[1], h[n - 1])
  console.log("sum", yield* Kernels.sum(y), "dot", yield* Kernels.dot(x, y), "min", yield* Kernels.min(y), "max", yield* Kernels.max(y))
  const z = yield* Kernels.map("a * b + 1.0", [x, y])
  console.log("map", (yield* GpuArray.toHost(z)).slice(0, 4))
  const a = yield* gpu.array(Float32Array.of(1, 2, 3, 4, 5, 6))
  const b = yield* gpu.array(Float32Array.of(1, 0, 0, 1))
  console.log("matmul", yield* GpuArray.toHost(yield* Kernels.matmul(a, b, { m: 3, k: 2, n: 2 })))
  const s = yield* Kernels.scan(yield* gpu.fill("f32", 1000, 1))
  const sh = yield* GpuArray.toHost(s)
  console.log("scan", sh[0], sh[255], sh[256], sh[999])
  const u = yield* gpu.array(Float32Array.from({ length: 16 }, (_, i) => i))
  console.log("stencil", yield* GpuArray.toHost(yield* Kernels.stencil(u, { rows: 4, cols: 4 })))
  const v = x.subarray(3, 10)
  console.log("view", yield* GpuArray.toHost(v), "sum view", yield* Kernels.sum(v))
  console.log(gpu.stats())
})
const t = Date.now()
Effect.runPromise(program.pipe(Effect.provide(Gpu.layer()), Effect.scoped)).then(() => console.log("done", Date.now() - t), (e) => console.error("ERR", e))
