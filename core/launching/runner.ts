/**
 * The runner: what every rank executes once its transport is attached. It
 * receives run commands from the launcher over the control channel, imports
 * the program's module, runs the program with `Comm.World`, and reports the
 * outcome. A job can run many programs in turn (tests do), each in a fresh
 * range of context ids so that nothing left over from one run can match the
 * next.
 */
import { Effect, Exit, type Fiber, Option, References } from "effect"
import { pickle } from "../../codecs/pickle/Pickle.ts"
import type { RankControl } from "../../transports/Launcher.ts"
import type { Transport } from "../../transports/Transport.ts"
import { importModule } from "../../transports/preloaded.ts"
import { enable } from "../collectives/shared/setup.ts"
import { Parent, World } from "../comm/Comm.ts"
import * as LauncherChannel from "../dynamic/launcherChannel.ts"
import * as Trace from "../observe/recorder.ts"
import { spawnedSide } from "../dynamic/spawns.ts"
import { fromState } from "../internal/facade.ts"
import { mainSlot } from "../internal/mainSlot.ts"
import * as CommState from "../comm/CommState.ts"
import { Engine } from "../messaging/Engine.ts"
import * as Failure from "../Failure.ts"
import { codecTiming, resolveCodec } from "../messaging/Message.ts"
import type { Program } from "./Rank.ts"
import type * as Protocol from "./RunnerProtocol.ts"

import { LOG_LEVEL_ENV, logLevelOf } from "./logLevel.ts"
import { waitsOf } from "../messaging/waits.ts"
import * as PipelineStats from "../pipeline/Stats.ts"
import * as DeviceMemory from "../observe/deviceMemory.ts"
import { CONTEXTS_PER_RUN, worldContextOf } from "./RunnerProtocol.ts"
import { performance } from "node:perf_hooks"

export { CONTEXTS_PER_RUN } from "./RunnerProtocol.ts"
import * as PoolExecutor from "../futures/worker.ts"

const loaded = new Map<string, Program | undefined>()

