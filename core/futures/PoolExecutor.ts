/**
 * A pool of worker ranks that run tasks (mpi4py.futures): `submit` a task
 * with its arguments for a `Future` of its result, `map` a task over an
 * iterable for a `Stream` of results. Tasks are exported functions
 * (`Task.define`); the master sends a task's module URL, its name and the
 * pickled arguments to an idle worker, which imports the module once, runs
 * the function and sends back the pickled result or the error.
 *
 * Where the workers come from:
 * - `CommExecutor(comm, { root })`: the root of `comm` is the master, every
 *   other rank of it serves as a worker until the root's executor closes.
 * - `make()` in a job started with `rankflow run -n N --pool script.ts`:
 *   rank 0 runs the script, ranks 1..N−1 serve (like `python -m mpi4py.futures`).
 * - `make()` elsewhere: the calling rank spawns its workers into the job's
 *   free slots (`rankflow run --universe`; like mpi4py's `MPIPoolExecutor`).
 *
 * @example
 * ```ts
 * const pool = yield* PoolExecutor.make({ maxWorkers: 4 })
 * const f = yield* pool.submit(pow, 2, 8)
 * yield* f.await   // 256
 * const squares = yield* Stream.runCollect(pool.map(square, [1, 2, 3], { chunksize: 2 }))
 * ```
 */
import { Data, Deferred, Duration, Effect, Exit, Option, Scope, Semaphore, Stream } from "effect"
import type { Comm } from "../comm/Comm.ts"
import { World } from "../comm/Comm.ts"
import * as CommStates from "../comm/CommState.ts"
import { stateOf } from "../comm/communicators.ts"
import { fromState } from "../internal/facade.ts"
import * as Spawns from "../dynamic/spawns.ts"
import * as Task from "./Task.ts"
import type { Task as TaskT } from "./Task.ts"
import { type Messenger, type Order, poolMode, stopServing, type Reply, RESULTS, serve, TASKS, taskName, type WorkReply } from "./worker.ts"

/**
 * A task raised an error on its worker: its name, message and stack as the worker saw them.
 *
 * @example
 * ```ts
 * yield* f.await.pipe(Effect.catchTag("TaskFailed", (e) => Effect.log(`${e.name}: ${e.message}`)))
 * ```
 */
export class TaskFailed extends Data.TaggedError("TaskFailed")<{
  readonly task: string
  readonly name: string
  readonly message: string
  readonly stack?: string
}> {}

/**
 * A worker died while it ran the task (its rank failed).
 *
 * @example
 * ```ts
 * yield* f.await.pipe(Effect.catchTag("WorkerDied", (e) => Effect.log(`worker ${e.worker} died`)))
 * ```
 */
export class WorkerDied extends Data.TaggedError("WorkerDied")<{ readonly worker: number; readonly message: string }> {}

/**
 * The pool cannot run tasks: its initializer failed on a worker, it has no
 * workers, or it was shut down. Pending and new submissions fail with it.
 *
 * @example
 * ```ts
 * yield* pool.submit(task).pipe(Effect.catchTag("BrokenPool", (e) => Effect.log(e.message)))
 * ```
 */
export class BrokenPool extends Data.TaggedError("BrokenPool")<{ readonly message: string; readonly cause?: unknown }> {}

/**
 * A future was cancelled before its task started.
 *
 * @example
 * ```ts
 * if (yield* f.cancel) yield* Effect.flip(f.await)   // TaskCancelled
 * ```
 */
export class TaskCancelled extends Data.TaggedError("TaskCancelled")<{ readonly task: string }> {}

/**
 * `map`'s `timeout` passed before the next result was ready.
 *
 * @example
 * ```ts
 * pool.map(slow, items, { timeout: "1 second" })   // fails with TaskTimeout when a result is late
 * ```
 */
export class TaskTimeout extends Data.TaggedError("TaskTimeout")<{ readonly message: string }> {}

