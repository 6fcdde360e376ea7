import { Effect } from "effect"
import { Gpu, GpuArray, Kernels } from "./gpu/index.ts"
const program = Effect.gen(function* () {
  const gpu = yield* Gpu.Device
  for (const m of [128, 256, 512]) {
    const a = yield* gpu.array(Float32Array.from({ length: m * m }, (_, i) => (i % 7) / 7))
    const c = yield* gpu.empty("f32", m * m)
    yield* Effect.flatMap(Kernels.matmul(a, a, { m, k: m, n: m, out: c }), GpuArray.toHost)
    let best = Infinity
    for (let k = 0; k < 3; k++) {
      const t = performance.now()
      for (let i = 0; i < 5; i++) yield* Effect.flatMap(Kernels.matmul(a, a, { m, k: m, n: m, out: c }), GpuArray.toHost)
      best = Math.min(best, (performance.now() - t) / 5)
    }
    console.log("matmul", m, best.toFixed(2))
  }
})
Effect.runPromise(program.pipe(Effect.provide(Gpu.layer())))
