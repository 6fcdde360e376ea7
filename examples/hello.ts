// Hello world: every rank greets, then all meet at a barrier.
// Run: npx rankflow run -n 4 examples/hello.ts
import { Effect } from "effect"
import { Comm, Rank } from "rankflow"

Rank.main(Effect.gen(function*() {
  const world = yield* Comm.World
  yield* Effect.log(`Hello! I'm rank ${world.rank} from ${world.size} running in total...`)
  yield* world.barrier()
  return world.rank
}))
