/**
 * The NATS transport on one real server (a nats-server process on a free
 * loopback port): ordering, chunking of a 256 MiB message, two jobs side by
 * side, a job spread over two launchers, the join timeout, foreign messages,
 * and authentication. Each test drives the Transport through the fixture
 * runner (fixtures/runner.ts), without core.
 */
import { connect } from "@nats-io/transport-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Queue, Scope } from "effect"
import { afterAll, beforeAll, vi } from "vitest"
import { NatsLauncher } from "../../../transports/nats/NatsLauncher.ts"
import * as Frame from "../../../transports/nats/Frame.ts"
import type { TransportError } from "../../../transports/Transport.ts"
import { haveOpenssl, makeCertificates, type NatsServer, startServer, type TestCertificates } from "../../support/nats-server.ts"
import { runFixture } from "./fixture.ts"

let server: NatsServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.stop()
})

describe("ordering on one server", () => {
  for (const size of [1, 2, 4]) {
    const count = size === 4 ? 2500 : 10_000
    it.live(`${count * size} packets of mixed sizes to every rank arrive intact, once, in order per sender (${size} rank${size > 1 ? "s" : ""})`, () =>
      Effect.gen(function*() {
        const { results } = yield* runFixture({ size, servers: server.url, scenario: { scenario: "stream", count }, timeoutMs: 90_000 })
        for (let r = 0; r < size; r++) {
          const { received, stats } = results.get(r)
          expect(received).toBe(count * size)
          expect(stats.dropped).toBe(0)
          // Each rank sends a window of messages to each peer in one turn: those go out as bundles
          // (several frames in one NATS message), and order survives them.
          if (size > 1) {
            expect(stats.bundlesSent).toBeGreaterThan(0)
            expect(stats.framesBundled).toBeGreaterThanOrEqual(2 * stats.bundlesSent)
            expect(stats.framesBundled).toBeLessThanOrEqual(stats.framesSent)
          }
        }
      }), 100_000)
  }
})

it.live("a 256 MiB Float64Array travels in chunks and arrives as an aligned view", () =>
  Effect.gen(function*() {
    const elements = 32 * 1024 * 1024
    const { results } = yield* runFixture({ size: 2, servers: server.url, scenario: { scenario: "big", elements }, timeoutMs: 90_000 })
    expect(results.get(1).header).toEqual([1, 2, 3])
    // Chunked: far more frames than the one message.
    expect(results.get(1).stats.framesReceived).toBeGreaterThan(256)
  }), 100_000)

it.live("two jobs on one server at once never see each other's frames", () =>
  Effect.gen(function*() {
    const [a, b] = yield* Effect.all([
      runFixture({ size: 3, servers: server.url, scenario: { scenario: "tokens", token: "job A", rounds: 200 } }),
      runFixture({ size: 3, servers: server.url, scenario: { scenario: "tokens", token: "job B", rounds: 200 } })
    ], { concurrency: 2 })
    expect(a.job.job).not.toBe(b.job.job)
    for (const out of [a, b]) {
      for (let r = 0; r < 3; r++) {
        expect(out.results.get(r).rounds).toBe(200)
        expect(out.results.get(r).stats.dropped).toBe(0)
      }
    }
  }), 60_000)

it.live("one job spread over two launchers (as on two hosts) joins and runs", () =>
  Effect.gen(function*() {
    const job = `split-${Date.now()}`
    const scenario = { scenario: "stream", count: 500 } as const
    const [low, high] = yield* Effect.all([
      runFixture({ size: 4, servers: server.url, job, ranks: "0-1", scenario }),
      runFixture({ size: 4, servers: server.url, job, ranks: "2-3", scenario })
    ], { concurrency: 2 })
    expect([...low.results.keys()].sort()).toEqual([0, 1])
    expect([...high.results.keys()].sort()).toEqual([2, 3])
    for (const out of [low, high]) for (const r of out.results.values()) expect(r.received).toBe(2000)
  }), 60_000)

it.live("the join fails after the timeout, naming the ranks that never came", () =>
  Effect.gen(function*() {
    const { results } = yield* runFixture({
      size: 5, servers: server.url, job: `lonely-${Date.now()}`, ranks: "0-1", joinTimeout: 1500,
      scenario: { scenario: "tokens", token: "t", rounds: 1 }, allowExit: true, prefixOutput: false
    })
    for (const r of [0, 1]) {
      const exited = results.get(r).exited
      expect(exited.code).toBe(1)
      expect(exited.error).toMatch(/only 2 of 5 ranks joined within 1\.5 s; missing ranks 2-4/)
    }
  }), 30_000)

