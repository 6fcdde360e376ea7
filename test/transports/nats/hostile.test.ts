/**
 * Hostile neighbours on a shared NATS server, re-run as tests: a client that
 * sniffs a job's frames and forges DATA and FAILED frames with a rank's
 * identity, two jobs started at once with one job id, overlapping --ranks, a
 * duplicate started while a job runs, and a server whose permissions keep
 * another user off a job's subjects.
 */
import { connect, type NatsConnection } from "@nats-io/transport-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, vi } from "vitest"
import { singleFrameLength, writeSingleFrame } from "../../../transports/nats/Chunking.ts"
import * as Frame from "../../../transports/nats/Frame.ts"
import type { NatsJob } from "../../../transports/nats/NatsLauncher.ts"
import { type NatsServer, startServer } from "../../support/nats-server.ts"
import { type FixtureOutcome, runFixture } from "./fixture.ts"

let server: NatsServer
/** A key file, as every host of a job (or two people copying the same command) would give. */
let keyFile: string
beforeAll(async () => {
  server = await startServer()
  keyFile = join(mkdtempSync(join(tmpdir(), "rankflow-key-")), "job.key")
  writeFileSync(keyFile, "0f1e2d3c4b5a69788796a5b4c3d2e1f0\n")
})
afterAll(async () => {
  await server?.stop()
})

/** Collects what the ranks print on stderr (their warnings) while `effect` runs. */
const withWarnings = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<{ value: Exit.Exit<A, E>; warnings: string }> =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk))
      return true
    })
    const value = yield* Effect.exit(effect).pipe(Effect.ensuring(Effect.sync(() => spy.mockRestore())))
    return { value, warnings: lines.join("") }
  })

/**
 * The attacker: a plain client subscribed to every subject of `job`. On the
 * first DATA frame from rank 0 to rank 1 it copies rank 0's identity (its
 * incarnation and run) and publishes a DATA frame with the next sequence
 * number carrying `text`, and a FAILED frame declaring rank 1 failed. Where
 * the job authenticates frames, it sets the authentication byte and appends a
 * made-up tag, as a forger without the key would have to.
 */
const forger = (nc: NatsConnection, job: string, text: string): { readonly forged: Promise<void> } => {
  let resolve: () => void = () => {}
  const forged = new Promise<void>((r) => (resolve = r))
  let done = false
  nc.subscribe(`rankflow.${job}.to.1`, {
    callback: (_e, msg) => {
      const f = Frame.decode(msg.data)
      const tagged = msg.data[Frame.AUTH_OFFSET] === Frame.AUTH_HMAC
      if (done || typeof f === "string" || f.kind !== "data" || f.source !== 0) return
      done = true
      const trailer = tagged ? 16 : 0
      const fields = { source: 0, incarnation: f.incarnation, run: f.run, trailer, seq: f.seq + 1, ack: f.ack, credit: f.credit }
      const packet = { envelope: new Uint8Array(16), frames: { header: new TextEncoder().encode(text), buffers: [] } }
      const data = new Uint8Array(singleFrameLength(packet.envelope, packet.frames, trailer))
      writeSingleFrame(data, packet.envelope, packet.frames, f.message + 1, fields)
      if (tagged) data.fill(0x5a, data.length - 16)
      nc.publish(`rankflow.${job}.to.1`, data)
      const failed = Frame.encodeFailed(fields, 1, "forged: rank 1 is dead")
      if (tagged) failed.fill(0x5a, failed.length - 16)
      nc.publish(`rankflow.${job}.all`, failed)
      void nc.flush().then(resolve)
    }
  })
  return { forged }
}

