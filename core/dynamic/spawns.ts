/**
 * comm.spawn underneath (see Spawn.ts for what it does): the spawning ranks
 * agree on the intercommunicator's context ids, the root asks the launcher
 * for ranks (launcherChannel.ts) and hands the answer to the others, and each
 * builds its side. The spawned ranks build theirs from their Run command
 * (`spawnedSide`, called by the runner). Internal.
 */
import { Effect } from "effect"
import { fileURLToPath } from "node:url"
import type { Comm } from "../comm/Comm.ts"
import type { CommState } from "../comm/CommState.ts"
import * as CommStates from "../comm/CommState.ts"
import { stateOf } from "../comm/communicators.ts"
import type { Intercomm } from "../comm/Intercomm.ts"
import * as Intercomms from "../comm/intercomms.ts"
import { normalize } from "../launching/ProgramRef.ts"
import { SPAWN_CONTEXTS, type SpawnedRun, type SpawnProgram } from "../launching/RunnerProtocol.ts"
import * as Op from "../op/Op.ts"
import { requestSpawn } from "./launcherChannel.ts"
import { SpawnError, type SpawnSpec } from "./Spawn.ts"

const failure = (message: string, cause?: unknown, errors: ReadonlyArray<string | undefined> = []) =>
  new SpawnError({ message, errors, ...(cause === undefined ? {} : { cause }) })

const wrap = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, SpawnError> =>
  Effect.mapError(effect, (e) => (e instanceof SpawnError ? e : failure(`spawn: ${(e as { message?: string }).message ?? String(e)}`, e)))

/** The root's request, or why its arguments are wrong. */
const programsOf = (specs: ReadonlyArray<SpawnSpec>): ReadonlyArray<SpawnProgram> | string => {
  if (!Array.isArray(specs) || specs.length === 0) return "spawnMultiple takes a non-empty array of { program, maxprocs?, args? }"
  const out: Array<SpawnProgram> = []
  for (const [i, spec] of specs.entries()) {
    const which = specs.length === 1 ? "" : ` (program ${i})`
    if (typeof spec !== "object" || spec === null) return `spawn${which}: expected { program, maxprocs?, args? }, got ${String(spec)}`
    const maxprocs = spec.maxprocs ?? 1
    if (!Number.isInteger(maxprocs) || maxprocs < 1) return `spawn${which}: maxprocs must be a whole number of ranks, at least 1; got ${String(maxprocs)}`
    if (spec.args !== undefined && (!Array.isArray(spec.args) || (spec.args as ReadonlyArray<unknown>).some((a) => typeof a !== "string"))) {
      return `spawn${which}: args must be an array of strings (the new ranks' command-line arguments)`
    }
    let ref
    try {
      ref = normalize(spec.program)
    } catch (e) {
      return `spawn${which}: ${String(spec.program)} is not a module path or URL: ${(e as Error).message}`
    }
    const path = ref.module.startsWith("file:") ? fileURLToPath(ref.module) : ref.module
    out.push({ module: ref.module, export: ref.export, args: ref.args, argv: [path, ...(spec.args ?? [])], maxprocs })
  }
  return out
}

type Outcome = { readonly ok: true; readonly ranks: ReadonlyArray<number> } | { readonly ok: false; readonly message: string; readonly errors: ReadonlyArray<string | undefined> }

/** comm.spawnMultiple (comm.spawn is one program of it): collective over `comm`. */
export const spawnMultiple = (
  comm: Comm,
  specs: ReadonlyArray<SpawnSpec>,
  root: number,
  fromState: (c: CommState) => Comm,
  /** Ranks whose death fails only their peers' calls with them, not the run (a pool's workers). */
  detached = false
): Effect.Effect<Intercomm, SpawnError> =>
  Effect.gen(function*() {
    if (stateOf(comm) === undefined) return yield* failure("spawn takes a communicator of this job")
    if (!Number.isInteger(root) || root < 0 || root >= comm.size) return yield* failure(`spawn: root ${root} is not a rank of the communicator of ${comm.size}`)
    // The parents' side of the intercommunicator keeps a group of its own; the context ids are agreed by all of them.
    const localComm = yield* wrap(comm.dup())
    const local = stateOf(localComm)!
    const counter = yield* wrap(localComm.allreduce(local.engine.contextCounter, Op.MAX))
    const context = yield* wrap(Intercomms.reserve(local, counter, SPAWN_CONTEXTS))
    let outcome: Outcome | undefined
    if (comm.rank === root) {
      const programs = programsOf(specs)
      if (typeof programs === "string") outcome = { ok: false, message: programs, errors: [] }
      else {
        const answer = yield* Effect.promise(() => requestSpawn({ programs, parents: local.group, context, detached }))
        outcome = answer.ok
          ? { ok: true, ranks: answer.ranks.flat() }
          : { ok: false, message: answer.message, errors: answer.errors.flat() }
      }
    }
    const agreed = (yield* wrap(localComm.bcast(outcome, { root }))) as Outcome
    if (!agreed.ok) return yield* failure(agreed.message, undefined, agreed.errors)
    // The parents tell the spawned ranks when they finish, and learn when those do.
    for (const r of agreed.ranks) local.engine.reach?.add(r)
    return Intercomms.make(localComm, context, agreed.ranks, fromState)
  })

/**
 * A spawned rank's `Comm.parent`, from its Run command: the spawned ranks'
 * own group on the last two reserved ids, the intercommunicator on the first
 * four.
 */
export const spawnedSide = (world: CommState, spawned: SpawnedRun, fromState: (c: CommState) => Comm): { readonly local: CommState; readonly parent: Intercomm } => {
  const engine = world.engine
  engine.reserveContexts(spawned.context, SPAWN_CONTEXTS)
  for (const r of spawned.parents) engine.reach?.add(r)
  const local = CommStates.make(engine, spawned.context + 4, spawned.world, world.codec, world.decodeOptions, "the spawned ranks' group")
  return { local, parent: Intercomms.make(fromState(local), spawned.context, spawned.parents, fromState) }
}