for (const frameAuth of [true, false]) {
  it.live(`malformed and foreign messages on the job's subjects are dropped with a warning and break nothing (frame authentication ${frameAuth ? "on" : "off"})`, () =>
    Effect.gen(function*() {
      const job = `foreign-${frameAuth ? "auth" : "open"}-${Date.now()}`
      const warnings: Array<string> = []
      const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
        warnings.push(String(chunk))
        return true
      })
      const nc = yield* Effect.promise(() => connect({ servers: server.url }))
      const sender = (source: number, incarnation: number) => ({ source, incarnation, run: 0, trailer: 0 })
      const garbage = [
        new TextEncoder().encode("hello from another program"),
        new Uint8Array(0),
        Frame.encodeAck(sender(0, 12345), 3, 1 << 30), // a well-formed frame from a process that is not rank 0
        Frame.encodeFailed(sender(7, 1), 1, "rank 7 does not exist"),
        (() => {
          const f = new Uint8Array(Frame.DATA_HEADER_BYTES + 8)
          Frame.writeData(f, { flags: Frame.FLAG_FIRST, source: 1, incarnation: 99, run: 0, trailer: 0, seq: 1, ack: 0, credit: 0, message: 1, offset: 0 })
          return f
        })(),
        // A well-formed bundle of a DATA frame from a process that is not rank 1, and one that lies about its count.
        ...(() => {
          const f = new Uint8Array(Frame.DATA_HEADER_BYTES + 8)
          Frame.writeData(f, { flags: Frame.FLAG_FIRST | Frame.FLAG_LAST, source: 1, incarnation: 99, run: 0, trailer: 0, seq: 1, ack: 0, credit: 0, message: 1, offset: 0 })
          const bundle = Frame.encodeBundle(sender(1, 99), [f], Frame.bundleEntryBytes(f.length))
          const lying = bundle.slice()
          lying[24] = 2
          return [bundle, lying]
        })()
      ]
      const out = yield* runFixture({
        size: 2, servers: server.url, job, frameAuth,
        scenario: { scenario: "stream", count: 3000, sizes: "small" },
        onEvent: (event) => {
          if (event._tag !== "Message" || (event.message as { _tag?: string })._tag !== "Ready") return
          for (const g of garbage) {
            nc.publish(`rankflow.${job}.to.${event.rank}`, g)
            nc.publish(`rankflow.${job}.all`, g)
          }
        }
      }).pipe(Effect.ensuring(Effect.promise(async () => {
        spy.mockRestore()
        await nc.close()
      })))
      for (const r of [0, 1]) {
        expect(out.results.get(r).received).toBe(6000)
        expect(out.results.get(r).stats.dropped).toBeGreaterThanOrEqual(garbage.length)
      }
      const text = warnings.join("")
      expect(text).toMatch(new RegExp(`\\[\\d\\] rankflow nats \\(rank \\d\\): dropped a message on rankflow\\.${job}\\.(to\\.\\d|all): `))
      if (frameAuth) {
        // Every well-formed foreign frame fails authentication before anything else is looked at.
        expect(text).toMatch(/it is not authenticated, and this job requires a valid tag on every frame/)
        for (const r of [0, 1]) expect(out.results.get(r).stats.unauthenticated).toBeGreaterThanOrEqual(3)
      } else {
        expect(text).toMatch(/magic/)
        expect(text).toMatch(/another run of job|another process than the one that joined as rank 0/)
        expect(text).toMatch(/source rank 7 is not in this job of 2 ranks/)
        expect(text).toMatch(/a bundle on the job subject \(bundles go to one rank\)/)
        expect(text).toMatch(/a bundle of 2 frames ends after 1/)
      }
    }), 60_000)
}

describe("polling while a rank waits", () => {
  it.live("a rank told that its receive waits polls its connection (pollMicros), and never with pollMicros 0; the tokens arrive either way", () =>
    Effect.gen(function*() {
      const scenario = { scenario: "tokens", token: "poll", rounds: 50, park: true } as const
      const polling = yield* runFixture({ size: 2, servers: server.url, pollMicros: 20_000, scenario })
      const sleeping = yield* runFixture({ size: 2, servers: server.url, pollMicros: 0, scenario })
      for (let r = 0; r < 2; r++) {
        expect(polling.results.get(r).rounds).toBe(50)
        expect(sleeping.results.get(r).rounds).toBe(50)
        expect(polling.results.get(r).stats.pollTurns).toBeGreaterThan(0)
        expect(sleeping.results.get(r).stats.pollTurns).toBe(0)
      }
    }), 60_000)
})

