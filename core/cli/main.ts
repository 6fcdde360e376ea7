/**
 * The `rankflow` command line: `rankflow run -n 4 script.ts [args…]`.
 */
import { TRACE_ENV } from "../observe/recorder.ts"
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { constants as osConstants } from "node:os"
import { Cause, Effect, Exit, Option, Runtime } from "effect"
import { Argument, Command, Flag, GlobalFlag } from "effect/cli"
import { LOG_LEVEL_ENV } from "../launching/logLevel.ts"
import { CALL_SITES_ENV } from "../callSites.ts"
import { existsSync, statSync } from "node:fs"
import { resolve } from "node:path"
import { UnknownCodec } from "../errors.ts"
import { resolveCodec } from "../messaging/Message.ts"
import { PIPELINE_PROGRESS_ENV } from "../pipeline/Stats.ts"
import { kinds, registrationOf, registrations } from "../../transports/registry.ts"
import { runJob } from "./runJob.ts"
import * as Dashboard from "../dashboard/Dashboard.ts"
import { TOKEN_ENV } from "../dashboard/Dashboard.ts"
import { parseBytes, parseDuration } from "./sizes.ts"

const np = Flag.Int("np").pipe(
  Flag.withAlias("n"),
  Flag.withDescription("number of ranks to start (one host)"),
  Flag.withDefault(1)
)
const transport = Flag.String("transport").pipe(
  Flag.withDescription(`how ranks talk: ${registrations.map((r) => `${r.kind} = ${r.description}`).join("; ")}`),
  Flag.withDefault("shm")
)
const codec = Flag.String("codec").pipe(
  Flag.withDescription("the world communicator's codec: pickle (default), marshal, cbor, msgpack"),
  Flag.optional
)
const maxDecodedBytes = Flag.String("max-decoded-bytes").pipe(
  Flag.withDescription("the most memory a received value may decode to beyond twice its size: bytes, or with a unit (64MiB, 1GiB); default 256MiB"),
  Flag.optional
)
const progress = Flag.Boolean("progress").pipe(
  Flag.withDescription("print a progress line every second for each pipeline the program runs (on the rank that hosts its first stage)"),
  Flag.withDefault(false)
)
const stallTimeout = Flag.String("stall-timeout").pipe(
  Flag.withDescription("report a rank that waits this long without progress, with what it waits for: 30s, 500ms, 2m, or 0 for off (default: 30s on nats, off on shm, where deadlocks are found exactly)"),
  Flag.optional
)
const stallAction = Flag.Literals("stall-action", ["report", "fail"]).pipe(
  Flag.withDescription("what a stall does: report (print what each rank waits for; the default) or fail (stop the job, exit code 4)"),
  Flag.withDefault("report" as const)
)
const pool = Flag.Boolean("pool").pipe(
  Flag.withDescription("run the script on rank 0 with the other ranks as its PoolExecutor's workers (like python -m mpi4py.futures)"),
  Flag.withDefault(false)
)
const callSites = Flag.Boolean("call-sites").pipe(
  Flag.withDescription("every rankflow error names the line of the call that failed, also errors that show only while the call runs (Truncated, EncodeError, a collective's); costs about 4 µs per call"),
  Flag.withDefault(false)
)
const trace = Flag.String("trace").pipe(
  Flag.withDescription("write a Chrome/Perfetto trace of the run to this file: a track per rank, communicator calls as spans, messages as flows (open it in ui.perfetto.dev)"),
  Flag.optional
)
const otlp = Flag.String("otlp").pipe(
  Flag.withDescription("send the run's trace to an OpenTelemetry collector (OTLP over HTTP): its URL, e.g. http://127.0.0.1:4318"),
  Flag.optional
)
const universe = Flag.Int("universe").pipe(
  Flag.withDescription("room for this many ranks, so that the program can start the ones beyond -n with comm.spawn (MPI's universe size; default -n; on nats the spare ranks are processes started with the job)"),
  Flag.optional
)
/** `--size`: ranks of the whole job when it is split over hosts (`--ranks` of a transport says which run here). */
const size = Flag.Int("size").pipe(Flag.withDescription("ranks in the whole job, when hosts each run some (default: -n)"), Flag.optional)
/** Every registered transport's own flags (transports/registry.ts). */
const transportFlags = Object.fromEntries(
  registrations.flatMap((r) => r.flags).map((f) => {
    const flag = f.type === "int" ? Flag.Int(f.name) : Flag.String(f.name)
    return [f.name, (flag as Flag.Flag<string | number>).pipe(Flag.withDescription(f.description), Flag.optional)] as const
  })
)
const dashboard = Flag.Boolean("dashboard").pipe(
  Flag.withDescription("serve a live dashboard of the job in the browser (its URL is printed): --dashboard [HOST:PORT], default 127.0.0.1:8787; any address but loopback needs --dashboard-token"),
  Flag.withDefault(false)
)
const dashboardToken = Flag.String("dashboard-token").pipe(
  Flag.withDescription(`the token every request to the dashboard must carry (also from ${TOKEN_ENV}); required where it serves an address other than loopback`),
  Flag.optional
)
const dashboardKeep = Flag.String("dashboard-keep").pipe(
  Flag.withDescription("keep the dashboard up this long after the job ended, showing how it ended (30s, 5m; Ctrl-C ends it sooner)"),
  Flag.optional
)
const script = Argument.String("script").pipe(Argument.withDescription("the rank program file (.ts or .js), then its own arguments"))

