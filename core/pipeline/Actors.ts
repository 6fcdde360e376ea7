/**
 * What one actor (one replica of one stage) does: a source reads its items
 * and emits them; a transforming stage takes batches from its mailbox,
 * handles their items one by one and emits what comes out; a sink keeps its
 * result. Each credits its producers once a batch was handled, and sends
 * end-of-stream on when all its producers ended.
 *
 * An item the stage's function fails on follows the stage's policy: fail the
 * run (the default), skip it (counted and logged with its position), retry
 * it on a Schedule, and then, with `restart`, start the replica again with
 * fresh state and go on with the next item.
 */
import { Cause, Effect, Option, Queue, Schedule, Schema, Stream } from "effect"
import { StageFailed } from "../errors.ts"
import * as Trace from "../observe/recorder.ts"
import type { MessageSchema } from "../messaging/Message.ts"
import type { Emitter } from "./Emitter.ts"
import type { ErrorPolicy, Transformer } from "./Graph.ts"
import type { Entry, Mailbox } from "./Mailbox.ts"
import { type Actor, ORIGIN_SCALE, type Placement, positionOf } from "./Placement.ts"
import type { ActorStats } from "./Stats.ts"

export interface ActorEnv<E> {
  readonly actor: Actor
  readonly placement: Placement
  readonly mailbox: Mailbox | undefined
  readonly emitter: Emitter<E> | undefined
  readonly stats: ActorStats
  readonly batchSize: number
  readonly maxDelayMillis: number
  /** Gives one credit to each of `producers`. */
  readonly creditBack: (producers: ReadonlyArray<number>) => Effect.Effect<void, E>
  /** Hands a sink replica's result to the runtime. */
  readonly sinkResult: (value: unknown) => void
}

const describeCause = (cause: unknown): string =>
  cause instanceof Error ? cause.message : typeof cause === "object" && cause !== null && "message" in cause ? String(cause.message) : String(cause)

/** The stage's failure for an item (or for no item: position undefined). */
const stageFailed = (env: ActorEnv<unknown>, reason: string, position: number | undefined) => {
  const { actor } = env
  const pos = position === undefined ? undefined : positionOf(env.placement, position)
  const where = pos === undefined ? "" : ` on item ${pos.index} of source "${pos.source}"${env.placement.origins.length > 1 ? ` (replica ${pos.replica})` : ""}`
  return new StageFailed({
    stage: actor.stage.stage.name,
    replica: actor.replica,
    rank: actor.rank,
    position: pos,
    reason,
    message: `stage "${actor.stage.stage.name}" (replica ${actor.replica}, rank ${actor.rank}) failed${where}: ${reason}`
  })
}

/** What happens after an item failed: go on (skipped or restarted), or the stage fails. */
type Recovery = "skipped" | "restarted"

/**
 * Applies the stage's policy to an item that failed with `cause`; `again`
 * tries the item once more (for `retry`; undefined where retrying cannot help,
 * as with a schema violation).
 */
const recover = <E>(
  env: ActorEnv<E>,
  restartStep: ((input: unknown) => Effect.Effect<unknown, unknown>) | undefined,
  cause: unknown,
  position: number,
  again: Effect.Effect<void, unknown> | undefined
): Effect.Effect<Recovery | "recovered", StageFailed> =>
  Effect.gen(function*() {
    const stage = env.actor.stage.stage
    const policy: ErrorPolicy = stage.onError
    let last = cause
    if (typeof policy === "object" && again !== undefined) {
      const attempt = Effect.suspend(() => {
        env.stats.retries++
        return again
      })
      const retried = yield* attempt.pipe(
        Effect.retry(policy.retry),
        Effect.exit
      )
      if (retried._tag === "Success") return "recovered" as const
      last = Cause.squash(retried.cause)
    }
    const failure = stageFailed(env, describeCause(last), position)
    if (policy === "skip") {
      env.stats.skipped++
      if (env.stats.skipped <= 10 || env.stats.skipped % 1000 === 0) {
        yield* Effect.logWarning(`${failure.message}; skipped (${env.stats.skipped} so far)`)
      }
      return "skipped" as const
    }
    if (restartStep !== undefined) {
      const go = yield* Effect.exit(restartStep(last))
      if (go._tag === "Success") {
        env.stats.restarts++
        yield* Effect.logWarning(`${failure.message}; restarting it with fresh state (restart ${env.stats.restarts})`)
        return "restarted" as const
      }
    }
    return yield* failure
  })

