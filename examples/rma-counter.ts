// A global work counter in a window on rank 0 (the "nxtval" pattern): every
// rank takes the next task number with one fetchAndOp under a lock, without
// rank 0 doing anything but keeping the window open, until the tasks run out.
// Run: npx rankflow run -n 4 examples/rma-counter.ts
import { Effect } from "effect"
import { Comm, Op, Rank, Win } from "rankflow"

const TASKS = 40

Rank.main(Effect.gen(function*() {
  const world = yield* Comm.World
  const counter = yield* Win.allocate(world, world.rank === 0 ? 1 : 0, "int32")
  yield* world.barrier() // every window exists before anyone takes a number

  const nextTask = counter.withLock(0, "exclusive", counter.fetchAndOp(1, 0, 0, Op.SUM))
  const done: Array<number> = []
  for (let task = Number(yield* nextTask); task < TASKS; task = Number(yield* nextTask)) {
    done.push(task) // the work itself would go here
  }

  yield* counter.free()
  const counts = yield* world.gather(done.length, { root: 0 })
  if (world.rank === 0) yield* Effect.log(`${TASKS} tasks shared out as ${counts!.join(" + ")}`)
  return done
}))
