/**
 * Ports and names (comm.accept/connect, Comm.openPort, publishName,
 * lookupName) on shm and NATS, on 1, 2, 4 and 8 ranks: each test runs a rank
 * program of test/programs/ports.ts that checks its rule on every rank.
 */
import { describe, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { afterAll, beforeAll } from "vitest"
import * as World from "../../core/launching/World.ts"
import { type NatsServer, startServer } from "../support/nats-server.ts"
import { program, SIZES, TRANSPORTS, useWorlds } from "../support/worlds.ts"

const cases = TRANSPORTS.flatMap((transport) => SIZES.map((size) => [transport, size] as const))

describe.each(cases)("ports on %s, %i ranks", (transport, size) => {
  const worlds = useWorlds({ transport })
  const run = (name: string) => worlds.run(size, program("ports.ts", name))
  it.effect("names: publish, look up, unpublish; refusals are PortErrors on every rank", () => run("names"))
  if (size >= 2) {
    it.effect("the evens accept, the odds connect: sizes, bcast and allreduce across, merge, disconnect, close", () => run("acceptConnect"))
    it.effect("a second accept on a port is refused", () => run("twoAccepts"))
  }
})

/**
 * Two independent NATS jobs on one server (two launchers, two job ids): one
 * publishes a name and accepts, the other looks it up and connects; their
 * ranks then talk through a link that neither job's transport had before.
 */
describe("ports between two jobs on one NATS server", () => {
  let server: NatsServer | undefined
  let scope: Scope.Closeable | undefined
  beforeAll(async () => {
    server = await startServer()
    scope = await Effect.runPromise(Scope.make())
  }, 120_000)
  afterAll(async () => {
    if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
    await server?.stop()
  }, 120_000)
  const job = (size: number) =>
    Scope.provide(World.make({ size, transport: "nats", transportOptions: { servers: server!.url } }), scope!)
  const both = (a: Effect.Effect<unknown, unknown>, b: Effect.Effect<unknown, unknown>) => Effect.all([a, b], { concurrency: 2, discard: true })

  it.live.each([[1, 1], [2, 3], [4, 2], [1, 8]] as const)("a job of %i accepts, a job of %i connects: messages, collectives, merge, disconnect", ([servers, clients]) =>
    Effect.gen(function*() {
      const [a, b] = yield* Effect.all([job(servers), job(clients)], { concurrency: 2 })
      const service = `solver-${servers}-${clients}`
      yield* both(a.run(program("ports.ts", "acrossServer", service, clients)), b.run(program("ports.ts", "acrossClient", service, servers)))
      // Each job runs again afterwards: the link closed with the disconnect, nothing of it is left.
      yield* both(a.run(program("ports.ts", "acrossServer", `${service}-again`, clients)), b.run(program("ports.ts", "acrossClient", `${service}-again`, servers)))
    }), 120_000)

  it.live("a job whose run ends without disconnect: the other job's receive from it fails with RankFailed", () =>
    Effect.gen(function*() {
      const [a, b] = yield* Effect.all([job(1), job(2)], { concurrency: 2 })
      yield* both(a.run(program("ports.ts", "acceptAndLeave", "brief")), b.run(program("ports.ts", "connectAndWait", "brief")))
    }), 120_000)

  it.live("refusals between jobs: a port open nowhere, a name taken by another job, an unknown name", () =>
    Effect.gen(function*() {
      const [a, b] = yield* Effect.all([job(1), job(2)], { concurrency: 2 })
      yield* both(a.run(program("ports.ts", "publishAndHold", "taken")), b.run(program("ports.ts", "refuseThenRelease", "taken")))
    }), 120_000)
})