/**
 * A task's arguments (or, on the worker, its result) could not be encoded.
 *
 * @example
 * ```ts
 * yield* pool.submit(task, () => 1).pipe(Effect.flatMap((f) => f.await), Effect.catchTag("TaskEncodeError", (e) => Effect.log(e.message)))
 * ```
 */
export class TaskEncodeError extends Data.TaggedError("TaskEncodeError")<{ readonly task: string; readonly message: string; readonly cause?: unknown }> {}

/**
 * Why a task's result is not there.
 *
 * @example
 * ```ts
 * const outcome = yield* Effect.exit(f.await)   // a failure with a TaskError when the task failed, was cancelled, …
 * ```
 */
export type TaskError = TaskFailed | WorkerDied | BrokenPool | TaskCancelled | TaskEncodeError

/**
 * A submitted task's result to come (concurrent.futures.Future).
 *
 * @example
 * ```ts
 * const f = yield* pool.submit(fib, 30)
 * const now = yield* f.poll      // Option.none() while it runs
 * const r = yield* f.await       // 832040
 * ```
 */
export interface Future<A> {
  /** Waits for the result. */
  readonly await: Effect.Effect<A, TaskError>
  /** The outcome if the task is done. */
  readonly poll: Effect.Effect<Option.Option<Exit.Exit<A, TaskError>>>
  /** Cancels the task if it has not started; true if it was cancelled. */
  readonly cancel: Effect.Effect<boolean>
}

/**
 * Options of `map` and `starmap`.
 *
 * @example
 * ```ts
 * pool.map(square, items, { chunksize: 16, unordered: true, bufferSize: 8, timeout: "30 seconds" })
 * ```
 */
export interface MapOptions {
  /** Items per message to a worker (default 1). */
  readonly chunksize?: number
  /** Results as they complete instead of in input order. */
  readonly unordered?: boolean
  /** Chunks submitted ahead of the results taken (default: twice the workers). */
  readonly bufferSize?: number
  /** The longest wait, from the call, for all results (then `TaskTimeout`). */
  readonly timeout?: import("effect").Duration.Input
}

/**
 * A pool's master side.
 *
 * @example
 * ```ts
 * const pool = yield* PoolExecutor.make()
 * const results = yield* Stream.runCollect(pool.starmap(pow, [[2, 5], [3, 2]]))   // [32, 9]
 * ```
 */
export interface Executor {
  /** How many workers run tasks. */
  readonly numWorkers: number
  submit<Args extends ReadonlyArray<unknown>, R>(task: TaskT<Args, R>, ...args: Args): Effect.Effect<Future<R>, BrokenPool>
  map<A, R>(task: TaskT<[A], R>, items: Iterable<A>, options?: MapOptions): Stream.Stream<R, TaskError | TaskTimeout>
  starmap<Args extends ReadonlyArray<unknown>, R>(task: TaskT<Args, R>, items: Iterable<Args>, options?: MapOptions): Stream.Stream<R, TaskError | TaskTimeout>
  /** Stops taking tasks; with `cancelFutures`, cancels those not started; with `wait` (default), waits for the running ones. */
  shutdown(options?: { readonly wait?: boolean; readonly cancelFutures?: boolean }): Effect.Effect<void>
  /** Starts the workers now (they start on the first submission otherwise). */
  bootup(): Effect.Effect<void, BrokenPool>
}

/**
 * Options of `make` and `CommExecutor`.
 *
 * @example
 * ```ts
 * const pool = yield* PoolExecutor.make({ maxWorkers: 4, initializer: warmUp, bootup: true })
 * ```
 */
export interface ExecutorOptions {
  /** At most this many workers (default: `RANKFLOW_MAX_WORKERS`, then every available worker). */
  readonly maxWorkers?: number
  /** A task every worker runs once before its first task; if it fails there, the pool is broken. */
  readonly initializer?: TaskT<[], unknown>
  /** Start the workers at once rather than on the first submission. */
  readonly bootup?: boolean
}

// ---- the master ----------------------------------------------------------------------------