describe("a server with authentication", () => {
  let userServer: NatsServer
  let tokenServer: NatsServer
  beforeAll(async () => {
    ;[userServer, tokenServer] = await Promise.all([startServer({ user: "alice", password: "s3cret" }), startServer({ token: "t0ken" })])
  })
  afterAll(async () => {
    await Promise.all([userServer?.stop(), tokenServer?.stop()])
  })

  const tokens = { scenario: "tokens", token: "x", rounds: 20 } as const

  it.live("the right user and password, or token, let the ranks in", () =>
    Effect.gen(function*() {
      const a = yield* runFixture({ size: 2, servers: userServer.url, user: "alice", password: "s3cret", scenario: tokens })
      const b = yield* runFixture({ size: 2, servers: tokenServer.url, token: "t0ken", scenario: tokens })
      expect(a.results.get(0).rounds).toBe(20)
      expect(b.results.get(0).rounds).toBe(20)
    }), 30_000)

  const launchFails = (options: Record<string, unknown>): Effect.Effect<TransportError> =>
    Effect.scoped(Effect.flip(NatsLauncher.launch({ size: 2, runner: "file:///nowhere.ts", ...options }))).pipe(
      Effect.catch((job) => Effect.die(new Error(`the launch succeeded (job ${job.job})`)))
    )

  it.live("a wrong password, a wrong token or none fail the launch with a TransportError that says what to check", () =>
    Effect.gen(function*() {
      const wrongPassword = yield* launchFails({ servers: userServer.url, user: "alice", password: "guess" })
      expect(wrongPassword._tag).toBe("TransportError")
      expect(wrongPassword.message).toMatch(/refused user "alice" and its password \(Authorization Violation\): check --user\/--password/)
      const wrongToken = yield* launchFails({ servers: tokenServer.url, token: "nope" })
      expect(wrongToken.message).toMatch(/refused the token/)
      const none = yield* launchFails({ servers: userServer.url })
      expect(none.message).toMatch(/requires authentication: pass --user\/--password, --token or --creds/)
    }), 30_000)

  it.live("no server at the address fails the launch saying so", () =>
    Effect.gen(function*() {
      const error = yield* launchFails({ servers: "nats://127.0.0.1:1" })
      expect(error.message).toMatch(/cannot reach a NATS server at nats:\/\/127\.0\.0\.1:1 .*is nats-server running/)
    }), 30_000)
})

describe.skipIf(!haveOpenssl())("a server with TLS", () => {
  let certs: TestCertificates
  let tlsServer: NatsServer
  let verifyingServer: NatsServer
  beforeAll(async () => {
    certs = makeCertificates()
    ;[tlsServer, verifyingServer] = await Promise.all([
      startServer({ tls: { cert: certs.serverCert, key: certs.serverKey } }),
      startServer({ tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, verify: true } })
    ])
  })
  afterAll(async () => {
    await Promise.all([tlsServer?.stop(), verifyingServer?.stop()])
    certs?.remove()
  })

  const tokens = { scenario: "tokens", token: "x", rounds: 20 } as const

  it.live("the CA file lets the ranks verify the server; a client certificate lets a verifying server accept them", () =>
    Effect.gen(function*() {
      const a = yield* runFixture({ size: 2, servers: tlsServer.url, tls: { ca: certs.ca }, scenario: tokens })
      const b = yield* runFixture({ size: 2, servers: verifyingServer.url, tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey }, scenario: tokens })
      expect(a.results.get(1).rounds).toBe(20)
      expect(b.results.get(1).rounds).toBe(20)
    }), 30_000)

  it.live("without the CA the server's certificate is refused, with a TransportError saying so", () =>
    Effect.gen(function*() {
      const error = yield* Effect.scoped(Effect.flip(NatsLauncher.launch({ size: 1, runner: "file:///nowhere.ts", servers: tlsServer.url })))
      expect(error._tag).toBe("TransportError")
      expect(error.message).toMatch(/TLS with the NATS server at nats:\/\/127\.0\.0\.1:\d+ failed \(.*certificate.*\): check --tls-ca/)
    }), 30_000)
})

it.live("a rank that crashes is reported as Exited with its error and stack", () =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const job = yield* Scope.provide(
      NatsLauncher.launch({ size: 1, servers: server.url, runner: new URL("./fixtures/crashing-runner.ts", import.meta.url).href, prefixOutput: false }),
      scope
    )
    const event = yield* Queue.take(job.events)
    yield* Scope.close(scope, Exit.void)
    expect(event).toMatchObject({ _tag: "Exited", rank: 0, code: 1 })
    expect(event._tag === "Exited" && event.error).toMatch(/^Error: crashed on purpose\n\s+at /)
  }), 30_000)
