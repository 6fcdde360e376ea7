// Rank 1 ends its process (or thread) with exit code 3; the others wait for it.
import { Effect } from "effect"
import { Comm, Rank } from "rankflow"

Rank.main(Effect.gen(function*() {
  const world = yield* Comm.World
  if (world.rank === 1) process.exit(3)
  yield* world.recv({ source: 1 })
}))