const restartStepOf = (env: ActorEnv<unknown>) =>
  env.actor.stage.stage.restart === undefined
    ? Effect.succeed(undefined)
    : Schedule.toStepWithSleep(env.actor.stage.stage.restart)

const decoderOf = (cache: Map<MessageSchema, (u: unknown) => unknown>, schema: MessageSchema | undefined) => {
  if (schema === undefined) return undefined
  let d = cache.get(schema)
  if (d === undefined) {
    d = Schema.decodeUnknownSync(schema)
    cache.set(schema, d)
  }
  return d
}

const schemaReason = (env: ActorEnv<unknown>, cause: unknown) => {
  const producer = env.actor.stage.inputs.map((e) => e.producer.stage.name).join(" or ")
  return `the item does not match the schema of its edge from "${producer}": ${describeCause(cause)}`
}

/**
 * Lets the rank's other actors and routers run once this actor has had the
 * thread for a millisecond: a replica with slow items then yields after each
 * batch (so that its rank keeps passing credits and work to the others), and
 * a cheap one drains its whole mailbox in one turn.
 */
const SLICE_MILLIS = 1
const slicer = () => {
  let since = performance.now()
  return () =>
    Effect.suspend(() => {
      const now = performance.now()
      if (now - since < SLICE_MILLIS) return Effect.void
      return Effect.andThen(Effect.yieldNow, Effect.sync(() => void (since = performance.now())))
    })
}

/** A source replica: emits its items, then end-of-stream. */
export const source = <E>(env: ActorEnv<E>): Effect.Effect<void, E | StageFailed> =>
  Effect.gen(function*() {
    const { actor, stats } = env
    const emitter = env.emitter!
    const logic = actor.stage.stage.logic
    if (logic._tag !== "Source") return
    const base = actor.origin * ORIGIN_SCALE
    let index = 0
    const items = yield* Effect.try({
      try: () => logic.produce(actor.replica, actor.stage.actors.length),
      catch: (cause) => stageFailed(env, `its items could not be made: ${describeCause(cause)}`, undefined)
    })
    const emitOne = (item: unknown) => {
      const position = base + index++
      try {
        emitter.emit(item, position)
      } catch (cause) {
        throw stageFailed(env, describeCause(cause), position)
      }
      emitter.handled = position
    }
    const timed = <A>(work: () => A) => {
      const t0 = performance.now()
      try {
        return work()
      } finally {
        stats.busyMillis += performance.now() - t0
      }
    }
    if (Stream.isStream(items)) {
      const chunks = yield* Queue.bounded<ReadonlyArray<unknown>, unknown>(2)
      yield* Stream.runForEachArray(items as Stream.Stream<unknown, unknown>, (chunk) => Queue.offer(chunks, chunk)).pipe(
        Effect.matchCauseEffect({
          onSuccess: () => Queue.end(chunks),
          onFailure: (cause) => Queue.failCause(chunks, cause)
        }),
        Effect.forkScoped
      )
      for (;;) {
        const next = yield* Queue.take(chunks).pipe(Effect.timeoutOption(env.maxDelayMillis), Effect.exit)
        if (next._tag === "Failure") {
          if (Cause.hasFails(next.cause) && Cause.isDone(Cause.squash(next.cause))) break
          return yield* stageFailed(env, `its stream failed: ${describeCause(Cause.squash(next.cause))}`, undefined)
        }
        if (Option.isNone(next.value)) {
          if (emitter.hasPending) yield* emitter.flushAll
          continue
        }
        const chunk = next.value.value
        stats.itemsIn += chunk.length
        yield* Effect.try({ try: () => timed(() => chunk.forEach(emitOne)), catch: (e) => e as StageFailed })
        if (emitter.full) yield* emitter.flushFull
        if (emitter.overdue) yield* emitter.flushAll
      }
    } else {
      const iterator = yield* Effect.try({
        try: () => (items as Iterable<unknown>)[Symbol.iterator](),
        catch: (cause) => stageFailed(env, `its items are not iterable: ${describeCause(cause)}`, undefined)
      })
      let done = false
      while (!done) {
        yield* Effect.try({
          try: () =>
            timed(() => {
              for (let k = 0; k < env.batchSize && !emitter.full; k++) {
                let r: IteratorResult<unknown>
                try {
                  r = iterator.next()
                } catch (cause) {
                  throw stageFailed(env, `reading its items failed: ${describeCause(cause)}`, undefined)
                }
                if (r.done) {
                  done = true
                  return
                }
                stats.itemsIn++
                emitOne(r.value)
              }
            }),
          catch: (e) => e as StageFailed
        })
        // No yield here: the source runs on while it has credit (it is cheap next to
        // its consumers), and waits, letting the others run, when it has none.
        if (emitter.full) yield* emitter.flushFull
        else if (emitter.overdue) yield* emitter.flushAll
      }
    }
    yield* emitter.end
  }).pipe(Effect.scoped)

