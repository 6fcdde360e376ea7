// Rank 1 holds ever more memory until V8's heap limit stops it; the others wait for it.
import { Effect } from "effect"
import { Comm, Rank } from "rankflow"

Rank.main(Effect.gen(function*() {
  const world = yield* Comm.World
  if (world.rank === 1) {
    yield* Effect.sync(() => {
      const hoard: Array<Array<number>> = []
      for (;;) hoard.push(Array.from({ length: 1 << 16 }, (_, i) => i + hoard.length + 0.5))
    })
  }
  return yield* world.recv({ source: 1 })
}))
