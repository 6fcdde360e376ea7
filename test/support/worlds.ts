/**
 * Running rank programs from tests: one World per size, started once for a
 * describe block and reused by its tests (starting workers is slow), and
 * references to the programs in test/programs.
 */
import { Effect, Exit, Scope } from "effect"
import { afterAll, beforeAll } from "vitest"
import * as World from "../../core/launching/World.ts"
import type { ProgramRef } from "../../core/launching/ProgramRef.ts"
import { startServer, type NatsServer } from "./nats-server.ts"

/** The rank counts every semantic rule is checked on. */
export const SIZES = [1, 2, 4, 8] as const

/** The transports the conformance suites run on. */
export const TRANSPORTS = ["shm", "nats"] as const
export type TransportKind = (typeof TRANSPORTS)[number]

/** A reference to `export` of `test/programs/<file>`, called with `args`. */
export const program = (file: string, exportName: string, ...args: ReadonlyArray<unknown>): ProgramRef => ({
  module: new URL(`../programs/${file}`, import.meta.url),
  export: exportName,
  args
})

export interface Worlds {
  /** Runs a program on the world of `size` ranks; resolves with every rank's result. */
  run<A = unknown>(size: number, ref: ProgramRef): Effect.Effect<ReadonlyArray<A>, unknown>
}

/**
 * Starts (lazily) one world per size for the enclosing describe block, and
 * stops them after it. With `transport: "nats"`, a nats-server on a free
 * loopback port is started for the block too.
 */
export const useWorlds = (options: Omit<World.WorldOptions, "size" | "transport"> & { readonly transport?: TransportKind } = {}): Worlds => {
  let scope: Scope.Closeable | undefined
  let server: NatsServer | undefined
  const worlds = new Map<number, World.World>()
  beforeAll(async () => {
    scope = await Effect.runPromise(Scope.make())
    if (options.transport === "nats") server = await startServer()
  }, 120_000)
  afterAll(async () => {
    if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
    await server?.stop()
  }, 120_000)
  const worldOptions = (size: number): World.WorldOptions =>
    options.transport === "nats"
      ? { ...options, size, transport: "nats", transportOptions: { ...options.transportOptions, servers: server!.url } }
      : { ...options, size, transport: "shm" }
  return {
    run: <A>(size: number, ref: ProgramRef) =>
      Effect.suspend(() => {
        const existing = worlds.get(size)
        const world = existing !== undefined
          ? Effect.succeed(existing)
          : Effect.tap(Scope.provide(World.make(worldOptions(size)), scope!), (w) => Effect.sync(() => worlds.set(size, w)))
        return Effect.flatMap(world, (w) => w.run<A>(ref))
      })
  }
}
