/**
 * Faults on real nats-server processes: a cluster server killed mid-stream, a
 * single server restarted mid-run, a rank SIGKILLed, a rank slow to receive.
 * Each test is bounded; together they run in well under a minute.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { afterAll, beforeAll } from "vitest"
import { type NatsCluster, type NatsServer, startCluster, startServer } from "../../support/nats-server.ts"
import { runFixture } from "./fixture.ts"

const progressOf = (event: { _tag: string; message?: unknown }): number | undefined => {
  const m = event.message as { _tag?: string; received?: number } | undefined
  return event._tag === "Message" && m?._tag === "Progress" ? m.received : undefined
}

describe("a 3-server cluster", () => {
  let cluster: NatsCluster
  beforeAll(async () => {
    cluster = await startCluster(3)
  })
  afterAll(async () => {
    await cluster?.stop()
  })

  it.live("killing the server ranks are connected to mid-stream: they fail over, and 102,000 messages arrive exactly once, in order", () =>
    Effect.gen(function*() {
      // Rank r starts on server r: rank 0 is on server 0, which dies about a third into the stream.
      const count = 17_000
      let killed = false
      let held = 0
      const out = yield* runFixture({
        size: 3,
        servers: cluster.urls,
        // Every rank holds after 6000 packets to each peer until the kill has begun: the rest of the
        // stream goes while server 0 dies, however fast the ranks are.
        scenario: { scenario: "stream", count, sizes: "small", self: false, progressEvery: 2000, holdAt: 6000 },
        timeoutMs: 90_000,
        onEvent: async (event, job) => {
          const received = progressOf(event)
          if (received === 12_000 && ++held === 3) {
            const kill = cluster.servers[0]!.kill()
            for (const r of [0, 1, 2]) job.post(r, { _tag: "Resume" })
            await kill
            killed = true
          }
        }
      })
      expect(killed).toBe(true)
      for (let r = 0; r < 3; r++) expect(out.results.get(r).received).toBe(2 * count)
      expect(out.results.get(0).stats.reconnects).toBeGreaterThanOrEqual(1)
    }), 100_000)
})

describe("one server", () => {
  let server: NatsServer
  beforeAll(async () => {
    server = await startServer()
  })
  afterAll(async () => {
    await server?.stop()
  })

  it.live("restarting the server mid-run: the ranks reconnect and the run completes", () =>
    Effect.gen(function*() {
      let restarted = false
      let held = 0
      const out = yield* runFixture({
        size: 2,
        servers: server.url,
        // The ranks hold after 4000 packets each way until the restart has begun, however fast they stream:
        // the rest is sent while the server goes down and comes back.
        scenario: { scenario: "stream", count: 15_000, sizes: "small", self: false, progressEvery: 1000, holdAt: 4000 },
        timeoutMs: 90_000,
        onEvent: async (event, job) => {
          const received = progressOf(event)
          if (received === 4000 && ++held === 2) {
            const restart = server.restart()
            for (const r of [0, 1]) job.post(r, { _tag: "Resume" })
            await restart
            restarted = true
          }
        }
      })
      expect(restarted).toBe(true)
      for (const r of [0, 1]) {
        expect(out.results.get(r).received).toBe(15_000)
        expect(out.results.get(r).stats.reconnects).toBeGreaterThanOrEqual(1)
      }
    }), 100_000)

  it.live("a SIGKILLed rank: the others get PeerFailure (from the heartbeats), sends to it fail, and the launcher reports it killed", () =>
    Effect.gen(function*() {
      let killed = false
      const pids = new Map<number, number>()
      const out = yield* runFixture({
        size: 3,
        servers: server.url,
        // Short, so that the test does not wait out the 10 s default.
        heartbeat: { interval: 1000, timeout: 4000 },
        scenario: { scenario: "watchFailures", expect: 1 },
        allowExit: true,
        timeoutMs: 30_000,
        onEvent: (event) => {
          const m = event._tag === "Message" ? (event.message as { _tag?: string; pid?: number }) : undefined
          if (m?._tag === "Pid") pids.set(event.rank, m.pid!)
          if (pids.size === 3 && !killed) {
            killed = true
            process.kill(pids.get(2)!, "SIGKILL")
          }
        }
      })
      expect(out.results.get(2).exited).toMatchObject({ rank: 2, error: "rank 2 was killed by SIGKILL" })
      for (const r of [0, 1]) {
        const { failures, sendError } = out.results.get(r)
        expect(failures).toHaveLength(1)
        expect(failures[0].rank).toBe(2)
        expect(failures[0].reason).toMatch(/rank 2 stopped responding/)
        expect(sendError.tag).toBe("PeerFailure")
      }
    }), 40_000)

  it.live("a rank slow to receive is not disconnected, and the bytes both sides buffer stay within the credit window", () =>
    Effect.gen(function*() {
      const window = 4 * 1024 * 1024
      const frame = 256 * 1024
      const out = yield* runFixture({
        size: 2,
        servers: server.url,
        window,
        scenario: { scenario: "slowReceiver", messages: 120, bytes: 1024 * 1024, delayMs: 2500 },
        timeoutMs: 60_000
      })
      const sender = out.results.get(0)
      const receiver = out.results.get(1)
      // 120 MiB were sent to a rank that took nothing for 2.5 s: it held at most its window.
      expect(receiver.peakHeld).toBeLessThanOrEqual(window)
      expect(receiver.stats.peakHeldBytes).toBeLessThanOrEqual(window)
      expect(sender.stats.peakUnackedBytes).toBeLessThanOrEqual(window + 2 * frame)
      expect(sender.peakQueued).toBeGreaterThan(100)
      for (const side of [sender, receiver]) expect(side.stats.disconnects).toBe(0)
    }), 70_000)
})