interface Item {
  readonly deferred: Deferred.Deferred<unknown, TaskError>
  state: "queued" | "running" | "done"
}
interface Work {
  readonly id: number
  readonly task: TaskT<ReadonlyArray<unknown>, unknown>
  readonly chunk: ReadonlyArray<ReadonlyArray<unknown>>
  readonly items: ReadonlyArray<Item>
}

/** Messages of work a worker may have unanswered: one runs while the next travels. */
const MESSAGES_IN_FLIGHT = 2
/** Pieces of work in one message at most. */
const MAX_BATCH = 64

/** Where the master's workers are: ranks of a communicator, or of an intercommunicator's remote group. */
interface Crew {
  readonly comm: Messenger
  readonly workers: ReadonlyArray<number>
}

/** How the master reaches one worker. */
interface Link {
  readonly comm: Messenger
  readonly rank: number
}

/**
 * The master over a crew of `count` workers (or one that `hire` starts when
 * the pool starts), sending on TASKS and taking replies on RESULTS. With
 * `replace`, a worker that dies is replaced by a new one.
 */
const master = (
  hire: Crew | Effect.Effect<Crew, BrokenPool>,
  count: number,
  options: ExecutorOptions,
  replace?: Effect.Effect<Link, BrokenPool>
): Effect.Effect<Executor, never, Scope.Scope> =>
  Effect.gen(function*() {
    // Filled once the pool starts (at once for a crew given): work goes only to started workers.
    const links = new Map<number, Link>()
    /** Replacements being started for workers that died. */
    let replacing = 0
    let nextWorker = 0
    const enlist = (link: Link): number => {
      const id = nextWorker++
      links.set(id, link)
      return id
    }
    const sendTo = (worker: number, order: Order) => {
      const link = links.get(worker)!
      return link.comm.send(order, { dest: link.rank, tag: TASKS, codec: "pickle" })
    }
    const recvFrom = (worker: number) => {
      const link = links.get(worker)!
      return link.comm.recv<Reply>({ source: link.rank, tag: RESULTS })
    }
    const queue: Array<Work> = []
    /** Messages of work sent to each live worker and not yet answered. */
    const inFlight = new Map<number, number>()
    const running = new Map<number, { readonly work: Work; readonly worker: number }>()
    let nextId = 0
    let broken: BrokenPool | undefined
    let closed = false
    let started: Deferred.Deferred<void, BrokenPool> | undefined
    const lock = yield* Semaphore.make(1)

    const settle = (item: Item, exit: Exit.Exit<unknown, TaskError>) => {
      if (item.state === "done") return Effect.void
      item.state = "done"
      return Deferred.done(item.deferred, exit)
    }
    const failWork = (work: Work, error: TaskError) => Effect.forEach(work.items, (i) => settle(i, Exit.fail(error)), { discard: true })

    const breakPool = (error: BrokenPool) =>
      Effect.gen(function*() {
        broken ??= error
        for (const w of queue.splice(0)) yield* failWork(w, error)
      })

    /**
     * Sends queued work to the workers: at most MESSAGES_IN_FLIGHT messages
     * unanswered per worker, to the least busy first; when much waits, several
     * pieces go in one message (a fair share, at most MAX_BATCH), which is
     * what makes tiny tasks cheap.
     */
    // Uninterruptible: a caller interrupted mid-way (a map stream that failed) must not leave work sent but untracked.
    const dispatch: Effect.Effect<void> = Effect.uninterruptible(lock.withPermits(1)(Effect.gen(function*() {
      for (;;) {
        while (queue.length > 0 && queue[0]!.items.every((i) => i.state === "done")) queue.shift() // cancelled
        if (queue.length === 0) return
        let worker = -1
        for (const [w, n] of inFlight) if (n < MESSAGES_IN_FLIGHT && (worker < 0 || n < inFlight.get(worker)!)) worker = w
        if (worker < 0) return
        const share = Math.min(MAX_BATCH, Math.max(1, Math.ceil(queue.length / (MESSAGES_IN_FLIGHT * inFlight.size))))
        const batch: Array<Work> = []
        while (batch.length < share && queue.length > 0) {
          const work = queue.shift()!
          if (work.items.every((i) => i.state === "done")) continue
          batch.push(work)
        }
        if (batch.length === 0) continue
        const orderOf = (works: ReadonlyArray<Work>): Order => ({
          k: "run",
          works: works.map((w) => ({ id: w.id, module: w.task.module, name: w.task.name, chunk: w.chunk }))
        })
        const sendWorks = (works: ReadonlyArray<Work>) =>
          Effect.gen(function*() {
            for (const w of works) for (const i of w.items) if (i.state === "queued") i.state = "running"
            const sent = yield* Effect.result(sendTo(worker, orderOf(works)))
            if (sent._tag === "Success") {
              inFlight.set(worker, inFlight.get(worker)! + 1)
              for (const w of works) running.set(w.id, { work: w, worker })
            }
            return sent
          })
        const sent = yield* sendWorks(batch)
        if (sent._tag === "Success") continue
        const e = sent.failure as { _tag?: string; message?: string }
        if (e._tag === "RankFailed") {
          // The worker is gone and the work never reached it: it goes back to the head of the queue for the others.
          inFlight.delete(worker)
          for (const w of batch) for (const i of w.items) if (i.state === "running") i.state = "queued"
          queue.unshift(...batch)
          if (inFlight.size === 0 && replacing === 0) {
            yield* breakPool(new BrokenPool({ message: `every worker of the pool died (the last: ${e.message ?? String(e)})` }))
            return
          }
          continue
        }
        // Something in the batch cannot be encoded: each piece alone, so that only those fail.
        for (const w of batch) {
          const alone = yield* sendWorks([w])
          if (alone._tag === "Failure") {
            const why = alone.failure as { message?: string }
            yield* failWork(w, new TaskEncodeError({ task: taskName(w.task), message: `the arguments could not be encoded: ${why.message ?? String(why)}`, cause: why }))
          }
        }
      }
    })))

    const applyReply = (worker: number, reply: WorkReply) =>
      Effect.gen(function*() {
        const entry = running.get(reply.id)
        if (entry === undefined || entry.worker !== worker) return
        running.delete(reply.id)
        const { work } = entry
        for (let i = 0; i < work.items.length; i++) {
          const o = reply.outcomes[i]
          const item = work.items[i]!
          if (o === undefined) yield* settle(item, Exit.fail(new TaskFailed({ task: taskName(work.task), name: "Error", message: "the worker sent no outcome" })))
          else if (o.ok) yield* settle(item, Exit.succeed(o.value))
          else if (o.error.encoding === true) yield* settle(item, Exit.fail(new TaskEncodeError({ task: taskName(work.task), message: o.error.message })))
          else {
            yield* settle(item, Exit.fail(new TaskFailed({ task: taskName(work.task), name: o.error.name, message: o.error.message, ...(o.error.stack === undefined ? {} : { stack: o.error.stack }) })))
          }
        }
      })

    /** One loop per worker: its replies, until it stops or dies (then its running work fails with WorkerDied). */
    const listen = (worker: number): Effect.Effect<void> =>
      Effect.gen(function*() {
        for (;;) {
          const got = yield* Effect.result(recvFrom(worker))
          if (got._tag === "Failure") {
            // Out of the rotation first, so that no work goes to it while its running work fails.
            inFlight.delete(worker)
            links.delete(worker)
            if (replace !== undefined && !closed) {
              replacing++
              yield* Effect.forkIn(replaceWorker, listeners)
            }
            const message = got.failure.message
            for (const [id, entry] of running) {
              if (entry.worker !== worker) continue
              running.delete(id)
              yield* failWork(entry.work, new WorkerDied({ worker, message }))
            }
            if (inFlight.size === 0 && replacing === 0) yield* breakPool(new BrokenPool({ message: `every worker of the pool died (the last: ${message})` }))
            return
          }
          for (const reply of got.success.replies) yield* applyReply(worker, reply)
          // One message answered. (Pieces whose results could not be encoded together come back one message
          // each: the count may then fall below the truth for a moment, never below 0.)
          inFlight.set(worker, Math.max(0, (inFlight.get(worker) ?? 1) - 1))
          yield* dispatch
        }
      })

    /** Runs the initializer (if any) on `workers`: why it failed on one of them, or undefined. */
    const initialize = (workers: ReadonlyArray<number>) =>
      Effect.gen(function*() {
        const init = options.initializer
        if (init === undefined) return undefined
        for (const w of workers) yield* sendTo(w, { k: "init", module: init.module, name: init.name }).pipe(Effect.orDie)
        for (const w of workers) {
          const got = yield* Effect.result(recvFrom(w))
          const failure = got._tag === "Failure" ? got.failure.message : got.success.replies[0]?.outcomes.find((o) => !o.ok)
          if (failure !== undefined) {
            const why = typeof failure === "string" ? failure : failure.ok ? "" : `${failure.error.name}: ${failure.error.message}`
            return new BrokenPool({ message: `the initializer ${taskName(init)} failed on worker ${w}: ${why}` })
          }
        }
        return undefined
      })

    /** A new worker for one that died: started, initialized, then given work (if it cannot be had, the pool goes on with the others). */
    const replaceWorker: Effect.Effect<void> = Effect.gen(function*() {
      // Uninterruptible: a spawn the launcher carries out must end with a worker the pool knows (and stops at its end).
      const link = yield* Effect.uninterruptible(Effect.result(replace!))
      const w = link._tag === "Success" ? enlist(link.success) : undefined
      const ok = w !== undefined && (yield* initialize([w])) === undefined
      replacing--
      if (!ok) {
        if (w !== undefined) links.delete(w)
        if (inFlight.size === 0 && replacing === 0) {
          const why = link._tag === "Failure" ? link.failure.message : "its initializer failed"
          yield* breakPool(new BrokenPool({ message: `every worker of the pool died, and no new one could start: ${why}` }))
        }
        return
      }
      inFlight.set(w, 0)
      yield* Effect.forkIn(listen(w), listeners)
      yield* dispatch
    })

    /** Starts the workers: each runs the initializer first (if any); the pool is ready when all have. */
    const start = Effect.suspend(() => {
      if (started !== undefined) return Deferred.await(started)
      const ready = Deferred.makeUnsafe<void, BrokenPool>()
      started = ready
      return Effect.gen(function*() {
        let crew: Crew
        if (Effect.isEffect(hire)) {
          const hired = yield* Effect.result(hire)
          if (hired._tag === "Failure") {
            yield* breakPool(hired.failure)
            return yield* Deferred.fail(ready, hired.failure)
          }
          crew = hired.success
        } else crew = hire
        const workers = crew.workers.map((rank) => enlist({ comm: crew.comm, rank }))
        if (workers.length === 0) {
          const error = new BrokenPool({ message: "the pool has no workers" })
          yield* breakPool(error)
          return yield* Deferred.fail(ready, error)
        }
        const failed = yield* initialize(workers)
        if (failed !== undefined) {
          yield* breakPool(failed)
          return yield* Deferred.fail(ready, failed)
        }
        for (const w of workers) inFlight.set(w, 0)
        for (const w of workers) yield* Effect.forkIn(listen(w), listeners)
        yield* Deferred.succeed(ready, undefined)
        yield* dispatch
      }).pipe(Effect.andThen(Deferred.await(ready)))
    })
    // The listeners' scope closes after the shutdown below has waited for the running tasks' replies.
    const listeners = yield* Scope.fork(yield* Effect.scope, "sequential")

    const enqueue = (task: TaskT<ReadonlyArray<unknown>, unknown>, chunk: ReadonlyArray<ReadonlyArray<unknown>>) =>
      Effect.gen(function*() {
        if (closed) return yield* new BrokenPool({ message: "the pool was shut down: it takes no new tasks" })
        if (broken !== undefined) return yield* broken
        if (!Task.isTask(task)) return yield* new BrokenPool({ message: "submit takes a task made by Task.define" })
        const items: Array<Item> = chunk.map(() => ({ deferred: Deferred.makeUnsafe<unknown, TaskError>(), state: "queued" as const }))
        const work: Work = { id: nextId++, task, chunk, items }
        queue.push(work)
        yield* start
        yield* dispatch
        return work
      })

    const futureOf = <A>(work: Work, i: number): Future<A> => {
      const item = work.items[i]!
      return {
        await: Deferred.await(item.deferred) as Effect.Effect<A, TaskError>,
        poll: Effect.map(Deferred.poll(item.deferred), (o) => Option.map(o, (e) => e as Exit.Exit<A, TaskError>)) as never,
        cancel: Effect.suspend(() => {
          if (item.state !== "queued") return Effect.succeed(false)
          return Effect.as(settle(item, Exit.fail(new TaskCancelled({ task: taskName(work.task) }))), true)
        })
      }
    }

    const mapChunks = <R>(task: TaskT<ReadonlyArray<unknown>, R>, items: Iterable<ReadonlyArray<unknown>>, o: MapOptions | undefined): Stream.Stream<R, TaskError | TaskTimeout> => {
      const chunksize = o?.chunksize ?? 1
      const bufferSize = o?.bufferSize ?? Math.max(1, 2 * count)
      if (!Number.isSafeInteger(chunksize) || chunksize < 1) return Stream.fail(new BrokenPool({ message: `chunksize must be a positive integer, got ${chunksize}` }))
      if (!Number.isSafeInteger(bufferSize) || bufferSize < 1) return Stream.fail(new BrokenPool({ message: `bufferSize must be a positive integer, got ${bufferSize}` }))
      const limit = o?.timeout === undefined ? undefined : Duration.toMillis(o.timeout)
      return Stream.unwrap(Effect.sync(() => {
        // The timeout counts from the call, as concurrent.futures' does.
        const deadline = limit === undefined ? undefined : Date.now() + limit
        const awaitItem = (i: Item): Effect.Effect<unknown, TaskError | TaskTimeout> =>
          deadline === undefined ? Deferred.await(i.deferred) : Deferred.await(i.deferred).pipe(Effect.timeoutOrElse({
            duration: Math.max(0, deadline - Date.now()),
            orElse: () => Effect.fail(new TaskTimeout({ message: `map: a result was not ready within ${limit} ms of the call` }))
          }))
        // Each item's outcome, in order (or as chunks complete): the stream yields the results before a
        // failed item and then fails with it, as concurrent.futures' iterator does.
        return Stream.fromIterable(items).pipe(
          Stream.grouped(chunksize),
          Stream.mapEffect((chunk) => Effect.exit(enqueue(task, chunk)).pipe(Effect.flatMap((work) =>
            Exit.isFailure(work) ? Effect.succeed([work]) : Effect.forEach(work.value.items, (i) => Effect.exit(awaitItem(i))))), {
            concurrency: bufferSize,
            ...(o?.unordered === true ? { unordered: true } : {})
          }),
          Stream.flattenIterable,
          Stream.mapEffect((outcome) => outcome as Effect.Effect<unknown, TaskError | TaskTimeout>)
        ) as Stream.Stream<R, TaskError | TaskTimeout>
      }))
    }

    const shutdown = (o?: { readonly wait?: boolean; readonly cancelFutures?: boolean }) =>
      Effect.gen(function*() {
        closed = true
        if (o?.cancelFutures === true) {
          for (const w of queue.splice(0)) {
            for (const i of w.items) if (i.state === "queued") yield* settle(i, Exit.fail(new TaskCancelled({ task: taskName(w.task) })))
          }
        }
        if (o?.wait !== false) {
          yield* Effect.forEach([...queue, ...[...running.values()].map((r) => r.work)], (w) =>
            Effect.forEach(w.items, (i) => Effect.ignore(Deferred.await(i.deferred)), { discard: true }), { discard: true })
        }
      })

    yield* Effect.addFinalizer(() => shutdown({ wait: true }))
    if (options.bootup === true) yield* Effect.ignore(start)

    const executor: Executor = {
      numWorkers: count,
      submit: (task, ...args) => Effect.map(enqueue(task as TaskT<ReadonlyArray<unknown>, unknown>, [args]), (work) => futureOf(work, 0)),
      map: (task, items, o) => mapChunks(task as never, { [Symbol.iterator]: () => wrap(items) }, o),
      starmap: (task, items, o) => mapChunks(task as never, items, o),
      shutdown,
      bootup: () => start
    }
    return executor
  })

