/**
 * Running a placed pipeline on one rank. Every rank of the communicator runs
 * this at once (the call is collective):
 *
 * - the pipeline talks on a duplicate of the communicator, on one tag, so its
 *   messages never meet the program's;
 * - one router fiber per peer rank receives everything that rank sends here
 *   (batches, watermarks, end-of-stream, credits, progress, its outcome) and
 *   hands it to the actor it is for; actors on the same rank reach each
 *   other directly, without a codec;
 * - when this rank's actors are all done, or one failed, or another rank said
 *   it failed, the rank sends its outcome to every other rank; the outcome is
 *   the last message it sends on the pipeline's communicator, so when every
 *   peer's outcome has arrived nothing is left in flight. Every rank then
 *   decides the same way: the failure reported by the lowest rank wins.
 *
 * Receives name their source (no ANY_SOURCE), so a dead peer fails exactly
 * the router that waits on it, and every rank learns of it from its own router.
 */
import { Cause, Deferred, Effect, Exit, Scope } from "effect"
import { EncodeError } from "../../codecs/errors.ts"
import type { Comm } from "../comm/Comm.ts"
import { PipelineInvalid, RankFailed, StageFailed, TransportError } from "../errors.ts"
import type { CodecChoice } from "../messaging/Message.ts"
import * as Actors from "./Actors.ts"
import { Emitter, type Link, preview } from "./Emitter.ts"
import { Mailbox } from "./Mailbox.ts"
import * as Placement from "./Placement.ts"
import type { Actor } from "./Placement.ts"
import * as Stats from "./Stats.ts"
import type { ActorStats } from "./Stats.ts"

/** Errors a pipeline run may end with. */
export type RunFailure = StageFailed | RankFailed | TransportError | PipelineInvalid

export interface Settings {
  readonly batchSize: number
  readonly maxDelayMillis: number
  readonly window: number
  readonly codec: CodecChoice | undefined
  /** Print (or hand over) a progress line every second, on the communicator's rank 0. */
  readonly progress: ((line: string) => Effect.Effect<void>) | undefined
  /** Gather every actor's stats to every rank at the end. */
  readonly gatherStats: boolean
}

export interface Ran {
  /** Each sink stage placed on this rank (by stage index): its result, combined over its local replicas. */
  readonly results: ReadonlyMap<number, unknown>
  /** Every actor's stats (of every rank with `gatherStats`, else of this rank). */
  readonly stats: ReadonlyArray<ActorStats>
}

/** Attempt `n` of a run talks on tag `16 + 2n` (and gathers stats on the next): a re-run never meets the messages of the attempt before it. */
const tagOf = (attempt: number) => 16 + 2 * attempt
const DATA = 0
const WATERMARK = 1
const END = 2
const CREDIT = 3
const OUTCOME = 4
const PROGRESS = 5
const HELLO = 6

type Wire =
  | readonly [typeof DATA, number, number, ReadonlyArray<unknown>, Uint8Array | Float64Array, number]
  | readonly [typeof WATERMARK, number, number, number]
  | readonly [typeof END, number, number]
  | readonly [typeof CREDIT, number, number, number]
  | readonly [typeof OUTCOME, Outcome]
  | readonly [typeof PROGRESS, ReadonlyArray<ActorStats>]
  | readonly [typeof HELLO, string]

/** A failure as it travels between ranks. */
export type Failure =
  | { readonly tag: "StageFailed"; readonly stage: string; readonly replica: number; readonly rank: number; readonly position: StageFailed["position"]; readonly reason: string; readonly message: string }
  | { readonly tag: "RankFailed"; readonly rank: number; readonly message: string; readonly details: string | undefined }
  | { readonly tag: "PipelineInvalid"; readonly stage: string | undefined; readonly message: string }
  | { readonly tag: "Other"; readonly message: string }

