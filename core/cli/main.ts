/**
 * The `rankflow` command line: `rankflow run -n 4 script.ts [args…]`.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { runJob } from "./runJob.ts"

const np = Flag.Int("np").pipe(
  Flag.withAlias("n"),
  Flag.withDescription("number of ranks to start"),
  Flag.withDefault(1)
)
const transport = Flag.Literals("transport", ["shm"]).pipe(
  Flag.withDescription("how ranks talk: shm = worker threads of one process sharing memory"),
  Flag.withDefault("shm" as const)
)
const codec = Flag.String("codec").pipe(
  Flag.withDescription("the world communicator's codec: pickle (default), marshal, cbor, msgpack"),
  Flag.optional
)
const script = Argument.String("script").pipe(Argument.withDescription("the rank program file (.ts or .js), then its own arguments"))

/** Flags of `run` that take a value, so that the script is the first other word. */
const VALUE_FLAGS = new Set(["-n", "--np", "--transport", "--codec"])

/** Splits `run`'s own arguments from the script's, which are passed through untouched. */
export const splitScriptArgs = (args: ReadonlyArray<string>): { readonly own: Array<string>; readonly scriptArgs: Array<string> } => {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === "--") return { own: [...args.slice(0, i), ...args.slice(i + 1, i + 2)], scriptArgs: args.slice(i + 2) }
    if (VALUE_FLAGS.has(a)) {
      i++
      continue
    }
    if (!a.startsWith("-")) return { own: args.slice(0, i + 1), scriptArgs: args.slice(i + 1) }
  }
  return { own: [...args], scriptArgs: [] }
}

let scriptArgs: Array<string> = []

const run = Command.make("run", { np, transport, codec, script }, (o) =>
  Effect.gen(function*() {
    const code = yield* runJob({ script: o.script, args: scriptArgs, size: o.np, transport: o.transport, codec: o.codec._tag === "Some" ? o.codec.value : undefined })
    process.exitCode = code
  })).pipe(Command.withDescription("run a rank program on N ranks"))

const rankflow = Command.make("rankflow").pipe(
  Command.withDescription("MPI-style parallel programs in TypeScript"),
  Command.withSubcommands([run])
)

const argv = process.argv.slice(2)
const split = argv[0] === "run" ? splitScriptArgs(argv.slice(1)) : { own: argv.slice(1), scriptArgs: [] }
scriptArgs = split.scriptArgs
const cliArgs = argv[0] === "run" ? ["run", ...split.own] : argv

Command.runWith(rankflow, { version: "0.1.0" })(cliArgs).pipe(
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain
)
