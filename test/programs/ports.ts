/**
 * Rank programs for the ports suite (test/core/ports.test.ts), after mpi4py's
 * test_dynproc.py: the world's even ranks accept on a port, its odd ranks
 * connect; names published and looked up; every refusal a PortError.
 */
import { Effect, Option } from "effect"
import { Comm, Intercomm, Op, PROC_NULL } from "rankflow"
import { check, checkEqual } from "./check.ts"

const portError = <A, E>(effect: Effect.Effect<A, E>, pattern: RegExp) =>
  Effect.flatMap(Effect.flip(effect), (e) => {
    const { _tag, message } = e as { _tag?: string; message?: string }
    return check(_tag === "PortError" && pattern.test(message ?? ""), `expected a PortError matching ${pattern}, got ${_tag}: ${message}`)
  })

/** Evens accept, odds connect (the port travels from world rank 0 to 1 in a message); then use, merge, disconnect, close. Needs 2 ranks or more. */
export const acceptConnect = Effect.gen(function*() {
  const w = yield* Comm.World
  const color = w.rank % 2
  const half = Option.getOrThrow(yield* w.split(color))
  let inter: Intercomm.Intercomm
  let port = ""
  if (color === 0) {
    if (half.rank === 0) {
      port = yield* Comm.openPort
      yield* w.send(port, { dest: 1, tag: 9 })
    }
    inter = yield* half.accept(half.rank === 0 ? port : "only the root's port counts")
  } else {
    if (half.rank === 0) port = yield* w.recv<string>({ source: 0, tag: 9 })
    inter = yield* half.connect(port)
  }
  const evens = Math.ceil(w.size / 2)
  const odds = Math.floor(w.size / 2)
  yield* checkEqual([inter.rank, inter.size, inter.remoteSize], [half.rank, half.size, color === 0 ? odds : evens], "rank, size, remoteSize")
  const root = color === 0 ? (half.rank === 0 ? Intercomm.ROOT : PROC_NULL) : 0
  const got = yield* inter.bcast(color === 0 ? "from the accepting side" : undefined, { root })
  if (color === 1) yield* checkEqual(got, "from the accepting side", "bcast across the port")
  const otherSum = yield* inter.allreduce(w.rank, Op.SUM)
  const expected = Array.from({ length: w.size }, (_, r) => r).filter((r) => r % 2 !== color).reduce((a, b) => a + b, 0)
  yield* checkEqual(otherSum, expected, "allreduce gives the other side's sum")
  const merged = yield* inter.merge(color === 1)
  yield* checkEqual([merged.size, merged.rank], [w.size, color === 0 ? half.rank : evens + half.rank], "merge: the accepting side first")
  yield* inter.disconnect()
  // A closed port: an accept on it fails on every rank of the group.
  if (color === 0) {
    if (half.rank === 0) yield* Comm.closePort(port)
    yield* portError(half.accept(port), /no port named .* is open/)
  }
})

/** Names: publish, look up, unpublish; and the refusals. Any number of ranks. */
export const names = Effect.gen(function*() {
  const w = yield* Comm.World
  if (w.rank === 0) {
    const port = yield* Comm.openPort
    yield* Comm.publishName("solver", port)
    yield* portError(Comm.publishName("solver", port), /"solver" is published already/)
    yield* portError(Comm.publishName("other", "rankflow-port-none"), /no port named "rankflow-port-none" is open/)
  }
  yield* w.barrier()
  const port = yield* Comm.lookupName("solver")
  yield* check(port.startsWith("rankflow-port-"), `lookupName: ${port}`)
  yield* portError(Comm.lookupName("nobody"), /no port is published as "nobody"/)
  yield* w.barrier()
  if (w.rank === 0) {
    yield* Comm.unpublishName("solver")
    yield* portError(Comm.unpublishName("solver"), /no port is published as "solver"/)
  }
  yield* w.barrier()
  yield* portError(Comm.lookupName("solver"), /no port is published/)
  // A connect to a port no one opened fails on every rank of the group; so does a bad root.
  yield* portError(w.connect("rankflow-port-nowhere"), /no port named "rankflow-port-nowhere" is open/)
  yield* portError(w.accept(port, { root: w.size }), /root .* is not a rank/)
})

/** Two accepts on one port: whichever reaches the launcher second is refused, and connects instead. Needs 2 ranks or more. */
export const twoAccepts = Effect.gen(function*() {
  const w = yield* Comm.World
  const self = Option.getOrThrow(yield* w.split(w.rank))
  if (w.rank > 1) return
  const port = w.rank === 0 ? yield* Comm.openPort : ""
  const shared = w.rank === 0 ? (yield* w.send(port, { dest: 1, tag: 4 }), port) : yield* w.recv<string>({ source: 0, tag: 4 })
  const accepted = yield* Effect.result(self.accept(shared))
  if (accepted._tag === "Failure") {
    yield* check(/another accept waits on the port/.test(accepted.failure.message), `the second accept: ${accepted.failure.message}`)
    yield* (yield* self.connect(shared)).disconnect()
  } else yield* accepted.success.disconnect()
  const outcomes = yield* w.sendrecv<string>(accepted._tag, { dest: 1 - w.rank, source: 1 - w.rank, tag: 6 })
  yield* check(outcomes !== accepted._tag, `exactly one accept was refused (${accepted._tag} here, ${outcomes} there)`)
})