/** Each item of `items` as a one-argument list. */
function* wrap<A>(items: Iterable<A>): Iterator<ReadonlyArray<unknown>> {
  for (const x of items) yield [x]
}

/** The pool's size: `given`, else RANKFLOW_MAX_WORKERS, else `available`; at most `available` unless the workers are spawned (`beyond`). */
const maxWorkersOf = (given: number | undefined, available: number, beyond = false): number | BrokenPool => {
  const fromEnv = globalThis.process?.env?.RANKFLOW_MAX_WORKERS
  const n = given ?? (fromEnv !== undefined && fromEnv !== "" ? Number(fromEnv) : available)
  if (!Number.isSafeInteger(n) || n <= 0) return new BrokenPool({ message: `maxWorkers must be a positive integer, got ${given ?? fromEnv}` })
  return beyond ? n : Math.min(n, available)
}

/**
 * A pool over the other ranks of `comm` (collective over `comm`): at `root`
 * it returns `Option.some(executor)`; every other rank serves as a worker
 * until the root's executor closes (its scope ends), then gets `Option.none()`.
 * With one rank there are no workers: submissions fail with `BrokenPool`.
 *
 * @example
 * ```ts
 * const executor = yield* PoolExecutor.CommExecutor(world, { root: 0 })
 * if (Option.isSome(executor)) yield* executor.value.submit(pow, 2, 8)
 * ```
 */