const loadModule = async (url: string): Promise<{ main: Program | undefined; exports: Record<string, unknown> }> => {
  const slot = mainSlot()
  let main: Program | undefined
  slot.main = (program) => (main ??= program)
  try {
    const exports = (await importModule(url)) as Record<string, unknown>
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

/** Counts of the kinds of resources pending on this thread (timers, I/O, ports). */
const resources = (): Map<string, number> => {
  const counts = new Map<string, number>()
  for (const r of process.getActiveResourcesInfo()) counts.set(r, (counts.get(r) ?? 0) + 1)
  return counts
}

/** Resources pending now beyond `baseline` (what the rank itself holds while idle). */
const beyond = (baseline: Map<string, number>): Array<string> => {
  const extra: Array<string> = []
  for (const [r, n] of resources()) if (n > (baseline.get(r) ?? 0)) extra.push(r)
  return extra
}

/** Event-loop utilisation above which a rank counts as running, not waiting. */
const BUSY_UTILIZATION = 0.25

const encodeResult = (value: unknown): Protocol.Done => {
  try {
    const frames = pickle.encodeSync(value)
    return { _tag: "Done", id: 0, ok: true, header: frames.header.slice(), buffers: frames.buffers.map((b) => b.slice()) }
  } catch (e) {
    const message = `the program's result cannot be sent back to the launcher: ${e instanceof Error ? e.message : String(e)}`
    return { _tag: "Done", id: 0, ok: false, failure: { tag: "EncodeError", message, details: message } }
  }
}

/**
 * How many operations a rank's fibers run before they yield to the event
 * loop: Effect's default is 2,048, which a rank doing small collectives
 * back to back reaches every ~40 calls, and each such yield (a turn of the
 * event loop, which lets the transport's notifications back on) cost a call
 * 3-30 µs. At 16,384 a busy fiber still yields within a millisecond or so.
 * A program that wants another budget provides its own
 * (`Effect.provideService(References.MaxOpsBeforeYield, n)`).
 */
export const RANK_MAX_OPS_BEFORE_YIELD = 16_384

export const serve = (transport: Transport, control: RankControl): void => {
  const engine = new Engine(transport)
  Trace.setSelfRank(transport.rank)
  engine.onForeign = (source, why) => console.warn(`rankflow: dropped a message from rank ${source}: ${why}`)
  let running: { id: number; fiber: Fiber.Fiber<unknown, unknown> } | undefined
  const pendingInterrupts = new Set<number>()
  // What the rank holds while it waits for nothing else, and its event loop's use since the last query.
  let baseline = resources()
  let loop = performance.eventLoopUtilization()
  const activity = (): number => engine.sent + engine.arrived + (transport.activity?.() ?? 0)

  /** Reports the run once it waited `stallMillis` without progress; returns the watchdog's stop. */
  const watch = (id: number, stallMillis: number): () => void => {
    let last = activity()
    let since = Date.now()
    let reported = false
    const timer = setInterval(() => {
      const now = activity()
      if (now !== last) {
        last = now
        since = Date.now()
        reported = false
        return
      }
      if (reported || Date.now() - since < stallMillis) return
      const waits = waitsOf(engine)
      if (waits.length === 0) return
      reported = true
      control.post({ _tag: "Stalled", run: id, since, waits } satisfies Protocol.Stalled)
    }, Math.max(10, Math.min(1000, stallMillis / 4)))
    timer.unref()
    return () => clearInterval(timer)
  }

  /** A run whose program is still being loaded (its module imported): it counts as running, and busy. */
  let loading: number | undefined
  /** A spawned rank's run, loaded and waiting for every rank of its spawn to load too (`Go`). */
  let held: { readonly id: number; readonly go: () => void } | undefined
  LauncherChannel.install(control)

  const run = async (cmd: Protocol.Run): Promise<void> => {
    const base = worldContextOf(cmd.id)
    const outside = (context: number) => context < base || context >= base + CONTEXTS_PER_RUN
    engine.matching.purge(outside)
    for (const context of engine.comms.keys()) if (outside(context)) engine.comms.delete(context)
    engine.contextCounter = base + 2
    engine.runBase = base
    engine.runSpan = CONTEXTS_PER_RUN
    let program: Program
    loading = cmd.id
    // `rankflow run --pool`: rank 0 runs the program, the others serve its pool's tasks (they never load it as a program).
    const poolWorker = PoolExecutor.poolMode() && transport.rank !== 0
    // Before the program's module is imported: a script that reads its arguments at the top level sees them.
    if (cmd.argv !== undefined) process.argv.splice(1, process.argv.length - 1, ...cmd.argv)
    try {
      program = poolWorker ? Effect.void : await findProgram(cmd)
    } catch (e) {
      loading = undefined
      const message = e instanceof Error ? e.message : String(e)
      return control.post({ _tag: "Done", id: cmd.id, ok: false, failure: { tag: "ProgramNotFound", message, details: e instanceof Error && e.stack ? e.stack : message } } satisfies Protocol.Done)
    }
    if (cmd.spawned !== undefined) {
      // Its spawn starts all or nothing: run only once every rank of it loaded its program (an Exit comes otherwise).
      const id = cmd.id
      await new Promise<void>((go) => {
        held = { id, go }
        control.post({ _tag: "Started", id } satisfies Protocol.Started)
      })
      held = undefined
    }
    const codec = resolveCodec(cmd.codec ?? "pickle")
    const group = cmd.spawned?.world ?? Array.from({ length: cmd.worldSize ?? transport.size }, (_, i) => i)
    engine.reach = new Set(group)
    const worldState = CommState.make(engine, base, group, codec, cmd.maxDecodedBytes === undefined ? undefined : { maxDecodedBytes: cmd.maxDecodedBytes }, "world")
    const world = fromState(worldState)
    const spawned = cmd.spawned === undefined ? undefined : spawnedSide(worldState, cmd.spawned, fromState)
    // `rankflow --log-level <level>` reaches the ranks through the environment.
    const level = logLevelOf(process.env[LOG_LEVEL_ENV])
    const scoped = poolWorker
      ? PoolExecutor.serve(world, 0)
      : PoolExecutor.poolMode()
      ? Effect.ensuring(Effect.scoped(program), PoolExecutor.stopWorkers(world))
      : Effect.scoped(program)
    const setup = spawned === undefined ? enable(worldState) : Effect.andThen(enable(worldState), enable(spawned.local))
    const withWorld = Effect.andThen(setup, scoped).pipe(
      Effect.provideService(World, world),
      Effect.provideService(Parent, spawned === undefined ? Option.none() : Option.some(spawned.parent)),
      Effect.provideService(References.MaxOpsBeforeYield, RANK_MAX_OPS_BEFORE_YIELD)
    ) as Effect.Effect<unknown, unknown>
    loading = undefined
    const stopWatch = cmd.stallMillis !== undefined && cmd.stallMillis > 0 ? watch(cmd.id, cmd.stallMillis) : undefined
    baseline = resources()
    loop = performance.eventLoopUtilization()
    const fiber = Effect.runFork(level === undefined ? withWorld : Effect.provideService(withWorld, References.MinimumLogLevel, level))
    running = { id: cmd.id, fiber }
    if (pendingInterrupts.delete(cmd.id)) fiber.interruptUnsafe()
    fiber.addObserver((exit) => {
      running = undefined
      stopWatch?.()
      // The other ranks' receives from this one can never complete now: they fail instead of hanging.
      if (Exit.isSuccess(exit)) engine.finish()
      engine.endRun()
      if (Trace.tracing) control.post({ _tag: "Trace", id: cmd.id, events: Trace.drain() } satisfies Protocol.Trace)
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
      case "Spawned":
      case "Answer":
        LauncherChannel.reply(cmd)
        break
      case "Go":
        if (held?.id === cmd.id) held.go()
        break
      case "Interrupt":
        if (running?.id === cmd.id) running.fiber.interruptUnsafe()
        else pendingInterrupts.add(cmd.id)
        break
      case "Exit":
        transport.close()
        control.exit(0)
        break
      case "Status": {
        // Codec work is timed only while someone watches (each query says whether).
        codecTiming.on = cmd.watched === true
        const now = performance.eventLoopUtilization()
        const used = performance.eventLoopUtilization(now, loop).utilization
        loop = now
        const pending = beyond(baseline)
        const arena = transport.alloc?.usage?.()
        control.post({
          _tag: "Status",
          round: cmd.round,
          run: running?.id ?? loading ?? 0,
          quiet: loading === undefined && used < BUSY_UTILIZATION && pending.length === 0,
          pending,
          sent: engine.sent,
          arrived: engine.arrived,
          activity: transport.activity?.() ?? 0,
          waits: waitsOf(engine),
          bytesSent: engine.bytesSent,
          bytesArrived: engine.bytesArrived,
          heapUsed: process.memoryUsage().heapUsed,
          utilization: used,
          codecMillis: codecTiming.millis,
          deviceBytes: DeviceMemory.held(),
          arenaUsed: arena?.used ?? 0,
          arenaSize: arena?.size ?? 0,
          actors: [...PipelineStats.live].map(([a, downstream]) => ({
            stage: a.stage, replica: a.replica, itemsIn: a.itemsIn, itemsOut: a.itemsOut, busyMillis: a.busyMillis,
            blockedMillis: a.blockedMillis, mailboxDepth: a.mailboxDepth, mailboxBound: a.mailboxBound, downstream
          }))
        } satisfies Protocol.Status)
        break
      }
    }
  })
  control.post({ _tag: "Ready" } satisfies Protocol.Ready)
}

