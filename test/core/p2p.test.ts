/**
 * Point-to-point semantics on 1, 2, 4 and 8 ranks (shared-memory transport):
 * each test runs a rank program from test/programs/p2p.ts that checks its rule
 * on every rank.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as World from "../../core/launching/World.ts"
import { program, SIZES, TRANSPORTS, useWorlds } from "../support/worlds.ts"

const p2p = (name: string, ...args: ReadonlyArray<unknown>) => program("p2p.ts", name, ...args)

const cases = TRANSPORTS.flatMap((transport) => SIZES.map((size) => [transport, size] as const))

describe.each(cases)("point-to-point on %s, %i ranks", (transport, size) => {
  const worlds = useWorlds({ transport })
  const run = (name: string, ...args: ReadonlyArray<unknown>) => worlds.run(size, p2p(name, ...args))

  it.effect("a token relayed around the ring collects every rank", () =>
    Effect.gen(function*() {
      const results = yield* run("ringRelay")
      expect(results[0]).toBe((size * (size - 1)) / 2)
    }))

  it.effect("a rank can send to itself", () => run("selfSend"))
  it.effect("PROC_NULL: sends complete at once, receives give undefined", () => run("procNull"))
  it.effect("wildcard receives report source, tag, size and codec", () => run("wildcards"))
  // Fewer on NATS, where each message costs ten times as much CPU (the ordering rule is the same).
  const messages = transport === "shm" ? 100_000 : 40_000
  it.effect(`messages from one sender on one tag never overtake each other (${messages.toLocaleString("en")} mixed sizes)`, () =>
    Effect.gen(function*() {
      const received = yield* run("nonOvertaking", messages)
      expect((received as Array<number>).reduce((a, b) => a + b, 0)).toBe(Math.floor(messages / size) * size)
    }), 120_000)
  it.effect("requests complete through every wait and test variant, and cancel", () => run("requestVariants"))
  it.effect("probe and iprobe see a message without taking it", () => run("probes"))
  it.effect("an interrupted receive takes nothing; every message arrives once, in order", () => run("interruptedRecv"))
  it.effect("probes that time out take nothing; every message is probed and received once, in order", () => run("interruptedProbe"))
  it.effect("messages of 0 bytes, 1 byte and 64 MiB arrive intact", () => run("sizes"), 120_000)
  if (transport === "shm") it.effect("the zero-copy path shares the sender's memory", () => run("zeroCopy"))
  else {
    it.effect("alloc says that the transport has no shared memory", () => run("noSharedMemory"))
  }
  it.effect("a schema types messages; a bad one fails its receive only", () => run("schemas"))
  it.effect("recvInto errors leave the message queued", () => run("recvIntoErrors"))
  it.effect("derived datatypes: a column and a subarray block sent in place, scattered into place, and broadcast", () => run("derivedDatatypes"))
  it.effect("ssend completes only once matched", () => run("synchronousSend"))
  it.effect("bad ranks, tags and values fail with errors that say so", () => run("invalidArguments"))
  it.effect("every codec carries messages", () => run("codecs"))
  it.effect("a value past the communicator's decoding limit fails its receive only; dup sets the limit and the codec", () => run("decodeLimit"), 60_000)
})

describe("memory of pending sends", () => {
  it.effect("200 pending isends of 1 MiB strings to a sleeping receiver hold no more than their encoded bytes (the encoder hands out no slack)", () =>
    Effect.gen(function*() {
      const [perSend] = yield* World.run(p2p("pendingStrings"), { size: 2, prefixOutput: false })
      // ArrayBuffer memory on the sending side per pending send, in MiB: 1.35 when each kept its encoder slab (up to 2 MiB).
      expect(perSend as number).toBeLessThan(1)
    }), 60_000)
})

describe("the world's decoding limit", () => {
  it.effect("a limit that is not a non-negative number of bytes is refused before any rank starts", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(World.run(p2p("selfSend"), { size: 1, maxDecodedBytes: -1 }))
      expect(error._tag).toBe("TransportError")
      expect(error.message).toMatch(/maxDecodedBytes must be a non-negative number of bytes, got -1/)
    }))
})

describe("a failing rank", () => {
  for (const how of ["error", "defect", "exit", "uncaught"] as const) {
    it.effect(`ends the run with the rank and its message (${how})`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(World.run(p2p("failing", how), { size: 3, prefixOutput: false }))
        expect(error._tag).toBe("RankFailed")
        if (error._tag !== "RankFailed") return
        expect(error.rank).toBe(2)
        const expected = { error: "rank gave up on purpose", defect: "thrown on purpose", exit: "code 3", uncaught: "uncaught on purpose" }[how]
        expect(`${error.message}\n${error.details}`).toContain(expected)
      }), 30_000)
  }
})