describe("forged frames from a client of the same server", () => {
  it.live("with a job key (the default for a single launcher), a forged DATA frame and a forged FAILED frame are dropped, counted and named in a warning", () =>
    Effect.gen(function*() {
      const job = `forge-key-${Date.now()}`
      const nc = yield* Effect.promise(() => connect({ servers: server.url }))
      const attack = forger(nc, job, "FORGED!")
      const { value, warnings } = yield* withWarnings(
        runFixture({ size: 2, servers: server.url, job, scenario: { scenario: "tokens", token: "genuine", rounds: 40, paceMs: 10 } })
      ).pipe(Effect.ensuring(Effect.promise(() => nc.close())))
      yield* Effect.promise(() => attack.forged)
      expect(Exit.isSuccess(value)).toBe(true)
      const out = (value as Exit.Success<FixtureOutcome, Error>).value
      for (const r of [0, 1]) expect(out.results.get(r).rounds).toBe(40)
      expect(out.results.get(1).stats.unauthenticated).toBeGreaterThanOrEqual(2)
      expect(warnings).toMatch(new RegExp(`dropped a message on rankflow\\.${job}\\.to\\.1: its authentication tag does not verify`))
      expect(warnings).toMatch(new RegExp(`dropped a message on rankflow\\.${job}\\.all: its authentication tag does not verify`))
    }), 60_000)

  it.live("without a key (frameAuth off), the same forgery is taken for rank 0's message: the trust model the key closes", () =>
    Effect.gen(function*() {
      const job = `forge-open-${Date.now()}`
      const nc = yield* Effect.promise(() => connect({ servers: server.url }))
      forger(nc, job, "FORGED!")
      const out = yield* Effect.exit(
        runFixture({ size: 2, servers: server.url, job, frameAuth: false, scenario: { scenario: "tokens", token: "genuine", rounds: 40, paceMs: 10 } })
      ).pipe(Effect.ensuring(Effect.promise(() => nc.close())))
      expect(Exit.isFailure(out)).toBe(true)
      expect(String(Exit.isFailure(out) ? out.cause : "")).toMatch(/FORGED!|declared failed|forged: rank 1 is dead/)
    }), 60_000)
})

/** The outcome of one rank of a run that may fail to join: its result, or how it exited. */
const outcomes = (exit: Exit.Exit<FixtureOutcome, Error>): Array<{ rounds?: number; error?: string }> =>
  Exit.isSuccess(exit)
    ? [...exit.value.results.values()].map((r) => (r.exited !== undefined ? { error: String(r.exited.error) } : { rounds: r.rounds }))
    : [{ error: String(exit.cause) }]

