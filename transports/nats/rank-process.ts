/**
 * The entry of a rank process started by NatsLauncher: it receives its
 * configuration over IPC, connects to NATS, joins the job, then loads the
 * runner module by URL and hands it the transport and the control channel.
 *
 * A crash (uncaught exception, unhandled rejection, failed join) is reported
 * to the launcher with its message and stack before the process exits with
 * code 1. If the launcher goes away, the rank leaves the job and exits.
 */
import { randomInt } from "node:crypto"
import { enableCompileCache } from "node:module"
import { hostname } from "node:os"
import { setFlagsFromString } from "node:v8"
import type { RankControl, RunnerModule } from "../Launcher.ts"
import { importModule } from "../preloaded.ts"
import * as Ipc from "./Ipc.ts"
import type { NatsTransport } from "./NatsTransport.ts"

/** As NatsTransport's (importing it here would load the NATS client before the compile cache is on). */
const CONFLICT_LINGER_MS = 3000

// Every rank compiles the same modules (the NATS client, effect, core):
// Node's on-disk compile cache makes every start after the first faster. The
// heavy modules are imported after this call, in `start`.
enableCompileCache?.()

// V8 collects garbage each time 64 MB of ArrayBuffers were allocated; a rank
// streaming 4 MiB messages (the client allocates 2-3 bytes per byte received)
// spent a third of its receive time in those collections. Counting that memory
// in the heap's global limit instead halved the receive CPU per MiB here, for
// about a quarter more peak RSS. (Node 24's V8 has the flag; older ones would
// print an error, so they keep the default.)
if (Number(process.versions.node.split(".")[0]) >= 24 && process.env.RANKFLOW_NATS_DEFAULT_GC === undefined) {
  setFlagsFromString("--external-memory-accounted-in-global-limit")
}

let transport: NatsTransport | undefined
let exiting = false

const post = (message: unknown): Promise<void> =>
  new Promise((resolve) => {
    if (process.send === undefined || !process.connected) return resolve()
    process.send(message, undefined, {}, () => resolve())
  })

/** Leaves the job (waiting for acknowledgements up to the linger time) and exits. */
const exit = (code: number, lingerMs?: number): void => {
  if (exiting) return
  exiting = true
  const closed = transport === undefined ? Promise.resolve() : transport.shutdown(lingerMs)
  // Never outlive a stuck close (which may first spend CONFLICT_LINGER_MS telling joining ranks of a conflict).
  setTimeout(() => process.exit(code), (lingerMs ?? transport?.settings.lingerMs ?? 0) + 2000 + CONFLICT_LINGER_MS).unref()
  void closed.finally(() => process.exit(code))
}

/**
 * A crash ends the process without a LEAVE: the launcher must report this
 * rank's exit before any peer reports a failure caused by it, so peers learn
 * of it from the launcher (or, on other hosts, from the heartbeats).
 */
const crash = (e: unknown): void => {
  const error = e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : String(e)
  if (exiting) return
  exiting = true
  void post({ _tag: "rankflow/nats:Crash", error } satisfies Ipc.Crash).finally(() => process.exit(1))
}

/** A join or connection failure: the message is what a person needs, no stack. */
const couldNotStart = (e: unknown): void => {
  const error = e instanceof Error ? e.message : String(e)
  void post({ _tag: "rankflow/nats:Crash", error } satisfies Ipc.Crash).finally(() => exit(1, 0))
}

process.on("uncaughtException", crash)
process.on("unhandledRejection", crash)
process.on("disconnect", () => exit(1, 0))

let runnerHandler: ((message: unknown) => void) | undefined
const pending: Array<unknown> = []

const start = async (init: Ipc.Init): Promise<void> => {
  const { config, rank } = init
  const [{ connect }, { NatsTransport }, Subjects, FrameAuth] = await Promise.all([
    import("./Connection.ts"),
    import("./NatsTransport.ts"),
    import("./Subjects.ts"),
    import("./FrameAuth.ts")
  ])
  const nc = await connect(config, rank)
  transport = await NatsTransport.join(nc, {
    subjects: Subjects.make(config.job),
    rank,
    size: config.size,
    heartbeat: config.heartbeat,
    joinTimeoutMs: config.joinTimeoutMs,
    windowBytes: config.windowBytes,
    maxFrameBytes: Math.min(config.frameBytes, nc.info?.max_payload ?? config.frameBytes),
    maxMessageBytes: config.maxMessageBytes,
    reliable: config.reliable,
    retransmitMs: config.retransmitMs,
    reconnectTimeoutMs: config.reconnectTimeoutMs,
    lingerMs: config.lingerMs,
    pollMicros: config.pollMicros,
    warn: (message) => console.warn(message),
    auth: config.jobKey === undefined ? undefined : FrameAuth.make(Buffer.from(config.jobKey, "hex"), config.job),
    pid: process.pid,
    host: hostname(),
    launcher: { ...init.launcher, host: hostname(), ranks: config.localRanks },
    worldContext: init.worldContext
  }, randomInt(1, 2 ** 32 - 1)).catch(async (e) => {
    await nc.close().catch(() => {})
    throw e
  })
  const runner = (await importModule(init.runner)) as RunnerModule
  const control: RankControl = {
    data: init.data,
    post: (message) => void post(message),
    onMessage: (handler) => {
      runnerHandler = handler
      for (const m of pending.splice(0)) handler(m)
    },
    exit: (code) => exit(code)
  }
  await runner.serve(transport, control)
}

process.on("message", (message: unknown) => {
  if (!Ipc.isInternal(message)) {
    if (runnerHandler !== undefined) runnerHandler(message)
    else pending.push(message)
    return
  }
  switch (message._tag) {
    case "rankflow/nats:Init":
      start(message).catch(couldNotStart)
      return
    case "rankflow/nats:DeclareFailed":
      transport?.declareFailed(message.rank, message.reason, true)
      return
    case "rankflow/nats:Close":
      exit(0)
      return
  }
})
