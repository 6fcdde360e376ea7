// π by numerical integration: the midpoint rule for ∫₀¹ 4/(1+x²) dx. Each
// rank sums every size-th interval; reduce adds the partial sums at rank 0.
// Run: npx rankflow run -n 4 examples/pi.ts [intervals]
import { Effect } from "effect"
import { Comm, Op, Rank } from "rankflow"

Rank.main(Effect.gen(function*() {
  const world = yield* Comm.World
  const n = Number(process.argv[2] ?? 1_000_000)

  const h = 1 / n
  let partial = 0
  for (let i = world.rank; i < n; i += world.size) {
    const x = h * (i + 0.5)
    partial += 4 / (1 + x * x)
  }
  partial *= h

  const pi = yield* world.reduce(partial, Op.SUM, { root: 0 })
  if (world.rank === 0) {
    yield* Effect.log(`π ≈ ${pi!.toFixed(15)} with ${n} intervals on ${world.size} ranks (error ${Math.abs(pi! - Math.PI).toExponential(2)})`)
    return pi
  }
}))
