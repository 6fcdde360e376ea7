/**
 * Rank programs for the ports suite (test/core/ports.test.ts), after mpi4py's
 * test_dynproc.py: the world's even ranks accept on a port, its odd ranks
 * connect; names published and looked up; every refusal a PortError.
 */
import { Effect, Option, Schedule } from "effect"
import { Comm, Intercomm, Op, PROC_NULL, Request } from "rankflow"
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

/** Until `service` is published (by another job, starting at the same time): its port. */
const lookUpSoon = (service: string) =>
  Comm.lookupName(service).pipe(Effect.retry({ schedule: Schedule.spaced("20 millis"), times: 1500 }))

/**
 * Between two jobs on one NATS server: this job accepts on a port published
 * as `service`; `acrossClient` in the other job (of `clients` ranks) connects.
 * Point-to-point both ways (a 3 MB array too), ssend, bcast, allreduce,
 * merge (this side first), the merged communicator's collectives, disconnect.
 */
export const acrossServer = (service: string, clients: number) =>
  Effect.gen(function*() {
    const w = yield* Comm.World
    const port = w.rank === 0 ? yield* Comm.openPort : ""
    if (w.rank === 0) yield* Comm.publishName(service, port)
    const inter = yield* w.accept(port)
    yield* across(inter, "server", w.size, clients)
    const merged = yield* inter.merge(false)
    yield* checkEqual([merged.size, merged.rank], [w.size + clients, w.rank], "merge: the accepting job first")
    yield* checkEqual(yield* merged.allreduce(1, Op.SUM), w.size + clients, "allreduce over the merged communicator")
    const names = yield* merged.allgather(`server ${w.rank}`)
    yield* checkEqual(names.slice(0, w.size), Array.from({ length: w.size }, (_, r) => `server ${r}`), "allgather: the servers first")
    yield* inter.disconnect()
    yield* merged.barrier()
    if (w.rank === 0) {
      yield* Comm.unpublishName(service)
      yield* Comm.closePort(port)
    }
  })

export const acrossClient = (service: string, servers: number) =>
  Effect.gen(function*() {
    const w = yield* Comm.World
    const port = w.rank === 0 ? yield* lookUpSoon(service) : ""
    const inter = yield* w.connect(port)
    yield* across(inter, "client", w.size, servers)
    const merged = yield* inter.merge(true)
    yield* checkEqual([merged.size, merged.rank], [w.size + servers, servers + w.rank], "merge: the connecting job second")
    yield* checkEqual(yield* merged.allreduce(1, Op.SUM), w.size + servers, "allreduce over the merged communicator")
    const names = yield* merged.allgather(`client ${w.rank}`)
    yield* checkEqual(names.slice(servers), Array.from({ length: w.size }, (_, r) => `client ${r}`), "allgather: the clients second")
    yield* inter.disconnect()
    yield* merged.barrier()
    const gone = yield* Effect.flip(inter.barrier())
    yield* check(/after disconnect/.test(gone.message), `a barrier after disconnect: ${gone.message}`)
  })

