// Programs that wait forever, and some that only wait a long time. The first
// argument picks one:
//   pair        both ranks of a pair receive first (a 2-rank cycle)
//   ring        every rank receives from its left neighbour before sending
//   collective  the last rank never enters the barrier: it waits for rank 0
//   finished    rank 0 receives from rank 1, whose program has ended
//   ssend       rank 0 ssends to rank 1, whose program has ended without receiving
//   nothing     rank 0 waits on an Effect that never completes, the others receive from it
//   compute     rank 1 computes (without yielding) for a while before sending: no deadlock
//   yielding    rank 1 computes in slices, yielding between them, before sending: no deadlock
//   sleeping    rank 1 sleeps before sending (each rank prints what it does first): no deadlock
//   slow        every rank passes a token round a ring, pausing at each hop: no deadlock
import { Effect } from "effect"
import { Comm, Rank } from "rankflow"

const spin = (ms: number): void => {
  const end = Date.now() + ms
  while (Date.now() < end) {}
}

Rank.main(Effect.gen(function*() {
  const world = yield* Comm.World
  const SECONDS = Number(process.argv[3] ?? "3")
  const { rank, size } = world
  const left = (rank + size - 1) % size
  const right = (rank + 1) % size
  switch (process.argv[2]) {
    case "pair":
      yield* world.recv({ source: 1 - rank, tag: 3 })
      yield* world.send(rank, { dest: 1 - rank, tag: 3 })
      return
    case "ring":
      yield* world.recv({ source: left, tag: 7 })
      yield* world.send(rank, { dest: right, tag: 7 })
      return
    case "collective":
      if (rank === size - 1) yield* world.recv({ source: 0, tag: 1 })
      else yield* world.barrier()
      return
    case "finished":
      if (rank === 0) yield* world.recv({ source: 1, tag: 5 })
      return
    case "ssend":
      if (rank === 0) yield* world.ssend("hello", { dest: 1, tag: 2 })
      return
    case "nothing":
      if (rank === 0) yield* Effect.never
      else yield* world.recv({ source: 0 })
      return
    case "compute":
      if (rank === 1) spin(SECONDS * 1000)
      if (rank === 1) yield* world.send("done", { dest: 0 })
      if (rank === 0) return yield* world.recv({ source: 1 })
      return
    case "yielding":
      if (rank === 1) {
        for (let i = 0; i < SECONDS * 20; i++) {
          spin(50)
          yield* Effect.yieldNow
        }
        yield* world.send("done", { dest: 0 })
      }
      if (rank === 0) return yield* world.recv({ source: 1 })
      return
    case "sleeping":
      console.log(rank === 1 ? "sleeping" : "waiting")
      if (rank === 1) {
        yield* Effect.sleep(SECONDS * 1000)
        yield* world.send("done", { dest: 0 })
      }
      if (rank === 0) return yield* world.recv({ source: 1 })
      return
    case "slow": {
      // Each hop waits a moment: the job progresses slowly, one rank at a time.
      let token = 0
      for (let lap = 0; lap < 2; lap++) {
        if (rank === 0) {
          yield* world.send(token + 1, { dest: right })
          token = (yield* world.recv({ source: left })) as number
        } else {
          token = (yield* world.recv({ source: left })) as number
          yield* Effect.sleep(SECONDS * 1000 / (2 * size))
          yield* world.send(token + 1, { dest: right })
        }
      }
      return token
    }
    default:
      throw new Error(`unknown scenario ${process.argv[2]}`)
  }
}))