/** An item that was not decoded: dropped by the policy (skipped), or dropped with the replica restarted. */
const SKIPPED = Symbol("skipped")
const RESTARTED = Symbol("restarted")
type Dropped = typeof SKIPPED | typeof RESTARTED

/**
 * What the replicas that take batches share: counting each batch in,
 * decoding and validating items against their edge's schema under the
 * stage's policy, and, once a batch is handled, its busy time, its credits,
 * the flush of what it emitted and a turn for the rank's other fibers.
 */
const batchHandler = <E>(env: ActorEnv<E>) =>
  Effect.map(restartStepOf(env), (restartStep) => {
    const decoders = new Map<MessageSchema, (u: unknown) => unknown>()
    const slice = slicer()
    const { stats, mailbox, emitter } = env
    return {
      restartStep,
      /** Counts `entry` in and gives the decoder of its items (undefined: no schema). */
      begin: (entry: Entry) => {
        stats.batchesIn++
        stats.itemsIn += entry.items.length
        return decoderOf(decoders, entry.schema)
      },
      /** The decoded item, or how the policy dropped it. */
      decode: (decode: (u: unknown) => unknown, item: unknown, position: number): Effect.Effect<unknown, StageFailed> => {
        try {
          return Effect.succeed(decode(item))
        } catch (cause) {
          return Effect.map(recover(env, restartStep, schemaReason(env, cause), position, undefined), (r): Dropped => r === "restarted" ? RESTARTED : SKIPPED)
        }
      },
      /** Closes the handling of `entry`, begun at `t0`. */
      finish: (entry: Entry, t0: number): Effect.Effect<void, E> =>
        Effect.gen(function*() {
          const t1 = performance.now()
          stats.busyMillis += t1 - t0
          if (Trace.tracing) {
            Trace.span(env.actor.rank, env.actor.stage.stage.name, "pipeline", Trace.at(t0), Trace.at(t1), { replica: env.actor.replica, items: entry.items.length })
          }
          yield* env.creditBack(entry.credits)
          if (emitter !== undefined && (mailbox!.depth === 0 || emitter.overdue)) yield* emitter.flushAll
          yield* slice()
        })
    }
  })

/** Runs `f` (a transformer's end or tick) and turns what it throws into the stage's failure. */
const runHook = <E>(env: ActorEnv<E>, f: () => void): Effect.Effect<void, StageFailed> =>
  Effect.suspend(() => {
    try {
      f()
      return Effect.void
    } catch (cause) {
      return Effect.fail(stageFailed(env, describeCause(cause), undefined))
    }
  })

/** A transforming replica (map, filter, flatMap, batch, keyBy): handles batches until every producer ended. */
export const transform = <E>(env: ActorEnv<E>): Effect.Effect<void, E | StageFailed> =>
  Effect.gen(function*() {
    const { stats } = env
    const mailbox = env.mailbox!
    const emitter = env.emitter!
    const logic = env.actor.stage.stage.logic
    if (logic._tag !== "Transform") return
    const handler = yield* batchHandler(env)
    let t: Transformer = logic.make()
    const emit = emitter.emit
    const every = t.everyMillis
    let lastTick = performance.now()
    for (;;) {
      const entry = every === undefined ? yield* mailbox.take() : yield* mailbox.takeWithin(Math.max(1, every - (performance.now() - lastTick)))
      if (every !== undefined && performance.now() - lastTick >= every) {
        lastTick = performance.now()
        const current = t
        if (current.tick !== undefined) {
          yield* runHook(env, () => current.tick!(emit))
          yield* emitter.flushAll
        }
      }
      if (entry === "tick") continue
      if (entry === undefined) break
      let t0 = performance.now()
      const decode = handler.begin(entry)
      for (let i = 0; i < entry.items.length; i++) {
        const position = entry.positions[i]!
        let item = entry.items[i]
        if (decode !== undefined) {
          item = yield* handler.decode(decode, item, position)
          if (item === RESTARTED) t = logic.make()
          if (item === RESTARTED || item === SKIPPED) continue
        }
        try {
          t.step(item, position, emit)
        } catch (cause) {
          const current = t
          const value = item
          const r = yield* recover(env, handler.restartStep, cause, position, Effect.try({ try: () => current.step(value, position, emit), catch: (e) => e }))
          if (r === "restarted") t = logic.make()
        }
        emitter.handled = position
        if (emitter.full) {
          stats.busyMillis += performance.now() - t0
          yield* emitter.flushFull
          t0 = performance.now()
        }
      }
      yield* handler.finish(entry, t0)
    }
    const current = t
    if (current.end !== undefined) yield* runHook(env, () => current.end!(emit))
    yield* emitter.end
  })