/** Flags of `run` that take a value, so that the script is the first other word. */
const VALUE_FLAGS = new Set([
  "--log-level", "-n", "--np", "--transport", "--codec", "--max-decoded-bytes", "--stall-timeout", "--stall-action", "--size", "--universe", "--trace", "--otlp",
  "--dashboard-token", "--dashboard-keep",
  ...registrations.flatMap((r) => r.flags.map((f) => `--${f.name}`))
])

/** What may follow `--dashboard` as its address: `HOST:PORT`, `:PORT`, `PORT`, `[IPv6]:PORT`. */
const DASHBOARD_ADDRESS = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]*)?:?\d{1,5}$/

/**
 * Takes `--dashboard`'s address out of `run`'s own arguments (the flag stays,
 * a boolean for the parser): where to listen, or `undefined` for the default.
 */
export const dashboardAddress = (own: ReadonlyArray<string>): { readonly own: Array<string>; readonly host?: string; readonly port?: number } => {
  const rest: Array<string> = []
  let host: string | undefined
  let port: number | undefined
  for (let i = 0; i < own.length; i++) {
    const a = own[i]!
    if (VALUE_FLAGS.has(a)) {
      rest.push(a, ...own.slice(i + 1, i + 2))
      i++
      continue
    }
    const inline = a.startsWith("--dashboard=") ? a.slice("--dashboard=".length) : undefined
    const address = inline ?? (a === "--dashboard" && DASHBOARD_ADDRESS.test(own[i + 1] ?? "") ? own[++i] : undefined)
    if (a === "--dashboard" || inline !== undefined) rest.push("--dashboard")
    else rest.push(a)
    if (address === undefined) continue
    const m = /^(?:(\[[^\]]+\]|[^:]*):)?(\d+)$/.exec(address)
    if (m === null) continue
    if (m[1] !== undefined && m[1] !== "") host = m[1].replace(/^\[|\]$/g, "")
    port = Number(m[2])
  }
  return { own: rest, ...(host === undefined ? {} : { host }), ...(port === undefined ? {} : { port }) }
}

