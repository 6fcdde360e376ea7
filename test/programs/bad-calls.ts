// A call with a bad argument, or one that fails while it runs; the first argument picks which.
import { Effect } from "effect"
import { Comm, Rank } from "rankflow"

Rank.main(Effect.gen(function*() {
  const world = yield* Comm.World
  switch (process.argv[2]) {
    case "rank":
      yield* world.send("hello", { dest: world.size + 3 })
      return
    case "tag":
      yield* world.recv({ source: 0, tag: -5 })
      return
    case "truncated":
      if (world.rank === 0) yield* world.send(new Float64Array(8), { dest: 1 })
      else yield* world.recvInto(new Float64Array(4), { source: 0 })
      return
    case "encode":
      yield* world.send(() => 1, { dest: 0 })
      return
    case "root":
      yield* world.bcast(1, { root: 7 })
      return
  }
}))
