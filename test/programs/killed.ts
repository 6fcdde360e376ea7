// Rank 1 dies abruptly (SIGKILL, as a crashed host would); the others wait for it.
import { Effect } from "effect"
import { Comm, Rank } from "rankflow"

Rank.main(Effect.gen(function*() {
  const world = yield* Comm.World
  if (world.rank === 1) {
    yield* Effect.sleep("200 millis")
    process.kill(process.pid, "SIGKILL")
  }
  return yield* world.recv({ source: 1 })
}))