/** What both sides of `acrossServer`/`acrossClient` check on their intercommunicator. */
const across = (inter: Intercomm.Intercomm, me: "server" | "client", size: number, remote: number) =>
  Effect.gen(function*() {
    yield* checkEqual([inter.size, inter.remoteSize], [size, remote], "size and remoteSize across jobs")
    // Each rank sends to every remote rank and receives from every one.
    const sends = yield* Effect.forEach(Array.from({ length: remote }, (_, r) => r), (r) =>
      inter.isend({ from: me, rank: inter.rank, to: r }, { dest: r, tag: 3 }))
    for (let r = 0; r < remote; r++) {
      const got = yield* inter.recv<{ from: string; rank: number; to: number }>({ source: r, tag: 3 })
      yield* checkEqual(got, { from: me === "server" ? "client" : "server", rank: r, to: inter.rank }, "a message from the other job")
    }
    yield* Request.waitAll(sends)
    // A large array between the two rank 0s, both ways, and an ssend.
    if (inter.rank === 0) {
      const big = Float64Array.from({ length: 400_000 }, (_, i) => i * (me === "server" ? 1 : -1))
      const back = yield* inter.sendrecv<Float64Array>(big, { dest: 0, source: 0, tag: 5 })
      yield* checkEqual([back.length, back[399_999]], [400_000, 399_999 * (me === "server" ? -1 : 1)], "a 3.2 MB array across jobs")
      if (me === "server") yield* inter.ssend("synchronous", { dest: 0, tag: 6 })
      else yield* checkEqual(yield* inter.recv<string>({ source: 0, tag: 6 }), "synchronous", "ssend across jobs")
    }
    const root = me === "server" ? (inter.rank === 0 ? Intercomm.ROOT : PROC_NULL) : 0
    const got = yield* inter.bcast(me === "server" ? "from the server job" : undefined, { root })
    if (me === "client") yield* checkEqual(got, "from the server job", "bcast across jobs")
    const sum = yield* inter.allreduce(inter.rank + 1, Op.SUM)
    yield* checkEqual(sum, (remote * (remote + 1)) / 2, "allreduce gives the other job's sum")
  })

/** Refusals between jobs: a port open nowhere, a name another job published, a name nobody published. */
export const acrossRefusals = (service: string) =>
  Effect.gen(function*() {
    const w = yield* Comm.World
    yield* portError(w.connect("rankflow-port-of-nobody"), /no port named "rankflow-port-of-nobody" is open, in this job or in another/)
    if (w.rank === 0) {
      yield* lookUpSoon(service)
      const port = yield* Comm.openPort
      yield* portError(Comm.publishName(service, port), /is published already .*by another job/)
      yield* portError(Comm.lookupName(`${service}-nobody`), /no port is published as/)
    }
  })

/** Publishes `service` and holds it until the other job's rank 0 says it is done (a message would need a link: it connects). */
export const publishAndHold = (service: string) =>
  Effect.gen(function*() {
    const w = yield* Comm.World
    const self = Option.getOrThrow(yield* w.split(w.rank))
    if (w.rank !== 0) return
    const port = yield* Comm.openPort
    yield* Comm.publishName(service, port)
    const inter = yield* self.accept(port)
    yield* checkEqual(yield* inter.recv<string>({ source: 0 }), "done", "the other job's word")
    yield* inter.disconnect()
  })

/** The other side of `publishAndHold`: its checks, then it says done. */
export const refuseThenRelease = (service: string) =>
  Effect.gen(function*() {
    yield* acrossRefusals(service)
    const w = yield* Comm.World
    const self = Option.getOrThrow(yield* w.split(w.rank))
    if (w.rank !== 0) return
    const inter = yield* self.connect(yield* lookUpSoon(service))
    yield* inter.send("done", { dest: 0 })
    yield* inter.disconnect()
  })

/** Accepts one connect and ends its run at once, without disconnect: its side of the link closes with the run. */
export const acceptAndLeave = (service: string) =>
  Effect.gen(function*() {
    const w = yield* Comm.World
    const port = w.rank === 0 ? yield* Comm.openPort : ""
    if (w.rank === 0) yield* Comm.publishName(service, port)
    yield* w.accept(port)
  })

/** Connects, then waits for a message that never comes: the receive fails with RankFailed once the other job's run ended. */
export const connectAndWait = (service: string) =>
  Effect.gen(function*() {
    const w = yield* Comm.World
    const inter = yield* w.connect(w.rank === 0 ? yield* lookUpSoon(service) : "")
    const failed = yield* Effect.flip(inter.recv({ source: 0 }))
    yield* check(failed._tag === "RankFailed" && /left the job/.test(failed.message), `a receive from a job that ended: ${failed._tag}: ${failed.message}`)
  })