/** A mapEffect replica: runs the stage's Effect on the items of each batch, `concurrency` at a time, and emits the results in order. */
export const effectful = <E>(env: ActorEnv<E>): Effect.Effect<void, E | StageFailed> =>
  Effect.gen(function*() {
    const mailbox = env.mailbox!
    const emitter = env.emitter!
    const logic = env.actor.stage.stage.logic
    if (logic._tag !== "Effectful") return
    const handler = yield* batchHandler(env)
    for (;;) {
      const entry = yield* mailbox.take()
      if (entry === undefined) break
      const t0 = performance.now()
      const decode = handler.begin(entry)
      const one = (raw: unknown, i: number): Effect.Effect<unknown, StageFailed> => {
        const position = entry.positions[i]!
        const run = (item: unknown) => {
          if (item === SKIPPED || item === RESTARTED) return Effect.succeed(SKIPPED)
          const attempt = Effect.suspend(() => logic.f(item))
          return attempt.pipe(
            Effect.catchCause((cause) => {
              let result: unknown = SKIPPED
              const again = Effect.tap(attempt, (b) => Effect.sync(() => void (result = b)))
              return recover(env, handler.restartStep, Cause.squash(cause), position, again).pipe(Effect.map((r) => r === "recovered" ? result : SKIPPED))
            })
          )
        }
        return decode === undefined ? run(raw) : Effect.flatMap(handler.decode(decode, raw, position), run)
      }
      const results = yield* Effect.forEach(entry.items, one, { concurrency: logic.concurrency })
      for (let i = 0; i < results.length; i++) {
        if (results[i] !== SKIPPED) emitter.emit(results[i], entry.positions[i]!)
        emitter.handled = entry.positions[i]!
        if (emitter.full) yield* emitter.flushFull
      }
      yield* handler.finish(entry, t0)
    }
    yield* emitter.end
  })

/** A sink replica: feeds its items to the sink and hands over the result at the end. */
export const sink = <E>(env: ActorEnv<E>): Effect.Effect<void, E | StageFailed> =>
  Effect.gen(function*() {
    const mailbox = env.mailbox!
    const logic = env.actor.stage.stage.logic
    if (logic._tag !== "Sink") return
    const handler = yield* batchHandler(env)
    let state = logic.make()
    for (;;) {
      const entry = yield* mailbox.take()
      if (entry === undefined) break
      const t0 = performance.now()
      const decode = handler.begin(entry)
      for (let i = 0; i < entry.items.length; i++) {
        const position = entry.positions[i]!
        let item = entry.items[i]
        if (decode !== undefined) {
          item = yield* handler.decode(decode, item, position)
          if (item === RESTARTED) state = logic.make()
          if (item === RESTARTED || item === SKIPPED) continue
        }
        let failed: { cause: unknown } | undefined
        try {
          const r = state.step(item, position)
          if (r !== undefined) {
            // Time in the sink's own Effect is busy time too: the replica is handling the item.
            const exit = yield* Effect.exit(r)
            if (exit._tag === "Failure") failed = { cause: Cause.squash(exit.cause) }
          }
        } catch (cause) {
          failed = { cause }
        }
        if (failed !== undefined) {
          const current = state
          const value = item
          const again = Effect.suspend(() => current.step(value, position) ?? Effect.void)
          const r = yield* recover(env, handler.restartStep, failed.cause, position, again)
          if (r === "restarted") state = logic.make()
        }
      }
      yield* handler.finish(entry, t0)
    }
    env.sinkResult(state.result())
  })
