/**
 * Building intercommunicators (see Intercomm.ts for what they are). An
 * intercommunicator is a context agreed by every rank of both groups (each
 * group agrees within itself, the two leaders exchange over the peer
 * communicator); its point-to-point state addresses the remote group, and
 * its collectives run on the next context with one tag per call.
 * Internal: `comm.createIntercomm` is the way in.
 */
import { Effect } from "effect"
import type { Comm } from "./Comm.ts"
import type { CommState } from "./CommState.ts"
import * as CommStates from "./CommState.ts"
import { stateOf } from "./communicators.ts"
import { type Intercomm, IntercommError, ROOT } from "./Intercomm.ts"
import type { CollectiveError } from "../collectives/Collectives.ts"
import { enable } from "../collectives/shared/setup.ts"
import { PROC_NULL } from "../messaging/Matching.ts"
import * as Request from "../messaging/Request.ts"
import * as Op from "../op/Op.ts"

const failure = (message: string, cause?: unknown) => new IntercommError({ message, ...(cause === undefined ? {} : { cause }) })

const wrap = <A, E>(what: string, effect: Effect.Effect<A, E>): Effect.Effect<A, IntercommError> =>
  Effect.mapError(effect, (e) => (e instanceof IntercommError ? e : failure(`${what}: ${(e as { message?: string }).message ?? String(e)}`, e)))

/** Both groups' agreement on a new context: each group's largest next-free id, then the leaders' exchange. */
const agreeContext = (local: Comm, exchange: (mine: number) => Effect.Effect<number, unknown>): Effect.Effect<number, IntercommError> =>
  Effect.gen(function*() {
    const state = stateOf(local)!
    const mine = yield* wrap("agreeing on a context", local.allreduce(state.engine.contextCounter, Op.MAX))
    const theirs = local.rank === 0 ? yield* wrap("agreeing on a context", exchange(mine)) : 0
    const agreed = yield* wrap("agreeing on a context", local.bcast(Math.max(mine, theirs), { root: 0 }))
    return yield* reserve(state, agreed)
  })

/** Takes the agreed ids (an intercommunicator's four, or `n`) on this rank. */
export const reserve = (state: CommState, agreed: number, n = 4): Effect.Effect<number, IntercommError> => {
  const first = state.engine.reserveContexts(agreed, n)
  return first === agreed
    ? Effect.succeed(first)
    : Effect.fail(failure(`communicator creation calls overlapped on rank ${state.engine.rank}: make them one at a time`))
}

/** The point-to-point state of one side: addresses the remote group, ranked in the local one. */
const addressing = (local: CommState, context: number, remote: ReadonlyArray<number>, name: string): CommState => {
  const remoteState = CommStates.make(local.engine, context, remote, local.codec, local.decodeOptions, name)
  return { ...remoteState, rank: local.rank }
}

/**
 * An intercommunicator between `local` (this rank's group) and the group led
 * by `remoteLeader` of `peerComm` (MPI_Intercomm_create; collective over both
 * groups). `localLeader` is the leader's rank in `local`; the two leaders
 * exchange the groups over `peerComm` with `tag`, so only they need to be in
 * it. The groups must not overlap.
 */
export const create = (
  local: Comm, localLeader: number, peerComm: Comm, remoteLeader: number, tag: number, fromState: (c: CommState) => Comm
): Effect.Effect<Intercomm, IntercommError> =>
  Effect.gen(function*() {
    const localState = stateOf(local)
    if (localState === undefined) return yield* failure("create takes a communicator of this job")
    if (!Number.isInteger(localLeader) || localLeader < 0 || localLeader >= local.size) {
      return yield* failure(`localLeader ${localLeader} is not a rank of the local communicator of ${local.size}`)
    }
    // The leader learns the remote group (world ranks) and its largest next-free context, and hands both
    // (or why it could not) to its whole group, so that every rank of it succeeds or fails alike.
    const counter = yield* wrap("create", local.allreduce(localState.engine.contextCounter, Op.MAX))
    type Remote = { readonly group: ReadonlyArray<number>; readonly counter: number } | { readonly error: string }
    let theirs: Remote | undefined
    if (local.rank === localLeader) {
      theirs = !Number.isInteger(remoteLeader) || remoteLeader < 0 || remoteLeader >= peerComm.size || remoteLeader === peerComm.rank
        ? { error: `remoteLeader ${remoteLeader} is not another rank of the peer communicator of ${peerComm.size}` }
        : yield* wrap("create", peerComm.sendrecv<Remote>({ group: localState.group, counter }, { dest: remoteLeader, source: remoteLeader, tag }))
    }
    const remote = yield* wrap("create", local.bcast(theirs, { root: localLeader }))
    if (remote === undefined || "error" in remote) return yield* failure(remote?.error ?? "the leaders did not exchange their groups")
    if (remote.group.some((w) => localState.group.includes(w))) return yield* failure("the two groups overlap: an intercommunicator joins disjoint groups")
    const context = yield* reserve(localState, Math.max(counter, remote.counter))
    const localComm = yield* wrap("create", local.dup())
    return make(localComm, context, remote.group, fromState)
  })

