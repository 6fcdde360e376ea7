// Every rank waits forever (for the SIGINT test).
import { Effect } from "effect"
import { Comm, Rank } from "rankflow"

Rank.main(Effect.gen(function*() {
  const world = yield* Comm.World
  yield* Effect.sync(() => console.log("waiting"))
  return yield* world.recv({ source: 0, tag: 99 })
}))