describe("one job id, two runs", () => {
  it.live("two jobs started at the same moment with the same --job and key never mix: the runs stop before running, naming the rank and both processes (5 times)", () =>
    Effect.gen(function*() {
      for (let i = 0; i < 5; i++) {
        const job = `twins-${Date.now()}-${i}`
        // Each run holds its last round until the other has ended or holds too: the two surely overlap,
        // however unevenly their processes start (a fixed pace assumed they would).
        const held = { A: false, B: false }
        const ended = { A: false, B: false }
        const released = { A: false, B: false }
        const jobs: { A?: NatsJob; B?: NatsJob } = {}
        const releaseWhatCan = () => {
          for (const [me, other] of [["A", "B"], ["B", "A"]] as const) {
            if (held[me] && !released[me] && (held[other] || ended[other])) {
              released[me] = true
              jobs[me]?.post(0, { _tag: "Release" })
            }
          }
        }
        const run = (me: "A" | "B") =>
          Effect.exit(runFixture({
            size: 2, servers: server.url, job, jobKeyFile: keyFile, allowExit: true, stopOnError: true, prefixOutput: false, joinTimeout: 20_000,
            scenario: { scenario: "tokens", token: `job ${me}`, rounds: 20, paceMs: 5, holdLastRound: true },
            onEvent: (event, running) => {
              jobs[me] = running
              if (event._tag === "Message" && (event.message as { _tag?: string })._tag === "Held") held[me] = true
              releaseWhatCan()
            }
          })).pipe(Effect.ensuring(Effect.sync(() => {
            ended[me] = true
            releaseWhatCan()
          })))
        const [a, b] = yield* Effect.all([run("A"), run("B")], { concurrency: 2 })
        const all = [...outcomes(a), ...outcomes(b)]
        // Nothing of one run reached the other: no rank failed on a foreign token.
        for (const o of all) expect(o.error ?? "").not.toMatch(/of another job/)
        // Every rank either stopped on the conflict (both runs, when their rendezvous overlapped; else the later
        // one, which found the other running), or completed its own run whole.
        for (const o of all) {
          if (o.error !== undefined) expect(o.error).toMatch(/two processes claim rank \d of job twins-[\d-]+: (the launcher )?pid \d+ on .+ and (the launcher )?pid \d+ on |is already running|found a conflict/)
          else expect(o.rounds).toBe(20)
        }
        expect(all.some((o) => o.error !== undefined)).toBe(true)
      }
    }), 120_000)

  it.live("two single-launcher jobs with the same --job and their own keys run side by side: each drops the other's frames as unverifiable", () =>
    Effect.gen(function*() {
      const job = `apart-${Date.now()}`
      const run = (token: string) =>
        runFixture({ size: 2, servers: server.url, job, prefixOutput: false, scenario: { scenario: "tokens", token, rounds: 50, paceMs: 2 } })
      const { value, warnings } = yield* withWarnings(Effect.all([run("job A"), run("job B")], { concurrency: 2 }))
      expect(Exit.isSuccess(value)).toBe(true)
      for (const out of Exit.isSuccess(value) ? value.value : []) for (const r of [0, 1]) expect(out.results.get(r).rounds).toBe(50)
      expect(warnings).toMatch(/its authentication tag does not verify \(a forged or altered frame, or one signed with another key\)/)
    }), 60_000)

  it.live("overlapping --ranks on two launchers: both stop at once with an error naming the rank claimed twice and both pids", () =>
    Effect.gen(function*() {
      const job = `overlap-${Date.now()}`
      const scenario = { scenario: "tokens", token: "t", rounds: 5 } as const
      const run = (ranks: string) => Effect.exit(runFixture({ size: 4, servers: server.url, job, ranks, allowExit: true, stopOnError: true, prefixOutput: false, scenario }))
      const [low, high] = yield* Effect.all([run("0-2"), run("2-3")], { concurrency: 2 })
      for (const o of [...outcomes(low), ...outcomes(high)]) {
        expect(o.rounds).toBeUndefined()
        expect(o.error).toMatch(/two processes claim rank 2 of job overlap-\d+: the launcher pid \d+ on .+ \(ranks 0-2\) and the launcher pid \d+ on .+ \(ranks 2-3\)|the launcher pid \d+ on .+ \(ranks 2-3\) and the launcher pid \d+ on .+ \(ranks 0-2\)|found a conflict/)
      }
    }), 60_000)

  it.live("launchers given different --size: both stop at once, each saying the sizes disagree", () =>
    Effect.gen(function*() {
      const job = `sizes-${Date.now()}`
      const scenario = { scenario: "tokens", token: "t", rounds: 5 } as const
      const run = (size: number, ranks: string) =>
        Effect.exit(runFixture({ size, servers: server.url, job, ranks, allowExit: true, stopOnError: true, prefixOutput: false, joinTimeout: 20_000, scenario }))
      const [four, three] = yield* Effect.all([run(4, "0-1"), run(3, "2")], { concurrency: 2 })
      const all = [...outcomes(four), ...outcomes(three)]
      expect(all.length).toBeGreaterThan(0)
      for (const o of all) {
        expect(o.rounds).toBeUndefined()
        expect(o.error).toMatch(/was started for a job of \d ranks, this rank for \d: give every host the same --size/)
        expect(o.error).not.toMatch(/missing ranks/)
      }
    }), 60_000)

  it.live("a second run started while a job runs cannot join it and fails naming the running process; the running job is untouched", () =>
    Effect.gen(function*() {
      const job = `late-${Date.now()}`
      let late: Promise<Exit.Exit<FixtureOutcome, Error>> | undefined
      // The first run holds its last round until the second run has ended: it surely runs meanwhile.
      const first = yield* runFixture({
        size: 2, servers: server.url, job, jobKeyFile: keyFile, prefixOutput: false,
        scenario: { scenario: "tokens", token: "first", rounds: 150, paceMs: 10, holdLastRound: true },
        onEvent: (event, running) => {
          if (late !== undefined || event._tag !== "Message" || (event.message as { _tag?: string })._tag !== "Ready" || event.rank !== 0) return
          late = Effect.runPromise(Effect.exit(runFixture({
            size: 2, servers: server.url, job, jobKeyFile: keyFile, allowExit: true, stopOnError: true, prefixOutput: false, joinTimeout: 20_000,
            scenario: { scenario: "tokens", token: "second", rounds: 5 }
          })))
          void late.then(() => running.post(0, { _tag: "Release" }))
        }
      })
      for (const r of [0, 1]) expect(first.results.get(r).rounds).toBe(150)
      const second = yield* Effect.promise(() => late!)
      for (const o of outcomes(second)) {
        expect(o.rounds).toBeUndefined()
        expect(o.error).toMatch(/two processes claim rank \d of job late-\d+: (the launcher )?pid \d+ on .+ and (the launcher )?pid \d+ on |is already running|found a conflict/)
      }
    }), 60_000)
})

