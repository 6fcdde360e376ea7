import { Effect } from "effect"
import { Gpu, Kernels } from "./gpu/index.ts"
const program = Effect.gen(function* () {
  const gpu = yield* Gpu.Device
  const n = 1 << 20
  const x = yield* gpu.array(Float32Array.from({ length: n }, (_, i) => i % 3))
  for (let k = 0; k < 3; k++) {
    const t = performance.now()
    for (let i = 0; i < 10; i++) yield* Kernels.sum(x)
    console.log("sum ms", (performance.now() - t) / 10)
  }
})
Effect.runPromise(program.pipe(Effect.provide(Gpu.layer())))