/** Splits `run`'s own arguments from the script's, which are passed through untouched. */
export const splitScriptArgs = (args: ReadonlyArray<string>): { readonly own: Array<string>; readonly scriptArgs: Array<string> } => {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === "--") return { own: [...args.slice(0, i), ...args.slice(i + 1, i + 2)], scriptArgs: args.slice(i + 2) }
    if (VALUE_FLAGS.has(a) || (a === "--dashboard" && DASHBOARD_ADDRESS.test(args[i + 1] ?? ""))) {
      i++
      continue
    }
    if (!a.startsWith("-")) return { own: args.slice(0, i + 1), scriptArgs: args.slice(i + 1) }
  }
  return { own: [...args], scriptArgs: [] }
}

let scriptArgs: Array<string> = []

/** True when `-n`/`--np` was given on the command line (its default is 1). */
let npGiven = false

/** What is wrong with a `run` before anything starts, or undefined. */
const refuse = (script: string, codec: string | undefined, np: number, size: number | undefined, ranks: string | undefined): string | undefined => {
  const path = resolve(script)
  if (!existsSync(path)) return `no such file: ${script}`
  if (!statSync(path).isFile()) return `${script} is not a file: give the rank program's .ts or .js file`
  if (codec !== undefined) {
    try {
      resolveCodec(codec)
    } catch (e) {
      if (e instanceof UnknownCodec) return `--codec: ${e.message}`
      throw e
    }
  }
  if (npGiven && size !== undefined && np !== size) {
    return `-n ${np} and --size ${size} disagree: for a job split over hosts give --size (the whole job) and --ranks (this host's), without -n`
  }
  if (npGiven && ranks !== undefined) {
    return `-n ${np} and --ranks ${ranks} conflict: --ranks says which ranks this host runs; give --size for the whole job instead of -n`
  }
  return undefined
}

/** Checks `-n`/`--np` in the raw arguments: a positive integer, else one line and exit code 2. */
const checkNp = (own: ReadonlyArray<string>): string | undefined => {
  for (let i = 0; i < own.length; i++) {
    const a = own[i]!
    const inline = a.startsWith("--np=") ? a.slice(5) : a.startsWith("-n=") ? a.slice(3) : undefined
    if (a !== "-n" && a !== "--np" && inline === undefined) continue
    npGiven = true
    const v = inline ?? own[i + 1]
    if (v === undefined) return "-n needs a number of ranks, e.g. -n 4"
    if (!/^\d+$/.test(v) || Number(v) < 1) return `-n must be a positive integer (at least one rank), got "${v}"`
  }
  return undefined
}

const value = <A>(o: Option.Option<A>): A | undefined => Option.getOrUndefined(o)

