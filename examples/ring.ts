// A token passes around the ring of ranks with sendrecv: after size - 1 steps
// every rank has seen every other rank's number.
// Run: npx rankflow run -n 4 examples/ring.ts
import { Effect } from "effect"
import { Comm, Rank } from "rankflow"

Rank.main(Effect.gen(function*() {
  const world = yield* Comm.World
  const next = (world.rank + 1) % world.size
  const prev = (world.rank - 1 + world.size) % world.size

  let token = world.rank
  let sum = world.rank
  for (let step = 1; step < world.size; step++) {
    token = yield* world.sendrecv<number>(token, { dest: next, source: prev })
    sum += token
  }
  yield* Effect.log(`rank ${world.rank}: the ranks add up to ${sum}`)
  return sum
}))