export const CommExecutor = (
  comm: Comm, options: ExecutorOptions & { readonly root?: number } = {}
): Effect.Effect<Option.Option<Executor>, BrokenPool, Scope.Scope | World> =>
  Effect.gen(function*() {
    const root = options.root ?? 0
    if (!Number.isInteger(root) || root < 0 || root >= comm.size) {
      return yield* new BrokenPool({ message: `root ${root} is not a rank of the communicator of ${comm.size}` })
    }
    // Checked on every rank alike (the options are the same everywhere), so that all fail together.
    const available = Array.from({ length: comm.size }, (_, r) => r).filter((r) => r !== root)
    const n = maxWorkersOf(options.maxWorkers, Math.max(1, available.length))
    if (n instanceof BrokenPool) return yield* n
    const own = yield* comm.dup().pipe(Effect.orDie)
    if (comm.rank !== root) {
      yield* serve(own, root)
      return Option.none()
    }
    const workers = available.slice(0, n)
    // Workers beyond maxWorkers, and all of them at the end: told to stop when the executor closes.
    yield* Effect.addFinalizer(() => stopServing(own, available))
    return Option.some(yield* master({ comm: own, workers }, workers.length, options))
  })

/**
 * A pool executor for this rank program (scoped: it shuts down when the scope
 * ends). In a job started with `rankflow run -n N --pool script.ts` it uses
 * the job's ranks 1..N−1 as workers (at most `maxWorkers`; by default
 * `RANKFLOW_MAX_WORKERS`, then all of them). Elsewhere this rank spawns its
 * workers (`comm.spawn`) into the job's free slots (`--universe`), on the
 * first submission or at once with `bootup`: by default as many as there
 * are free slots; a pool that cannot spawn them is broken (`BrokenPool`
 * saying why). `maxWorkers` ≤ 0 is an error.
 *
 * @example
 * ```ts
 * // npx rankflow run -n 5 --pool script.ts
 * const pool = yield* PoolExecutor.make()
 * yield* Effect.log(pool.numWorkers)   // 4
 * ```
 */