describe("a server whose permissions give each job's user its own subjects", () => {
  let permissioned: NatsServer
  beforeAll(async () => {
    // docs/cluster.md, "Security": one user per job (or tenant), allowed only its own prefix.
    permissioned = await startServer({
      config: [
        "authorization {",
        "  users: [",
        "    { user: alice, password: a11ce, permissions: { publish: [\"rankflow.alice-job.>\"], subscribe: [\"rankflow.alice-job.>\"] } }",
        "    { user: mallory, password: m4ll0ry, permissions: { publish: [\"rankflow.mallory-job.>\"], subscribe: [\"rankflow.mallory-job.>\"] } }",
        "  ]",
        "}"
      ]
    })
  })
  afterAll(async () => {
    await permissioned?.stop()
  })

  it.live("the job runs under its user; another user can neither read nor write its subjects", () =>
    Effect.gen(function*() {
      const mallory = yield* Effect.promise(() => connect({ servers: permissioned.url, user: "mallory", pass: "m4ll0ry" }))
      const errors: Array<string> = []
      void (async () => {
        for await (const s of mallory.status()) if (s.type === "error") errors.push(String(s.error.message))
      })()
      let heard = 0
      const sub = mallory.subscribe("rankflow.alice-job.>", {
        // The server refuses the subscription: the client reports it through the callback's error.
        callback: (e) => {
          if (e !== null) errors.push(e.message)
          else heard++
        }
      })
      void sub.closed.catch((e: unknown) => errors.push(String(e)))
      const out = yield* runFixture({
        size: 2, servers: permissioned.url, job: "alice-job", user: "alice", password: "a11ce",
        scenario: { scenario: "tokens", token: "alice", rounds: 30, paceMs: 5 },
        onEvent: (event) => {
          if (event._tag !== "Message" || (event.message as { _tag?: string })._tag !== "Ready") return
          mallory.publish("rankflow.alice-job.all", new TextEncoder().encode("let me in"))
        }
      })
      yield* Effect.promise(() => mallory.flush().catch(() => {}))
      for (const r of [0, 1]) {
        expect(out.results.get(r).rounds).toBe(30)
        expect(out.results.get(r).stats.dropped).toBe(0) // mallory's publish never reached the job
      }
      expect(heard).toBe(0)
      expect(errors.join("\n")).toMatch(/Permissions Violation for (Subscription|Publish) to "rankflow\.alice-job\./i)
      yield* Effect.promise(() => mallory.close().catch(() => {}))
    }), 60_000)
})
