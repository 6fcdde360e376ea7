import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { afterAll, beforeAll } from "vitest"
import { type NatsServer, startServer } from "../../support/nats-server.ts"
import { runFixture } from "./fixture.ts"

describe("smoke", () => {
  let server: NatsServer
  beforeAll(async () => {
    server = await startServer()
  })
  afterAll(async () => {
    await server?.stop()
  })
  it.live("stream on 2 ranks", () =>
    Effect.gen(function*() {
      const out = yield* runFixture({ size: 2, servers: server.url, scenario: { scenario: "stream", count: 2000 } })
      console.log(JSON.stringify([...out.results]))
      expect(out.results.size).toBe(2)
    }), 60_000)
})