export const make = (options: ExecutorOptions = {}): Effect.Effect<Executor, BrokenPool, Scope.Scope | World> =>
  Effect.gen(function*() {
    if (options.maxWorkers !== undefined && (!Number.isSafeInteger(options.maxWorkers) || options.maxWorkers <= 0)) {
      return yield* new BrokenPool({ message: `maxWorkers must be a positive integer, got ${options.maxWorkers}` })
    }
    const world = yield* World
    if (!poolMode()) return yield* spawned(world, options)
    if (world.rank !== 0) return yield* new BrokenPool({ message: "in a --pool job only rank 0 runs the script and makes the executor" })
    if (inUse) return yield* new BrokenPool({ message: "this --pool job's workers serve one executor at a time: shut the other down first" })
    const available = Array.from({ length: world.size - 1 }, (_, i) => i + 1)
    const n = maxWorkersOf(options.maxWorkers, Math.max(1, available.length))
    if (n instanceof BrokenPool) return yield* n
    inUse = true
    yield* Effect.addFinalizer(() => Effect.sync(() => (inUse = false)))
    // The workers serve on the world itself (they run nothing else), with the executor's own tags.
    const workers = available.slice(0, n)
    return yield* master({ comm: world, workers }, workers.length, options)
  })

let inUse = false