const run = Command.make("run", { np, transport, codec, maxDecodedBytes, progress, stallTimeout, stallAction, callSites, pool, script, size, universe, trace, otlp, dashboard, dashboardToken, dashboardKeep, transportFlags }, (o) =>
  Effect.gen(function*() {
    const flags: Record<string, string | number | undefined> = {}
    for (const [name, v] of Object.entries(o.transportFlags)) flags[name] = value(v as Option.Option<string | number>)
    const registration = registrationOf(o.transport)
    // Refusals before any rank starts: exit code 2, one line that says what to change.
    const refusal = registration === undefined
      ? `--transport ${o.transport}: no transport of that name (known: ${kinds()})`
      : refuse(o.script, value(o.codec), o.np, value(o.size), flags["ranks"] === undefined ? undefined : String(flags["ranks"]))
    if (refusal !== undefined) {
      process.stderr.write(`rankflow: ${refusal}\n`)
      process.exitCode = 2
      return
    }
    // The ranks (threads, or processes started from here) inherit the environment.
    if (o.progress) process.env[PIPELINE_PROGRESS_ENV] = "1"
    if (o.callSites) process.env[CALL_SITES_ENV] = "1"
    if (o.pool) process.env.RANKFLOW_POOL = "1"
    const traceFile = value(o.trace)
    const otlpUrl = value(o.otlp)
    if (traceFile !== undefined || otlpUrl !== undefined) process.env[TRACE_ENV] = "1"
    const level = yield* GlobalFlag.LogLevel
    if (Option.isSome(level)) process.env[LOG_LEVEL_ENV] = level.value
    const size = value(o.size) ?? o.np
    const room = value(o.universe)
    if (room !== undefined && room < size) {
      process.stderr.write(`rankflow: --universe ${room} is smaller than the job (${size} ranks): give at least ${size}, plus a rank for each one the program spawns\n`)
      process.exitCode = 2
      return
    }
    const limitText = value(o.maxDecodedBytes)
    const limit = limitText === undefined ? undefined : parseBytes(limitText)
    if (limitText !== undefined && limit === undefined) {
      process.stderr.write(`rankflow: --max-decoded-bytes ${limitText} is not a size: give bytes, or a number with a unit (64MiB, 1GiB)\n`)
      process.exitCode = 2
      return
    }
    const stallText = value(o.stallTimeout)
    const stallMillis = stallText === undefined ? undefined : parseDuration(stallText)
    if (stallText !== undefined && stallMillis === undefined) {
      process.stderr.write(`rankflow: --stall-timeout ${stallText} is not a duration: give 30s, 500ms, 2m, or 0 for off\n`)
      process.exitCode = 2
      return
    }
    const stall = stallMillis === 0
      ? false as const
      : stallMillis !== undefined
      ? { timeoutMillis: stallMillis, action: o.stallAction }
      : o.stallAction === "fail"
      ? { timeoutMillis: 30_000, action: o.stallAction }
      : undefined
    // Flags of another transport than the job's are a mistake worth saying.
    const foreign = registrations.filter((r) => r !== registration).flatMap((r) => r.flags).find((f) => flags[f.name] !== undefined && !registration!.flags.some((g) => g.name === f.name))
    if (foreign !== undefined) {
      process.stderr.write(`rankflow: --${foreign.name} is a flag of another transport than ${o.transport}; give --transport ${registrations.find((r) => r.flags.includes(foreign))!.kind} with it, or leave it out\n`)
      process.exitCode = 2
      return
    }
    // A transport's code is loaded only for its jobs.
    const transportOptions = registration!.flags.length > 0 ? yield* Effect.promise(() => registration!.optionsFromFlags(flags)) : undefined
    const keepText = value(o.dashboardKeep)
    const keepMillis = keepText === undefined ? 0 : parseDuration(keepText)
    if (keepMillis === undefined) {
      process.stderr.write(`rankflow: --dashboard-keep ${keepText} is not a duration: give 30s, 5m\n`)
      process.exitCode = 2
      return
    }
    const token = value(o.dashboardToken) ?? process.env[TOKEN_ENV]
    const board = o.dashboard
      ? { ...(dashboardAt.host === undefined ? {} : { host: dashboardAt.host }), ...(dashboardAt.port === undefined ? {} : { port: dashboardAt.port }), ...(token === undefined ? {} : { token }), keepMillis }
      : undefined
    // A job over several launchers: the dashboard follows the job's stats channel, so that it shows every launcher's ranks.
    const split = flags["ranks"] !== undefined && flags["job"] !== undefined && registration!.watch !== undefined
    const follow = board !== undefined && split ? yield* Effect.promise(() => registration!.watch!(transportOptions ?? {}, String(flags["job"]))) : undefined
    const code = yield* runJob({
      script: o.script, args: scriptArgs, size, transport: o.transport, codec: value(o.codec), maxDecodedBytes: limit, transportOptions, stall, universe: room, trace: traceFile, otlp: otlpUrl,
      dashboard: board === undefined ? undefined : { ...board, follow }
    })
    process.exitCode = code
  })).pipe(Command.withDescription("run a rank program on N ranks"))

const listen = Flag.String("listen").pipe(
  Flag.withDescription("where the dashboard listens: HOST:PORT (default 127.0.0.1:8787); any address but loopback needs --dashboard-token"),
  Flag.withDefault("127.0.0.1:8787")
)
const watchTransport = Flag.String("transport").pipe(Flag.withDescription("the job's transport (one with a stats channel: nats)"), Flag.withDefault("nats"))

