/**
 * comm.accept and comm.connect underneath (see Port.ts): the group agrees
 * its largest next-free context id, its root asks the launcher, which pairs
 * the accept with a connect on the same port and gives each side the
 * other's group and a context both can take; the root hands the answer to
 * its group, and each rank builds its side. Internal.
 */
import { Effect } from "effect"
import type { Comm } from "../comm/Comm.ts"
import type { CommState } from "../comm/CommState.ts"
import { stateOf } from "../comm/communicators.ts"
import type { Intercomm } from "../comm/Intercomm.ts"
import * as Intercomms from "../comm/intercomms.ts"
import * as Op from "../op/Op.ts"
import { askLauncher, PortError } from "./Port.ts"
import type { CrossJob } from "../launching/RunnerProtocol.ts"

const wrap = <A, E>(what: string, effect: Effect.Effect<A, E>): Effect.Effect<A, PortError> =>
  Effect.mapError(effect, (e) => (e instanceof PortError ? e : new PortError({ message: `${what}: ${(e as { message?: string }).message ?? String(e)}`, cause: e })))

type Outcome =
  | { readonly ok: true; readonly remote: ReadonlyArray<number>; readonly context: number }
  | { readonly ok: true; readonly across: CrossJob }
  | { readonly ok: false; readonly message: string }

/** accept (`side` "accept") or connect on `port`, collective over `comm`; `port` counts at `root` only. */
export const join = (
  side: "accept" | "connect", comm: Comm, port: string, root: number, fromState: (c: CommState) => Comm
): Effect.Effect<Intercomm, PortError> =>
  Effect.gen(function*() {
    if (stateOf(comm) === undefined) return yield* new PortError({ message: `${side} takes a communicator of this job` })
    if (!Number.isInteger(root) || root < 0 || root >= comm.size) return yield* new PortError({ message: `${side}: root ${root} is not a rank of the communicator of ${comm.size}` })
    const localComm = yield* wrap(side, comm.dup())
    const local = stateOf(localComm)!
    const counter = yield* wrap(side, localComm.allreduce(local.engine.contextCounter, Op.MAX))
    let outcome: Outcome | undefined
    if (comm.rank === root) {
      if (typeof port !== "string" || port === "") outcome = { ok: false, message: `${side}: the port must be a name from Comm.openPort, got ${String(port)}` }
      else {
        const answer = yield* Effect.result(askLauncher({ q: side, port, group: local.group, counter }))
        const value = answer._tag === "Success" ? answer.success : undefined
        outcome = value !== undefined && value !== null && "remote" in value
          ? { ok: true, remote: value.remote, context: value.context }
          : value !== undefined && value !== null && "link" in value
          ? { ok: true, across: value }
          : { ok: false, message: answer._tag === "Failure" ? answer.failure.message : `${side}: the launcher gave no group` }
      }
    }
    const agreed = (yield* wrap(side, localComm.bcast(outcome, { root }))) as Outcome
    if (!agreed.ok) return yield* new PortError({ message: agreed.message })
    if ("across" in agreed) return yield* joinAcross(side, localComm, local, agreed.across, fromState)
    yield* wrap(side, Intercomms.reserve(local, agreed.context))
    for (const r of agreed.remote) local.engine.reach?.add(r)
    return Intercomms.make(localComm, agreed.context, agreed.remote, fromState)
  })

/**
 * The other group is in another job: every rank of both joins the link the
 * launchers agreed (ours as ranks `first..` in rank order), which the engine
 * numbers after its own ranks; the link closes on disconnect (unless merged)
 * or when the run ends.
 */
const joinAcross = (
  side: "accept" | "connect", localComm: Comm, local: CommState, across: CrossJob, fromState: (c: CommState) => Comm
): Effect.Effect<Intercomm, PortError> =>
  Effect.gen(function*() {
    const engine = local.engine
    const transport = engine.transport
    if (transport.link === undefined) {
      return yield* new PortError({ message: `${side}: the ${transport.kind} transport cannot reach another job` })
    }
    const link = yield* Effect.tryPromise({
      try: () => transport.link!(across.link, across.first + local.rank, across.size, hexBytes(across.key)),
      catch: (e) => new PortError({ message: `${side}: joining the other job failed: ${(e as { message?: string }).message ?? String(e)}`, cause: e })
    })
    const first = engine.attach(link)
    yield* wrap(side, Intercomms.reserve(local, across.context))
    const remote = Array.from({ length: across.remoteSize }, (_, r) => first + across.remoteFirst + r)
    return Intercomms.make(localComm, across.context, remote, fromState, {
      localFirst: across.acceptor,
      disconnected: () => engine.closeLinks(link)
    })
  })

const hexBytes = (hex: string): Uint8Array => Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16))
