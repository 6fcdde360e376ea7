import { Effect } from "effect"
import { Gpu, Kernels } from "./gpu/index.ts"
const mode = process.argv[2]
const program = Effect.gen(function* () {
  const gpu = yield* Gpu.Device
  const cycle = (i: number) =>
    Effect.scoped(Effect.gen(function*() {
      const a = yield* gpu.zeros("f32", 65_536 + (i % 7) * 1000)
      const b = mode === "zeros" ? yield* gpu.zeros("f32", a.length) : yield* gpu.fill("f32", a.length, 2)
      if (mode !== "noaxpy") yield* Kernels.axpy(1, b, a)
    }))
  for (let k = 0; k < 14; k++) {
    for (let i = 0; i < 1000; i++) yield* cycle(i)
    yield* gpu.idle()
    ;(globalThis as any).gc?.()
    console.log(mode, k, (process.memoryUsage().rss / 2 ** 20).toFixed(0), gpu.stats())
  }
})
Effect.runPromise(program.pipe(Effect.provide(Gpu.layer()), Effect.scoped))
