// Rank 0 fails at once; rank 1 computes for a minute without ever yielding,
// so it cannot see the failure: the launcher must terminate it after the grace.
import { Effect } from "effect"
import { Comm, Rank } from "rankflow"

Rank.main(Effect.gen(function*() {
  const world = yield* Comm.World
  if (world.rank === 0) {
    yield* Effect.sleep(200)
    return yield* Effect.fail(new Error("rank 0 gives up"))
  }
  const end = Date.now() + 60_000
  while (Date.now() < end) {}
}))