/** A rank's outcome: done, failed first-hand (`origin`), or stopped because another rank failed. */
type Outcome = { readonly ok: true } | { readonly ok: false; readonly origin: boolean; readonly failure: Failure | undefined }

export const toFailure = (e: unknown): Failure => {
  if (e instanceof StageFailed) return { tag: "StageFailed", stage: e.stage, replica: e.replica, rank: e.rank, position: e.position, reason: e.reason, message: e.message }
  if (e instanceof RankFailed) return { tag: "RankFailed", rank: e.rank, message: e.message, details: e.details }
  if (e instanceof PipelineInvalid) return { tag: "PipelineInvalid", stage: e.stage, message: e.message }
  return { tag: "Other", message: typeof e === "object" && e !== null && "message" in e ? String(e.message) : String(e) }
}

export const fromFailure = (f: Failure): RunFailure =>
  f.tag === "StageFailed"
    ? new StageFailed({ stage: f.stage, replica: f.replica, rank: f.rank, position: f.position, reason: f.reason, message: f.message })
    : f.tag === "RankFailed"
    ? new RankFailed({ rank: f.rank, message: f.message, details: f.details })
    : f.tag === "PipelineInvalid"
    ? new PipelineInvalid({ stage: f.stage, message: f.message })
    : new TransportError({ transport: "pipeline", message: f.message })

const bytesOf = (a: Float64Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength)

const positionsOf = (p: Uint8Array | Float64Array): Float64Array => {
  if (p instanceof Float64Array) return p
  if (p.byteOffset % 8 === 0) return new Float64Array(p.buffer, p.byteOffset, p.byteLength / 8)
  return new Float64Array(p.slice().buffer)
}

/**
 * Runs this rank's part of `placement` on `comm` (a communicator of the
 * pipeline's own), as attempt `attempt`; the ranks found dead are added to `dead`.
 */
export const execute = (comm: Comm, placement: Placement.Placement, settings: Settings, attempt: number, dead: Set<number>): Effect.Effect<Ran, RunFailure> =>
  Effect.suspend(() => {
    // The fibers of the run live in these scopes; they are closed on every way out (interruption included).
    const routerScope = Scope.makeUnsafe()
    const actorScope = Scope.makeUnsafe()
    const progressScope = Scope.makeUnsafe()
    const metricsScope = Scope.makeUnsafe()
    const closeAll = Effect.forEach([actorScope, progressScope, metricsScope, routerScope], (scope) => Scope.close(scope, Exit.void), { discard: true })
    let outcomeSent = false
    // A rank whose run is interrupted (its program was stopped) tells the others, so that they fail instead of waiting on it.
    const tellInterrupted = Effect.suspend(() =>
      outcomeSent ? Effect.void : Effect.forEach(
        placement.ranks.filter((r) => r !== comm.rank && !dead.has(r)),
        (peer) => Effect.ignore(comm.send([OUTCOME, { ok: false, origin: true, failure: { tag: "Other", message: `rank ${comm.rank} stopped its part of the pipeline (its program was interrupted)` } }] satisfies Wire, { dest: peer, tag: tagOf(attempt), codec: settings.codec })),
        { discard: true }
      )
    )
    return run(comm, placement, settings, attempt, dead, { routerScope, actorScope, progressScope, metricsScope }, () => void (outcomeSent = true)).pipe(
      Effect.onInterrupt(() => tellInterrupted),
      Effect.ensuring(closeAll)
    )
  })

interface Scopes {
  readonly routerScope: Scope.Closeable
  readonly actorScope: Scope.Closeable
  readonly progressScope: Scope.Closeable
  readonly metricsScope: Scope.Closeable
}

