// Scatter and gather: rank 0 splits an array into one chunk per rank, every
// rank squares its chunk, and rank 0 gathers the chunks back in rank order.
// Run: npx rankflow run -n 4 examples/scatter-gather.ts
import { Effect } from "effect"
import { Comm, Rank } from "rankflow"

const PER_RANK = 4

Rank.main(Effect.gen(function*() {
  const world = yield* Comm.World

  // Rank 0 holds 1, 2, …, PER_RANK·size, in size chunks.
  const chunks = world.rank === 0
    ? Array.from({ length: world.size }, (_, r) => Array.from({ length: PER_RANK }, (_, k) => r * PER_RANK + k + 1))
    : undefined
  const mine = yield* world.scatter(chunks, { root: 0 })

  const squared = mine.map((x) => x * x)
  yield* Effect.log(`rank ${world.rank}: ${mine.join(" ")} squared is ${squared.join(" ")}`)

  const gathered = yield* world.gather(squared, { root: 0 })
  if (world.rank === 0) {
    const all = gathered!.flat()
    yield* Effect.log(`rank 0 gathered ${all.length} squares: ${all.join(" ")}`)
    return all
  }
}))
