// Two jobs meet through a published name (MPI's client/server pattern): the server
// job opens a port, publishes it as "adder" and accepts; the client job looks the
// name up and connects. The server adds up one number from every client rank and
// sends the sum back. Run both on one NATS server:
//   npx rankflow run -n 2 --transport nats --nats nats://127.0.0.1:4222 examples/client-server.ts server
//   npx rankflow run -n 3 --transport nats --nats nats://127.0.0.1:4222 examples/client-server.ts client
import { Effect, Schedule } from "effect"
import { Comm, Intercomm, Op, PROC_NULL, Rank } from "rankflow"

const server = Effect.gen(function*() {
  const world = yield* Comm.World
  const isRoot = world.rank === 0
  const port = isRoot ? yield* Comm.openPort : ""
  if (isRoot) yield* Comm.publishName("adder", port)
  const clients = yield* world.accept(port)
  const sum = yield* clients.reduce<number>(undefined, Op.SUM, { root: isRoot ? Intercomm.ROOT : PROC_NULL })
  yield* clients.bcast(sum, { root: isRoot ? Intercomm.ROOT : PROC_NULL })
  if (isRoot) yield* Effect.log(`served ${clients.remoteSize} clients: their numbers add up to ${sum}`)
  yield* clients.disconnect()
  if (isRoot) yield* Effect.andThen(Comm.unpublishName("adder"), Comm.closePort(port))
})

const client = Effect.gen(function*() {
  const world = yield* Comm.World
  // The server job may not have published the name yet: look again until it has.
  const port = world.rank === 0 ? yield* Comm.lookupName("adder").pipe(Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 300 })) : ""
  const server = yield* world.connect(port)
  yield* server.reduce(world.rank + 1, Op.SUM, { root: 0 })
  const sum = yield* server.bcast<number>(undefined, { root: 0 })
  yield* Effect.log(`client ${world.rank}: the server job says the sum is ${sum}`)
  yield* server.disconnect()
})

Rank.main(process.argv[2] === "server" ? server : client)