/** A communicator of this rank alone (MPI's COMM_SELF), on context ids that only this rank uses. */
const selfOf = (world: Comm): Comm => {
  const w = stateOf(world)!
  const context = w.engine.reserveContexts(w.engine.contextCounter, 2)
  return fromState(CommStates.make(w.engine, context, [w.engine.rank], w.codec, w.decodeOptions, "this rank alone"))
}

/** The workers' program: serve the parent (the rank that spawned them) until it says stop. */
const SPAWNED_WORKER = { module: new URL("./worker.ts", import.meta.url).href, export: "spawnedWorker" }

/** A pool whose workers this rank spawns (on the first submission, or at once with `bootup`), and stops with the pool. */
const spawned = (world: Comm, options: ExecutorOptions): Effect.Effect<Executor, BrokenPool, Scope.Scope> =>
  Effect.gen(function*() {
    // By default as many workers as the job has free slots (its universe beyond its ranks), at least one.
    const room = stateOf(world)!.engine.size - world.size
    const n = maxWorkersOf(options.maxWorkers, Math.max(1, room), true)
    if (n instanceof BrokenPool) return yield* n
    // Every worker spawned is told to stop once the pool has shut down (this finalizer runs after the master's).
    const hired: Array<Link> = []
    yield* Effect.addFinalizer(() => Effect.forEach(hired, (l) => stopServing(l.comm, [l.rank]), { discard: true }))
    // Pool workers are spawned detached: one that dies fails its tasks, not the job.
    const spawnWorkers = (count: number, what: string) =>
      Spawns.spawnMultiple(selfOf(world), [{ program: SPAWNED_WORKER, maxprocs: count }], 0, fromState, true).pipe(
        Effect.mapError((e) => new BrokenPool({ message: `the pool could not start ${what}: ${e.message}` })),
        Effect.map((inter) => {
          const ranks = Array.from({ length: count }, (_, i) => i)
          for (const rank of ranks) hired.push({ comm: inter, rank })
          return { comm: inter as Messenger, workers: ranks }
        })
      )
    const replace = Effect.map(spawnWorkers(1, "a worker in place of one that died"), (crew): Link => ({ comm: crew.comm, rank: 0 }))
    return yield* master(spawnWorkers(n, `its ${n} worker${n === 1 ? "" : "s"}`), n, options, replace)
  })