const run = (
  comm: Comm,
  placement: Placement.Placement,
  settings: Settings,
  attempt: number,
  dead: Set<number>,
  { actorScope, metricsScope, progressScope, routerScope }: Scopes,
  outcomeSent: () => void
): Effect.Effect<Ran, RunFailure> =>
  Effect.gen(function*() {
    const TAG = tagOf(attempt)
    const me = comm.rank
    const peers = placement.ranks.filter((r) => r !== me)
    const startedAt = performance.now()
    const local = placement.actors.filter((a) => a.rank === me)
    const stats = new Map<number, ActorStats>()
    const mailboxes = new Map<number, Mailbox>()
    const emitters = new Map<number, Emitter<RunFailure>>()
    const results = new Map<number, unknown>()

    const hostedBy = (rank: number) =>
      placement.actors.filter((a) => a.rank === rank).map((a) => `"${a.stage.stage.name}" (replica ${a.replica})`)
    const rankFailed = (rank: number, reason: string) => {
      dead.add(rank)
      const hosted = hostedBy(rank)
      return new RankFailed({
        rank,
        message: `rank ${rank} failed${hosted.length > 0 ? `; it ran ${hosted.join(", ")}` : ""}: ${reason}`,
        details: reason
      })
    }
    const sendFailure = (from: Actor) => (e: unknown): RunFailure => {
      if (e instanceof RankFailed) return rankFailed(e.rank, e.details ?? e.message)
      if (e instanceof EncodeError) {
        return new StageFailed({
          stage: from.stage.stage.name,
          replica: from.replica,
          rank: from.rank,
          reason: `its items could not be encoded: ${e.message}`,
          message: `stage "${from.stage.stage.name}" (replica ${from.replica}, rank ${from.rank}) failed: its items could not be encoded for another rank: ${e.message}`
        })
      }
      return e instanceof TransportError ? e : new TransportError({ transport: "pipeline", message: toFailure(e).message })
    }
    // Every participant sends its stats to every other (not a collective: ranks that failed before a re-run take no part).
    const gatherStats = (mine: ReadonlyArray<ActorStats>) =>
      Effect.gen(function*() {
        const gathered: Array<ActorStats> = []
        for (const r of placement.ranks) {
          if (r === me) gathered.push(...mine)
          else yield* Effect.mapError(comm.send([PROGRESS, mine] satisfies Wire, { dest: r, tag: TAG + 1, codec: settings.codec }), sendFailure(placement.actors[0]!))
        }
        for (const r of peers) {
          const theirs = yield* Effect.mapError(comm.recv<Wire>({ source: r, tag: TAG + 1 }), sendFailure(placement.actors[0]!))
          if (theirs[0] === PROGRESS) gathered.push(...theirs[1])
        }
        return gathered
      })
    const send = (dest: number, message: Wire, from: Actor): Effect.Effect<void, RunFailure> =>
      Effect.mapError(comm.send(message, { dest, tag: TAG, codec: settings.codec }), sendFailure(from))

    // What a peer sends is checked before it is used: a rank running another
    // graph (another version of the program) must fail the run, not this rank.
    const isActor = (id: unknown) => Number.isInteger(id) && (id as number) >= 0 && (id as number) < placement.actors.length
    const isLocal = (id: unknown) => isActor(id) && placement.actors[id as number]!.rank === me
    const wellFormed = (m: unknown): m is Wire => {
      if (!Array.isArray(m)) return false
      switch (m[0]) {
        case DATA: {
          const positions = m[4]
          return isLocal(m[1]) && isActor(m[2]) && Array.isArray(m[3]) && typeof m[5] === "number" &&
            (positions instanceof Uint8Array || positions instanceof Float64Array) && positions.byteLength === 8 * m[3].length
        }
        case WATERMARK:
          return isLocal(m[1]) && isActor(m[2]) && typeof m[3] === "number"
        case END:
          return isLocal(m[1]) && isActor(m[2])
        case CREDIT:
          return isLocal(m[1]) && isActor(m[2]) && Number.isInteger(m[3]) && m[3] > 0
        case OUTCOME:
          return typeof m[1] === "object" && m[1] !== null && typeof m[1].ok === "boolean"
        case PROGRESS:
          return Array.isArray(m[1])
        case HELLO:
          return typeof m[1] === "string"
        default:
          return false
      }
    }

    // Everything that arrives for an actor, from a peer or from this rank.
    const deliver = (message: Wire): void => {
      switch (message[0]) {
        case DATA: {
          const [, to, from, items, positions, upTo] = message
          const producer = placement.actors[from]!
          mailboxes.get(to)?.push(from, items, positionsOf(positions), upTo, producer.stage.stage.schema)
          return
        }
        case WATERMARK:
          mailboxes.get(message[1])?.watermark(message[2], message[3])
          return
        case END:
          mailboxes.get(message[1])?.end(message[2])
          return
        case CREDIT:
          emitters.get(message[1])?.credit(message[2], message[3])
          return
      }
    }

    const link: Link<RunFailure> = {
      data: (to, from, items, positions, upTo) =>
        to.rank === me
          ? Effect.sync(() => deliver([DATA, to.id, from.id, items, positions, upTo]))
          : send(to.rank, [DATA, to.id, from.id, items, bytesOf(positions), upTo], from),
      watermark: (to, from, upTo) =>
        to.rank === me ? Effect.sync(() => deliver([WATERMARK, to.id, from.id, upTo])) : send(to.rank, [WATERMARK, to.id, from.id, upTo], from),
      end: (to, from) => to.rank === me ? Effect.sync(() => deliver([END, to.id, from.id])) : send(to.rank, [END, to.id, from.id], from)
    }

    const creditBack = (self: Actor) => (producers: ReadonlyArray<number>): Effect.Effect<void, RunFailure> =>
      Effect.suspend(() => {
        if (producers.length === 0) return Effect.void
        if (producers.length === 1) {
          // The usual case: one batch from one producer.
          const producer = placement.actors[producers[0]!]!
          if (producer.rank !== me) return send(producer.rank, [CREDIT, producer.id, self.id, 1], self)
          emitters.get(producer.id)?.credit(self.id, 1)
          return Effect.void
        }
        const counts = new Map<number, number>()
        for (const p of producers) counts.set(p, (counts.get(p) ?? 0) + 1)
        const remote: Array<Effect.Effect<void, RunFailure>> = []
        for (const [p, n] of counts) {
          const producer = placement.actors[p]!
          if (producer.rank === me) emitters.get(p)?.credit(self.id, n)
          else remote.push(send(producer.rank, [CREDIT, p, self.id, n], self))
        }
        return remote.length === 0 ? Effect.void : Effect.all(remote, { discard: true })
      })

    // Each actor's Effect metrics are brought up to date every second and when it ends.
    const metrics = new Map<number, Effect.Effect<void>>()
    for (const a of local) {
      const producers = a.stage.inputs.reduce((n, e) => n + e.producer.actors.length, 0)
      const s = Stats.make(a.stage.stage.name, a.replica, me, settings.window * producers)
      stats.set(a.id, s)
      Stats.live.set(s, a.stage.outputs.map((e) => e.consumer.stage.name))
      metrics.set(a.id, Stats.metricsOf(s))
      if (a.stage.outputs.length > 0) emitters.set(a.id, new Emitter(a, link, settings, s))
      if (a.stage.inputs.length > 0) {
        const orderedProducers = new Map(
          a.stage.inputs.filter((e) => e.producer.stage.ordered).flatMap((e) => e.producer.actors.map((p) => [p.id, e.producer.stage.schema] as const))
        )
        mailboxes.set(a.id, new Mailbox(producers, orderedProducers, s))
      }
    }

    // --- outcomes ---------------------------------------------------------
    const outcomes = new Map<number, Outcome>()
    const allOutcomes = yield* Deferred.make<void>()
    const settled = yield* Deferred.make<void, { readonly origin: boolean; readonly error: unknown }>()
    const noteOutcome = (rank: number, o: Outcome) => {
      if (outcomes.has(rank)) return
      outcomes.set(rank, o)
      if (!o.ok && o.origin) Deferred.doneUnsafe(settled, Exit.fail({ origin: false, error: undefined }))
      if (outcomes.size === peers.length) Deferred.doneUnsafe(allOutcomes, Exit.void)
    }
    if (peers.length === 0) Deferred.doneUnsafe(allOutcomes, Exit.void)

    // --- progress ----------------------------------------------------------
    const progressOf = new Map<number, ReadonlyArray<ActorStats>>()

    // --- routers -------------------------------------------------------------
    // A rank that finds a peer's messages wrong fails the run itself (it knows why) and stops listening to that peer.
    const refuse = (peer: number, error: RunFailure) => {
      noteOutcome(peer, { ok: false, origin: false, failure: undefined })
      Deferred.doneUnsafe(settled, Exit.fail({ origin: true, error }))
    }
    // Every rank says first which graph it placed: ranks that run different graphs (another version of
    // the program, a graph built from rank-dependent data) fail at once instead of waiting on each other.
    const graph = Placement.describe(placement)
    const router = (peer: number) =>
      Effect.gen(function*() {
        const hello = yield* comm.recv<unknown>({ source: peer, tag: TAG })
        if (!wellFormed(hello) || hello[0] !== HELLO || hello[1] !== graph) {
          const theirs = wellFormed(hello) && hello[0] === HELLO ? `:\n${hello[1]}\nand rank ${me} this one:\n${graph}` : ""
          return refuse(peer, new PipelineInvalid({ message: `rank ${peer} runs another pipeline graph than rank ${me}${theirs}\nevery rank must build the same graph (same stages, names, replicas and placement)` }))
        }
        for (;;) {
          const message = yield* comm.recv<unknown>({ source: peer, tag: TAG })
          if (!wellFormed(message) || message[0] === HELLO) {
            return refuse(peer, new TransportError({ transport: "pipeline", message: `rank ${peer} sent a pipeline message that does not fit this graph (${preview(message)}); does every rank run the same program?` }))
          }
          if (message[0] === OUTCOME) return noteOutcome(peer, message[1])
          if (message[0] === PROGRESS) progressOf.set(peer, message[1])
          else deliver(message)
        }
      }).pipe(
        Effect.catch((e) =>
          Effect.sync(() =>
            noteOutcome(peer, {
              ok: false,
              origin: true,
              failure: toFailure(e instanceof RankFailed ? rankFailed(e.rank, e.details ?? e.message) : e)
            })
          )
        )
      )
    for (const peer of peers) yield* Effect.ignore(comm.send([HELLO, graph] satisfies Wire, { dest: peer, tag: TAG, codec: settings.codec }))
    for (const peer of peers) yield* Effect.forkIn(router(peer), routerScope)

    // --- actors --------------------------------------------------------------
    let running = local.length
    if (running === 0) Deferred.doneUnsafe(settled, Exit.void)
    for (const a of local) {
      const env: Actors.ActorEnv<RunFailure> = {
        actor: a,
        placement,
        mailbox: mailboxes.get(a.id),
        emitter: emitters.get(a.id),
        stats: stats.get(a.id)!,
        batchSize: settings.batchSize,
        maxDelayMillis: settings.maxDelayMillis,
        creditBack: creditBack(a),
        sinkResult: (value) => {
          const logic = a.stage.stage.logic
          const combine = logic._tag === "Sink" ? logic.combine : undefined
          results.set(a.stage.index, results.has(a.stage.index) && combine !== undefined ? combine(results.get(a.stage.index), value) : value)
        }
      }
      const logic = a.stage.stage.logic
      const body = logic._tag === "Source"
        ? Actors.source(env)
        : logic._tag === "Transform"
        ? Actors.transform(env)
        : logic._tag === "Effectful"
        ? Actors.effectful(env)
        : Actors.sink(env)
      yield* Effect.forkIn(
        body.pipe(
          Effect.onExit(() => metrics.get(a.id)!),
          Effect.matchCauseEffect({
            onSuccess: () =>
              Effect.sync(() => {
                if (--running === 0) Deferred.doneUnsafe(settled, Exit.void)
              }),
            onFailure: (cause) =>
              Cause.hasInterruptsOnly(cause)
                ? Effect.void
                : Effect.sync(() => Deferred.doneUnsafe(settled, Exit.fail({ origin: true, error: Cause.squash(cause) })))
          })
        ),
        actorScope
      )
    }

    // --- progress line -----------------------------------------------------
    if (settings.progress !== undefined) {
      const print = settings.progress
      const snapshot = () => [...stats.values()].map((s) => ({ ...s }))
      const started = performance.now()
      let before: ReadonlyArray<ActorStats> = []
      const printer = placement.ranks[0]!
      const tick = me === printer
        ? Effect.gen(function*() {
          progressOf.set(me, snapshot())
          const now = [...progressOf.values()].flat()
          yield* print(Stats.progressLine((performance.now() - started) / 1000, before, now, 1, placement.stages.map((p) => p.stage.name)))
          before = now
        })
        : Effect.ignore(send(printer, [PROGRESS, snapshot()], local[0] ?? placement.actors[0]!))
      yield* Effect.forkIn(Effect.forever(Effect.andThen(Effect.sleep("1 second"), tick)), progressScope)
    }
    // A dashboard sees this rank's actors while the pipeline runs (however it ends).
    yield* Scope.addFinalizer(metricsScope, Effect.sync(() => {
      for (const s of stats.values()) Stats.live.delete(s)
    }))
    const updateMetrics = Effect.forEach([...metrics.values()], (m) => m, { discard: true })
    yield* Effect.forkIn(Effect.forever(Effect.andThen(Effect.sleep("1 second"), updateMetrics)), metricsScope)

    // --- the end -------------------------------------------------------------
    const mine = yield* Effect.exit(Deferred.await(settled))
    yield* Scope.close(actorScope, Exit.void)
    yield* Scope.close(progressScope, Exit.void)
    yield* Scope.close(metricsScope, Exit.void)
    const myOutcome: Outcome = Exit.isSuccess(mine)
      ? { ok: true }
      : (() => {
        const f = Cause.squash(mine.cause) as { origin: boolean; error: unknown }
        return { ok: false, origin: f.origin, failure: f.origin ? toFailure(f.error) : undefined }
      })()
    outcomeSent()
    for (const peer of peers) {
      if (!dead.has(peer)) yield* Effect.ignore(comm.send([OUTCOME, myOutcome] satisfies Wire, { dest: peer, tag: TAG, codec: settings.codec }))
    }
    yield* Deferred.await(allOutcomes)
    yield* Scope.close(routerScope, Exit.void)

    // The failure the lowest rank reported first-hand; every rank picks the same.
    const all = new Map(outcomes)
    all.set(me, myOutcome)
    for (const r of placement.ranks) {
      const o = all.get(r)
      if (o !== undefined && !o.ok && o.origin && o.failure !== undefined) return yield* Effect.fail(fromFailure(o.failure))
    }
    if (!Exit.isSuccess(mine)) return yield* new TransportError({ transport: "pipeline", message: "the pipeline was stopped, but no rank said why" })

    const mineStats = [...stats.values()]
    if (!settings.gatherStats) return { results, stats: mineStats }
    const gathered = yield* gatherStats(mineStats)
    if (settings.progress !== undefined && me === placement.ranks[0]) {
      yield* settings.progress(Stats.finalLine((performance.now() - startedAt) / 1000, gathered, placement.stages.map((p) => p.stage.name)))
    }
    return { results, stats: gathered }
  })
