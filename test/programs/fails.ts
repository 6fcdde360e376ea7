// Rank 1 fails with a typed error; the others wait for it.
import { Data, Effect } from "effect"
import { Comm, Rank } from "rankflow"

class GiveUp extends Data.TaggedError("GiveUp")<{ readonly message: string }> {}

Rank.main(Effect.gen(function*() {
  const world = yield* Comm.World
  if (world.rank === 1) return yield* new GiveUp({ message: "rank 1 gives up" })
  return yield* world.recv({ source: 1 })
}))
