/**
 * Rank programs for the intercommunicator suite (test/core/intercomm.test.ts),
 * after mpi4py's test_comm_inter.py: the world split into even and odd ranks,
 * joined by an intercommunicator. Needs two ranks or more.
 */
import { Effect, Option } from "effect"
import { Comm, Intercomm, Op, PROC_NULL } from "rankflow"
import { check, checkEqual } from "./check.ts"

const world = Comm.World

const halves = Effect.gen(function*() {
  const w = yield* world
  const color = w.rank % 2
  const half = Option.getOrThrow(yield* w.split(color))
  // The leaders: world rank 0 for the even half, world rank 1 for the odd one.
  const inter = yield* half.createIntercomm(0, w, color === 0 ? 1 : 0, 17)
  return { w, color, half, inter, evens: Math.ceil(w.size / 2), odds: Math.floor(w.size / 2) }
})

/** Sizes, point-to-point by remote rank, and every collective with MPI's intercommunicator rules. */
export const basics = Effect.gen(function*() {
  const { w, color, half, inter, evens, odds } = yield* halves
  yield* checkEqual([inter.rank, inter.size, inter.remoteSize], [half.rank, half.size, color === 0 ? odds : evens], "rank, size, remoteSize")
  // Point-to-point: rank i of each half talks to rank i of the other (where it exists).
  if (inter.rank < inter.remoteSize) {
    const got = yield* inter.sendrecv<string>(`from world ${w.rank}`, { dest: inter.rank, source: inter.rank, tag: 3 })
    const partner = color === 0 ? 2 * inter.rank + 1 : 2 * inter.rank
    yield* checkEqual(got, `from world ${partner}`, "a message from the same rank of the other half")
    // The buffer path: a typed array into a buffer, the status naming the remote rank.
    yield* inter.send(Float64Array.of(w.rank, 0.5), { dest: inter.rank, tag: 4 })
    const into = new Float64Array(2)
    const status = yield* inter.recvInto(into, { source: inter.rank, tag: 4 })
    yield* checkEqual([Array.from(into), status.source], [[partner, 0.5], inter.rank], "recvInto from the remote rank")
  }
  yield* inter.barrier()
  // bcast from the even half's rank 0 to the odd half.
  const root = color === 0 ? (inter.rank === 0 ? Intercomm.ROOT : PROC_NULL) : 0
  const b = yield* inter.bcast(color === 0 ? { n: 42 } : undefined, { root })
  if (color === 1) yield* checkEqual(b, { n: 42 }, "bcast to the receiving group")
  // gather at the odd half's rank 0 of the even half's world ranks.
  const gRoot = color === 1 ? (inter.rank === 0 ? Intercomm.ROOT : PROC_NULL) : 0
  const g = yield* inter.gather(color === 0 ? w.rank : undefined, { root: gRoot })
  if (color === 1 && inter.rank === 0) yield* checkEqual(g, Array.from({ length: evens }, (_, i) => 2 * i), "gather at the root")
  // scatter from the odd half's rank 0 to the even half.
  const s = yield* inter.scatter(color === 1 && inter.rank === 0 ? Array.from({ length: evens }, (_, i) => i * 10) : undefined, { root: gRoot })
  if (color === 0) yield* checkEqual(s, inter.rank * 10, "scatter from the remote root")
  // allgather and allreduce: each half gets the other's.
  const all = yield* inter.allgather(w.rank)
  yield* checkEqual(all, Array.from({ length: inter.remoteSize }, (_, i) => 2 * i + (1 - color)), "allgather: the other half's world ranks")
  const sum = yield* inter.allreduce(w.rank, Op.SUM)
  yield* checkEqual(sum, all.reduce((a, b) => a + b, 0), "allreduce: the other half's sum")
  const toEach = yield* inter.alltoall(Array.from({ length: inter.remoteSize }, (_, j) => `${w.rank}->${j}`))
  yield* checkEqual(toEach, Array.from({ length: inter.remoteSize }, (_, i) => `${2 * i + (1 - color)}->${inter.rank}`), "alltoall")
  // A leader that is not a rank of the local communicator fails at once, on every rank.
  const badLeader = yield* Effect.flip(half.createIntercomm(99, w, color === 0 ? 1 : 0, 18))
  yield* check(badLeader._tag === "IntercommError" && /localLeader 99 is not a rank/.test(badLeader.message), `a bad local leader: ${badLeader.message}`)
  // A remote leader outside the peer communicator: its leader says so, and every rank of the group fails alike.
  const badRemote = yield* Effect.flip(half.createIntercomm(0, w, 99, 19))
  yield* check(badRemote._tag === "IntercommError" && /remoteLeader 99 is not another rank/.test(badRemote.message), `a bad remote leader: ${badRemote.message}`)
  // A bad root is an IntercommError; the intercommunicator stays usable.
  const bad = yield* Effect.flip(inter.bcast(1, { root: 99 }))
  yield* check(bad._tag === "IntercommError" && /root must be ROOT/.test(bad.message), `a bad root: ${bad.message}`)
  yield* inter.barrier()
})

/** reduce at the even half's rank 0 of the odd half's values. */
export const reduceToRoot = Effect.gen(function*() {
  const { w, color, inter } = yield* halves
  const root = color === 0 ? (inter.rank === 0 ? Intercomm.ROOT : PROC_NULL) : 0
  const got = yield* inter.reduce(color === 1 ? w.rank : undefined, Op.SUM, { root })
  const odds = Array.from({ length: Math.floor(w.size / 2) }, (_, i) => 2 * i + 1)
  if (color === 0 && inter.rank === 0) yield* checkEqual(got, odds.reduce((a, b) => a + b, 0), "reduce at the root")
  else yield* checkEqual(got, undefined, "nothing elsewhere")
})

/** merge: the half that passes high = false comes first; the merged communicator works; disconnect ends the intercommunicator. */
export const mergeAndDisconnect = Effect.gen(function*() {
  const { w, color, inter, evens } = yield* halves
  const merged = yield* inter.merge(color === 1) // the even half first
  yield* checkEqual(merged.size, w.size, "merged size")
  yield* checkEqual(merged.rank, color === 0 ? inter.rank : evens + inter.rank, "merged rank: the low group first")
  const ranks = yield* merged.allgather(w.rank)
  yield* checkEqual(ranks, [...Array.from({ length: evens }, (_, i) => 2 * i), ...Array.from({ length: w.size - evens }, (_, i) => 2 * i + 1)], "world ranks in merged order")
  yield* checkEqual(yield* merged.allreduce(1, Op.SUM), w.size, "a collective on the merged communicator")
  const other = yield* inter.merge(color === 0) // now the odd half first
  yield* checkEqual(other.rank, color === 1 ? inter.rank : w.size - evens + inter.rank, "merged the other way round")
  yield* inter.disconnect()
  const after = yield* Effect.flip(inter.barrier())
  yield* check(/after disconnect/.test(after.message), `a call after disconnect: ${after.message}`)
})
