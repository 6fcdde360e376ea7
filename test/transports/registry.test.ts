/**
 * The transport registry: every transport folder registers itself once, and
 * `World.make` and the CLI take transports and their flags from it.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as World from "../../core/launching/World.ts"
import { kinds, registrationOf, registrations } from "../../transports/registry.ts"

describe("the transport registry", () => {
  it("lists shm and nats, each with its own flags and a launcher of its kind", async () => {
    expect(kinds()).toBe("shm, nats")
    const names = registrations.flatMap((r) => r.flags.map((f) => f.name))
    expect(new Set(names).size).toBe(names.length)
    expect(registrationOf("nats")!.flags.map((f) => f.name)).toContain("join-timeout")
    expect(registrationOf("shm")!.decidesDeadlocks).toBe(true)
    expect((await registrationOf("shm")!.launcher({})).kind).toBe("shm")
    expect(await registrationOf("nats")!.optionsFromFlags({ nats: "nats://127.0.0.1:4222", "join-timeout": 5 })).toEqual({ servers: "nats://127.0.0.1:4222", joinTimeout: 5000 })
    expect(await registrationOf("nats")!.optionsFromFlags({ "heartbeat-timeout": 30 })).toEqual({ heartbeat: { timeout: 30_000, interval: 1000 } })
    expect(await registrationOf("nats")!.optionsFromFlags({ "heartbeat-timeout": 2 })).toEqual({ heartbeat: { timeout: 2000, interval: 500 } })
    expect(await registrationOf("nats")!.optionsFromFlags({ "poll-micros": 0 })).toEqual({ pollMicros: 0 })
  })

  it.effect("World.make refuses a transport that is not registered with a TransportError naming the known ones", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.scoped(World.make({ size: 1, transport: "tcp" })))
      expect(error._tag).toBe("TransportError")
      expect(error.message).toBe('no transport named "tcp" is registered (known: shm, nats)')
    }))
})
