// The TypeScript ranks of a job whose Python rank dies after a barrier (interop/python/demo_rank.py --die-after-barrier).
import { Effect } from "effect"
import { Comm, Rank } from "rankflow"

Rank.main(Effect.gen(function*() {
  const world = yield* Comm.World
  yield* world.barrier()
  const outcome = yield* Effect.flip(world.recv({ source: world.size - 1, tag: 99 }))
  yield* Effect.log(`rank ${world.rank}: the recv from the python rank failed with ${outcome._tag}: ${outcome.message}`)
}))
