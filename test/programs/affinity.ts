/** The CPUs each rank's thread may run on (`/proc/thread-self`), after a ping-pong that shows the ranks still talk. */
import { Effect } from "effect"
import { Comm } from "rankflow"
import { allowedCpus } from "../../transports/cpuBinding.ts"

export const cpus = Effect.gen(function*() {
  const w = yield* Comm.World
  if (w.size > 1) {
    if (w.rank === 0) {
      yield* w.send(w.rank, { dest: 1 })
      yield* w.recv({ source: 1 })
    } else if (w.rank === 1) {
      const got = yield* w.recv({ source: 0 })
      yield* w.send(got, { dest: 0 })
    }
  }
  return allowedCpus() ?? null
})