/** The transport flags that say where a job is and how to reach it (a watcher needs no others). */
const reachFlags = Object.fromEntries(Object.entries(transportFlags).filter(([name]) => !["ranks", "join-timeout", "heartbeat-timeout", "job-key-file"].includes(name)))

/** `rankflow dashboard --nats URL --job ID`: one page for a job running anywhere on the servers, until Ctrl-C. */
const dashboardCommand = Command.make("dashboard", { listen, dashboardToken, transport: watchTransport, transportFlags: reachFlags }, (o) =>
  Effect.gen(function*() {
    const flags: Record<string, string | number | undefined> = {}
    for (const [name, v] of Object.entries(o.transportFlags)) flags[name] = value(v as Option.Option<string | number>)
    const registration = registrationOf(o.transport)
    const refusal = registration?.watch === undefined
      ? `--transport ${o.transport}: jobs on it have no stats channel to watch (nats has)`
      : flags["job"] === undefined
      ? "give the job to watch: --job ID (the --job its launchers were given)"
      : undefined
    const at = /^(?:(\[[^\]]+\]|[^:]*):)?(\d+)$/.exec(o.listen)
    if (refusal !== undefined || at === null) {
      process.stderr.write(`rankflow: ${refusal ?? `--listen ${o.listen} is not HOST:PORT`}\n`)
      process.exitCode = 2
      return
    }
    const token = value(o.dashboardToken) ?? process.env[TOKEN_ENV]
    const transportOptions = yield* Effect.promise(() => registration!.optionsFromFlags(flags))
    const code = yield* Effect.scoped(Effect.gen(function*() {
      const dashboard = yield* Dashboard.make({ ...(at[1] ? { host: at[1].replace(/^\[|\]$/g, "") } : {}), port: Number(at[2]), ...(token === undefined ? {} : { token }) })
      const watcher = yield* Effect.tryPromise(() => registration!.watch!(transportOptions, String(flags["job"])))
      yield* Effect.addFinalizer(() => Effect.promise(() => watcher.close()))
      dashboard.follow(watcher)
      process.stderr.write(`rankflow: dashboard of job ${flags["job"]} at ${dashboard.url} (Ctrl-C ends it)\n`)
      return yield* Effect.never
    })).pipe(Effect.catch((e) => Effect.sync(() => {
      process.stderr.write(`rankflow: ${(e as { message?: string }).message ?? String(e)}\n`)
      return 2
    })))
    process.exitCode = code
  })).pipe(Command.withDescription("serve a live dashboard of a job that runs on NATS, from any host (rankflow dashboard --nats URL --job ID)"))

const rankflow = Command.make("rankflow").pipe(
  Command.withDescription("MPI-style parallel programs in TypeScript"),
  Command.withSubcommands([run, dashboardCommand])
)

const argv = process.argv.slice(2)
const split = argv[0] === "run" ? splitScriptArgs(argv.slice(1)) : { own: argv.slice(1), scriptArgs: [] }
scriptArgs = split.scriptArgs
const dashboardAt = dashboardAddress(split.own)
const cliArgs = argv[0] === "run" ? ["run", ...dashboardAt.own] : argv
const npProblem = argv[0] === "run" ? checkNp(split.own) : undefined
if (npProblem !== undefined) {
  process.stderr.write(`rankflow: ${npProblem}\n`)
  process.exit(2)
}

// Stopped by a signal, the launcher exits as a shell reports it: 128 + the signal's number
// (130 for SIGINT, 143 for SIGTERM), after stopping every rank.
let stoppedBy: NodeJS.Signals | undefined
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => void (stoppedBy ??= signal))

Command.runWith(rankflow, { version: "0.1.0" })(cliArgs).pipe(
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({
    teardown: (exit, onExit) => {
      if (Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause) && stoppedBy !== undefined) {
        return onExit(128 + osConstants.signals[stoppedBy])
      }
      Runtime.defaultTeardown(exit, onExit)
    }
  })
)