/** How an intercommunicator between jobs differs (see `make`). */
export interface Across {
  /** Whether the local group comes first where both groups pass the same `high` to merge (rank numbers differ between jobs). */
  readonly localFirst: boolean
  /** Called once `disconnect` completed, unless a merge still uses what joins the groups. */
  readonly disconnected: () => void
}

/**
 * The intercommunicator over an agreed context (points 0–1: point-to-point,
 * 2–3: its collectives); `across` where the remote group is in another job.
 */
export const make = (
  localComm: Comm, context: number, remoteGroup: ReadonlyArray<number>, fromState: (c: CommState) => Comm, across?: Across
): Intercomm => {
  const local = stateOf(localComm)!
  const name = `an intercommunicator to world ranks ${remoteGroup.join(",")}`
  const p2p = fromState(addressing(local, context, remoteGroup, name))
  const coll = fromState(addressing(local, context + 2, remoteGroup, `${name} (its collectives)`))
  let seq = 0
  let disconnected = false
  let merged = false
  const remoteSize = remoteGroup.length
  /** Each collective call's tag: the calls run in the same order on every rank of both groups. */
  const nextTag = () => (seq = (seq + 1) & 0xffff)
  const live = <A>(what: string, body: (tag: number) => Effect.Effect<A, unknown>): Effect.Effect<A, IntercommError> =>
    Effect.suspend(() => (disconnected ? Effect.fail(failure(`${what} after disconnect`)) : wrap(what, body(nextTag()))))
  const rootRole = (what: string, root: number): "root" | "idle" | "receive" | IntercommError => {
    if (root === ROOT) return "root"
    if (root === PROC_NULL) return "idle"
    if (Number.isInteger(root) && root >= 0 && root < remoteSize) return "receive"
    return failure(`${what}: root must be ROOT (the root), PROC_NULL (the rest of its group) or a rank of the remote group (0..${remoteSize - 1}), got ${root}`)
  }
  const leaderSwap = <A>(tag: number, value: A) => coll.sendrecv<A>(value, { dest: 0, source: 0, tag })

  const self: Intercomm = {
    rank: local.rank,
    size: local.size,
    remoteSize,
    localComm,
    send: p2p.send,
    ssend: p2p.ssend,
    isend: p2p.isend,
    issend: p2p.issend,
    recv: p2p.recv,
    recvWithStatus: p2p.recvWithStatus,
    irecv: p2p.irecv,
    sendrecv: p2p.sendrecv,
    probe: p2p.probe,
    iprobe: p2p.iprobe,
    recvInto: p2p.recvInto,
    irecvInto: p2p.irecvInto,
    barrier: () =>
      live("barrier", (tag) =>
        Effect.gen(function*() {
          yield* localComm.barrier()
          if (local.rank === 0) yield* leaderSwap(tag, null)
          yield* localComm.barrier()
        })),
    bcast: <A>(value: A | undefined, options: { readonly root: number }) =>
      live("bcast", (tag) => {
        const role = rootRole("bcast", options.root)
        if (role instanceof IntercommError) return Effect.fail(role)
        if (role === "root") return Effect.as(Effect.forEach(remoteGroup, (_, r) => coll.send(value, { dest: r, tag }), { discard: true }), value)
        if (role === "idle") return Effect.succeed(undefined)
        return coll.recv<A>({ source: options.root, tag })
      }),
    gather: <A>(value: A | undefined, options: { readonly root: number }) =>
      live("gather", (tag) => {
        const role = rootRole("gather", options.root)
        if (role instanceof IntercommError) return Effect.fail(role)
        if (role === "root") return Effect.forEach(remoteGroup, (_, r) => coll.recv<A>({ source: r, tag }))
        if (role === "idle") return Effect.succeed(undefined)
        return Effect.as(coll.send(value, { dest: options.root, tag }), undefined)
      }),
    scatter: <A>(values: ReadonlyArray<A> | undefined, options: { readonly root: number }) =>
      live("scatter", (tag) => {
        const role = rootRole("scatter", options.root)
        if (role instanceof IntercommError) return Effect.fail(role)
        if (role === "root") {
          if (!Array.isArray(values) || values.length !== remoteSize) {
            return Effect.fail(failure(`scatter: the root gives one value per remote rank (${remoteSize}), got ${Array.isArray(values) ? values.length : typeof values}`))
          }
          return Effect.as(Effect.forEach(values, (v, r) => coll.send(v, { dest: r, tag }), { discard: true }), undefined)
        }
        if (role === "idle") return Effect.succeed(undefined)
        return coll.recv<A>({ source: options.root, tag })
      }),
    allgather: <A>(value: A) =>
      live("allgather", (tag) =>
        Effect.gen(function*() {
          const mine = yield* localComm.gather(value, { root: 0 })
          const theirs = local.rank === 0 ? yield* leaderSwap(tag, mine) : undefined
          return (yield* localComm.bcast(theirs, { root: 0 })) as Array<A>
        })),
    allreduce: <A>(value: A, op: Op.Op) =>
      live("allreduce", (tag) =>
        Effect.gen(function*() {
          const mine = yield* (localComm.reduce as (v: unknown, op: Op.Op, o: { root: number }) => Effect.Effect<unknown, CollectiveError>)(value, op, { root: 0 })
          const theirs = local.rank === 0 ? yield* leaderSwap(tag, mine) : undefined
          return (yield* localComm.bcast(theirs, { root: 0 })) as A
        })),
    reduce: <A>(value: A | undefined, op: Op.Op, options: { readonly root: number }) =>
      live("reduce", (tag) => {
        const role = rootRole("reduce", options.root)
        if (role instanceof IntercommError) return Effect.fail(role)
        if (role === "root") return coll.recv<A>({ source: 0, tag })
        if (role === "idle") return Effect.succeed(undefined)
        // The contributing group reduces to its rank 0, which sends to the root.
        return Effect.gen(function*() {
          const mine = yield* (localComm.reduce as (v: unknown, op: Op.Op, o: { root: number }) => Effect.Effect<unknown, CollectiveError>)(value, op, { root: 0 })
          if (local.rank === 0) yield* coll.send(mine, { dest: options.root, tag })
          return undefined
        })
      }),
    alltoall: <A>(values: ReadonlyArray<A>) =>
      live("alltoall", (tag) => {
        if (!Array.isArray(values) || values.length !== remoteSize) {
          return Effect.fail(failure(`alltoall: one value per remote rank (${remoteSize}), got ${Array.isArray(values) ? values.length : typeof values}`))
        }
        return Effect.gen(function*() {
          const sends = yield* Effect.forEach(values, (v, r) => coll.isend(v, { dest: r, tag }))
          const got = yield* Effect.forEach(remoteGroup, (_, r) => coll.recv<A>({ source: r, tag }))
          yield* Request.waitAll(sends)
          return got
        })
      }),
    merge: (high) =>
      live("merge", (tag) =>
        Effect.gen(function*() {
          // Both groups' order: the one that said high = false first; if both said the same, the group of the lower world rank first.
          const flags = yield* localComm.allgather(high)
          if (flags.some((f) => f !== high)) return yield* failure("merge: every rank of a group passes the same high")
          const context = yield* agreeContext(localComm, (mine) => leaderSwap(tag, mine))
          const theirHigh = local.rank === 0 ? yield* leaderSwap(tag, high) : undefined
          const remoteHigh = (yield* localComm.bcast(theirHigh, { root: 0 })) as boolean
          const localFirst = high !== remoteHigh ? !high : across?.localFirst ?? local.group[0]! < remoteGroup[0]!
          const group = localFirst ? [...local.group, ...remoteGroup] : [...remoteGroup, ...local.group]
          const state = CommStates.make(local.engine, context, group, local.codec, local.decodeOptions)
          merged = true
          const comm = fromState(state)
          yield* enable(state)
          return comm
        })),
    disconnect: () =>
      Effect.flatMap(self.barrier(), () =>
        Effect.sync(() => {
          disconnected = true
          if (!merged) across?.disconnected()
        }))
  }
  return self
}
