/**
 * The runner: what every rank executes once its transport is attached. It
 * receives run commands from the launcher over the control channel, imports
 * the program's module, runs the program with `Comm.World`, and reports the
 * outcome. A job can run many programs in turn (tests do), each in a fresh
 * range of context ids so that nothing left over from one run can match the
 * next.
 */
import { Effect, Exit, type Fiber, References } from "effect"
import { pickle } from "../codecs/pickle/Pickle.ts"
import type { RankControl } from "../transports/Launcher.ts"
import type { Transport } from "../transports/Transport.ts"
import { fromState, World } from "./Comm.ts"
import * as CommState from "./CommState.ts"
import { Engine } from "./Engine.ts"
import * as Failure from "./Failure.ts"
import { resolveCodec } from "./Message.ts"
import { mainSlot, type Program } from "./Rank.ts"
import type * as Protocol from "./RunnerProtocol.ts"

import { LOG_LEVEL_ENV, logLevelOf } from "./logLevel.ts"

/** Context ids each run may use: the world takes the first two, derived communicators the rest. */
export const CONTEXTS_PER_RUN = 1 << 16

const loaded = new Map<string, Program | undefined>()

const loadModule = async (url: string): Promise<{ main: Program | undefined; exports: Record<string, unknown> }> => {
  const slot = mainSlot()
  let main: Program | undefined
  slot.main = (program) => (main ??= program)
  try {
    const exports = (await import(url)) as Record<string, unknown>
    if (!loaded.has(url)) loaded.set(url, main)
    return { main: loaded.get(url), exports }
  } finally {
    slot.main = undefined
  }
}

const isEffect = (u: unknown): u is Program => Effect.isEffect(u)

const findProgram = async (cmd: Protocol.Run): Promise<Program> => {
  const { main, exports } = await loadModule(cmd.module)
  const name = cmd.export ?? (main !== undefined ? undefined : "default")
  if (name === undefined) return main!
  const found = exports[name]
  if (isEffect(found)) return found
  if (typeof found === "function") {
    const made = found(...cmd.args)
    if (isEffect(made)) return made
    throw new Error(`${cmd.module}: export "${name}" is a function but did not return an Effect`)
  }
  throw new Error(
    found === undefined
      ? `${cmd.module} has no export "${name}"${name === "default" ? " and does not call Rank.main(program)" : ""}`
      : `${cmd.module}: export "${name}" is not an Effect (nor a function returning one)`
  )
}

const encodeResult = (value: unknown): Protocol.Done => {
  try {
    const frames = pickle.encodeSync(value)
    return { _tag: "Done", id: 0, ok: true, header: frames.header.slice(), buffers: frames.buffers.map((b) => b.slice()) }
  } catch (e) {
    const message = `the program's result cannot be sent back to the launcher: ${e instanceof Error ? e.message : String(e)}`
    return { _tag: "Done", id: 0, ok: false, failure: { tag: "EncodeError", message, details: message } }
  }
}

export const serve = (transport: Transport, control: RankControl): void => {
  const engine = new Engine(transport)
  engine.onForeign = (source, why) => console.warn(`rankflow: dropped a message from rank ${source}: ${why}`)
  let running: { id: number; fiber: Fiber.Fiber<unknown, unknown> } | undefined
  const pendingInterrupts = new Set<number>()

  const run = async (cmd: Protocol.Run): Promise<void> => {
    const base = (cmd.id % CONTEXTS_PER_RUN) * CONTEXTS_PER_RUN
    engine.matching.purge((context) => context < base || context >= base + CONTEXTS_PER_RUN)
    engine.contextCounter = base + 2
    let program: Program
    try {
      program = await findProgram(cmd)
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e)
      return control.post({ _tag: "Done", id: cmd.id, ok: false, failure: { tag: "ProgramNotFound", message, details: e instanceof Error && e.stack ? e.stack : message } } satisfies Protocol.Done)
    }
    if (cmd.argv !== undefined) process.argv.splice(1, process.argv.length - 1, ...cmd.argv)
    const codec = resolveCodec(cmd.codec ?? "pickle")
    const group = Array.from({ length: transport.size }, (_, i) => i)
    const world = fromState(CommState.make(engine, base, group, codec, cmd.maxDecodedBytes === undefined ? undefined : { maxDecodedBytes: cmd.maxDecodedBytes }))
    // `rankflow --log-level <level>` reaches the ranks through the environment.
    const level = logLevelOf(process.env[LOG_LEVEL_ENV])
    const withWorld = Effect.scoped(program).pipe(Effect.provideService(World, world)) as Effect.Effect<unknown, unknown>
    const fiber = Effect.runFork(level === undefined ? withWorld : Effect.provideService(withWorld, References.MinimumLogLevel, level))
    running = { id: cmd.id, fiber }
    if (pendingInterrupts.delete(cmd.id)) fiber.interruptUnsafe()
    fiber.addObserver((exit) => {
      running = undefined
      const done: Protocol.Done = Exit.isSuccess(exit)
        ? { ...encodeResult(exit.value), id: cmd.id }
        : { _tag: "Done", id: cmd.id, ok: false, failure: Failure.fromCause(exit.cause) }
      control.post(done)
    })
  }

  control.onMessage((message) => {
    const cmd = message as Protocol.ToRank
    switch (cmd._tag) {
      case "Run":
        void run(cmd)
        break
      case "Interrupt":
        if (running?.id === cmd.id) running.fiber.interruptUnsafe()
        else pendingInterrupts.add(cmd.id)
        break
      case "Exit":
        transport.close()
        control.exit(0)
        break
    }
  })
  control.post({ _tag: "Ready" } satisfies Protocol.Ready)
}

