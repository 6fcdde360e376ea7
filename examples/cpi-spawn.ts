// π by the midpoint rule, the classic MPI master/worker pair in one file: the master
// spawns workers running this same file; each worker sums its share of the intervals
// and the reduction brings π back to the master.
//   npx rankflow run -n 1 --universe 5 examples/cpi-spawn.ts 4
import { Effect, Option } from "effect"
import { Comm, Intercomm, Op, PROC_NULL, Rank } from "rankflow"

const workerShare = (parent: Intercomm.Intercomm) =>
  Effect.gen(function*() {
    const n = (yield* parent.bcast<number>(undefined, { root: 0 }))!
    const h = 1 / n
    let sum = 0
    for (let i = parent.rank; i < n; i += parent.size) {
      const x = h * (i + 0.5)
      sum += 4 / (1 + x * x)
    }
    yield* parent.reduce(sum * h, Op.SUM, { root: 0 })
    yield* parent.disconnect()
  })

Rank.main(Effect.gen(function*() {
  const parent = yield* Comm.parent
  if (Option.isSome(parent)) return yield* workerShare(parent.value)
  const world = yield* Comm.World
  const workers = yield* world.spawn(import.meta.url, { maxprocs: Number(process.argv[2] ?? 4) })
  const isRoot = world.rank === 0
  yield* workers.bcast(1_000_000, { root: isRoot ? Intercomm.ROOT : PROC_NULL })
  const pi = yield* workers.reduce<number>(undefined, Op.SUM, { root: isRoot ? Intercomm.ROOT : PROC_NULL })
  if (isRoot) yield* Effect.log(`π ≈ ${pi!.toFixed(12)} (error ${Math.abs(pi! - Math.PI).toExponential(2)}) from ${workers.remoteSize} spawned workers`)
  yield* workers.disconnect()
}))
