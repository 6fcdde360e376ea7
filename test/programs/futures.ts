/**
 * Tasks and rank programs for the pool executor suite (test/core/futures.test.ts),
 * after mpi4py's futures tests. Every program runs on every rank of a world
 * through `CommExecutor(world, { root: 0 })`: rank 0 checks, the others serve.
 */
import { Effect, Exit, Fiber, Option, Stream } from "effect"
import { ANY_SOURCE, Comm, PoolExecutor, Task } from "rankflow"
import { check, checkEqual } from "./check.ts"

const world = Comm.World

export const pow = Task.define(import.meta.url, "pow", (x: number, y: number) => x ** y)
export const square = Task.define(import.meta.url, "square", (x: number) => x * x)
export const failOn3 = Task.define(import.meta.url, "failOn3", (x: number) => {
  if (x === 3) throw new RangeError(`three is not allowed`)
  return x
})
export const sleepy = Task.define(import.meta.url, "sleepy", (ms: number) => new Promise<number>((resolve) => setTimeout(() => resolve(ms), ms)))
export const effectful = Task.define(import.meta.url, "effectful", (x: number) => Effect.succeed(x + 1))
export const returnsFunction = Task.define(import.meta.url, "returnsFunction", () => () => 1)
export const failingInit = Task.define(import.meta.url, "failingInit", () => {
  throw new Error("initializer failed on purpose")
})
let initialized = 0
export const init = Task.define(import.meta.url, "init", () => {
  initialized++
})
export const initCount = Task.define(import.meta.url, "initCount", () => initialized)
export const whoAmI = Task.define(import.meta.url, "whoAmI", () => Effect.map(Comm.World, (w) => w.rank))
/** Ends the worker's thread (or process) mid-task. */
export const dies = Task.define(import.meta.url, "dies", () => process.exit(7))

/** Runs `check` at the root with its executor; the other ranks serve. */
const atRoot = (options: PoolExecutor.ExecutorOptions, body: (pool: PoolExecutor.Executor, size: number) => Effect.Effect<void, unknown>) =>
  Effect.scoped(Effect.gen(function*() {
    const w = yield* world
    const executor = yield* PoolExecutor.CommExecutor(w, { root: 0, ...options })
    if (w.rank !== 0) return yield* checkEqual(Option.isNone(executor), true, "no executor away from the root")
    yield* check(Option.isSome(executor), "the root gets the executor")
    yield* body(Option.getOrThrow(executor), w.size)
  }))

/** A world of one rank has no workers: submissions fail with BrokenPool. */
const needsWorkers = (pool: PoolExecutor.Executor, size: number) =>
  Effect.gen(function*() {
    if (size > 1) return false
    const e = yield* Effect.flip(pool.submit(pow, 2, 8))
    yield* check(e._tag === "BrokenPool" && /no workers/.test(e.message), `one rank: ${e.message}`)
    return true
  })

/** submit: pow(2, 8), poll and await; numWorkers; an Effect-returning task. */
export const submit = atRoot({}, (pool, size) =>
  Effect.gen(function*() {
    yield* checkEqual(pool.numWorkers, Math.max(1, size - 1) - (size === 1 ? 1 : 0), "workers")
    if (yield* needsWorkers(pool, size)) return
    const f = yield* pool.submit(pow, 2, 8)
    yield* checkEqual(yield* f.await, 256, "pow(2, 8)")
    const done = yield* f.poll
    yield* check(Option.isSome(done) && Exit.isSuccess(done.value) && done.value.value === 256, "poll after the result")
    yield* checkEqual(yield* f.cancel, false, "a finished task cannot be cancelled")
    yield* checkEqual(yield* Effect.flatMap(pool.submit(effectful, 41), (g) => g.await), 42, "a task returning an Effect")
  }))

/** map against a local map for several chunk and buffer sizes; unordered as a set; starmap. */
export const map = atRoot({}, (pool, size) =>
  Effect.gen(function*() {
    if (yield* needsWorkers(pool, size)) return
    const items = Array.from({ length: 50 }, (_, i) => i)
    const expected = items.map((x) => x * x)
    for (const chunksize of [1, 6, 40, 50]) {
      for (const bufferSize of [1, 3, undefined]) {
        const got = yield* Stream.runCollect(pool.map(square, items, { chunksize, ...(bufferSize === undefined ? {} : { bufferSize }) }))
        yield* checkEqual(Array.from(got), expected, `map, chunksize ${chunksize}, bufferSize ${bufferSize}`)
      }
    }
    const unordered = yield* Stream.runCollect(pool.map(square, items, { chunksize: 4, unordered: true }))
    yield* checkEqual([...unordered].sort((a, b) => a - b), expected, "unordered, as a set")
    const star = yield* Stream.runCollect(pool.starmap(pow, [[2, 5], [3, 2], [10, 0]]))
    yield* checkEqual(Array.from(star), [32, 9, 1], "starmap")
    yield* checkEqual(Array.from(yield* Stream.runCollect(pool.map(square, []))), [], "map of nothing")
  }))

/** A task that throws fails its result with TaskFailed (name, message, stack); a map fails at that item. */
export const errors = atRoot({}, (pool, size) =>
  Effect.gen(function*() {
    if (yield* needsWorkers(pool, size)) return
    const e = yield* Effect.flip(Effect.flatMap(pool.submit(failOn3, 3), (f) => f.await))
    yield* check(e._tag === "TaskFailed", `a throwing task: ${e._tag}`)
    if (e._tag !== "TaskFailed") return
    yield* checkEqual([e.name, e.message], ["RangeError", "three is not allowed"], "the remote error")
    yield* check(typeof e.stack === "string" && e.stack.includes("three is not allowed"), "the remote stack")
    // A map yields the results before the failing item, then fails.
    const seen: Array<number> = []
    const failed = yield* Effect.flip(Stream.runForEach(pool.map(failOn3, [0, 1, 2, 3, 4]), (x) => Effect.sync(() => seen.push(x))))
    yield* checkEqual([failed._tag, seen], ["TaskFailed", [0, 1, 2]], "map up to the third item")
    // Arguments or a result that cannot be encoded fail that task; the pool goes on.
    const args = yield* Effect.flip(Effect.flatMap(pool.submit(square, (() => 2) as unknown as number), (f) => f.await))
    yield* check(args._tag === "TaskEncodeError", `arguments that cannot be encoded: ${args._tag} ${args.message}`)
    const result = yield* Effect.flip(Effect.flatMap(pool.submit(returnsFunction), (f) => f.await))
    yield* check(result._tag === "TaskEncodeError", `a result that cannot be encoded: ${result._tag} ${result.message}`)
    yield* checkEqual(yield* Effect.flatMap(pool.submit(pow, 3, 3), (f) => f.await), 27, "the pool after the errors")
    // A task that is not exported under its name.
    const unnamed = Task.define(import.meta.url, "notExported", () => 1)
    const missing = yield* Effect.flip(Effect.flatMap(pool.submit(unnamed), (f) => f.await))
    yield* check(missing._tag === "TaskFailed" && /exports no task named "notExported"/.test(missing.message), `an unexported task: ${missing.message}`)
  }))

/** map's timeout; cancel of a queued task; shutdown with cancelFutures; no submissions after shutdown. */
export const timeoutsAndShutdown = atRoot({}, (pool, size) =>
  Effect.gen(function*() {
    if (yield* needsWorkers(pool, size)) return
    const late = yield* Effect.flip(Stream.runDrain(pool.map(sleepy, [300], { timeout: "5 millis" })))
    yield* checkEqual(late._tag, "TaskTimeout", "a result later than the timeout")
    // Many more tasks than workers (each takes a few at a time): the last ones wait in the queue and can be cancelled.
    const futures = yield* Effect.forEach(Array.from({ length: 4 * pool.numWorkers + 8 }, () => 30), (ms) => pool.submit(sleepy, ms))
    const last = futures[futures.length - 1]!
    yield* checkEqual(yield* last.cancel, true, "cancel a queued task")
    yield* checkEqual((yield* Effect.flip(last.await))._tag, "TaskCancelled", "its result")
    yield* pool.shutdown({ wait: false, cancelFutures: true })
    const outcomes = yield* Effect.forEach(futures.slice(0, -1), (f) => Effect.exit(f.await))
    const ran = outcomes.filter(Exit.isSuccess).length
    const cancelled = outcomes.filter((o) => Exit.isFailure(o) && Option.getOrUndefined(Exit.findErrorOption(o))?._tag === "TaskCancelled").length
    yield* checkEqual(ran + cancelled, futures.length - 1, "every other task ran or was cancelled")
    const after = yield* Effect.flip(pool.submit(pow, 2, 2))
    yield* check(after._tag === "BrokenPool" && /shut down/.test(after.message), `a submission after shutdown: ${after.message}`)
  }))

/** An initializer runs once on every worker first; maxWorkers limits the workers. */
export const initializer = atRoot({ initializer: init, maxWorkers: 2, bootup: true }, (pool, size) =>
  Effect.gen(function*() {
    if (yield* needsWorkers(pool, size)) return
    yield* checkEqual(pool.numWorkers, Math.min(2, size - 1), "maxWorkers")
    const counts = yield* Stream.runCollect(pool.map(initCount, Array.from({ length: 6 }, () => undefined as never)))
    yield* check(counts.every((c) => c === 1), `the initializer ran once on each worker: ${Array.from(counts)}`)
    const ranks = new Set(yield* Stream.runCollect(pool.map(whoAmI, Array.from({ length: 8 }, () => undefined as never))))
    yield* check([...ranks].every((r) => r >= 1 && r <= 2), `only the first two workers ran tasks: ${[...ranks]}`)
  }))

/** A failing initializer breaks the pool: pending and new submissions fail with BrokenPool. */
export const brokenInitializer = atRoot({ initializer: failingInit }, (pool, size) =>
  Effect.gen(function*() {
    if (yield* needsWorkers(pool, size)) return
    const e = yield* Effect.flip(pool.submit(pow, 2, 8))
    yield* check(e._tag === "BrokenPool" && /initializer failed on purpose/.test(e.message), `the first submission: ${e.message}`)
    const again = yield* Effect.flip(pool.submit(pow, 2, 8))
    yield* checkEqual(again._tag, "BrokenPool", "a later submission")
  }))

/** maxWorkers ≤ 0 is an error. */
export const badOptions = Effect.scoped(Effect.gen(function*() {
  const w = yield* world
  const e = yield* Effect.flip(PoolExecutor.CommExecutor(w, { root: 0, maxWorkers: 0 }))
  // The other ranks serve until the root's executor closes; with maxWorkers 0 the root never makes one.
  if (w.rank === 0) yield* check(e._tag === "BrokenPool" && /maxWorkers must be a positive integer/.test(e.message), `maxWorkers 0: ${e.message}`)
}))

/** PoolExecutor.make outside a --pool job (run on one rank with a universe of 6): workers spawned on demand into the free slots, and replaced when they die. */
export const spawnedPool = Effect.gen(function*() {
  yield* Effect.scoped(Effect.gen(function*() {
    const pool = yield* PoolExecutor.make({ maxWorkers: 2 })
    yield* checkEqual(pool.numWorkers, 2, "maxWorkers")
    yield* checkEqual(yield* Effect.flatMap(pool.submit(pow, 2, 8), (f) => f.await), 256, "pow(2, 8) on a spawned worker")
    const items = Array.from({ length: 20 }, (_, i) => i)
    yield* checkEqual(Array.from(yield* Stream.runCollect(pool.map(square, items, { chunksize: 3 }))), items.map((x) => x * x), "map")
    const e = yield* Effect.flip(Effect.flatMap(pool.submit(failOn3, 3), (f) => f.await))
    yield* checkEqual(e._tag, "TaskFailed", "a throwing task")
    // A worker that dies fails its task with WorkerDied; a new worker takes its place, and later tasks run.
    // A receive from any source on the world, posted before, is not the worker's concern: it still completes.
    const w = yield* world
    const pending = yield* Effect.forkChild(w.recv<string>({ source: ANY_SOURCE, tag: 99 }))
    const died = yield* Effect.flip(Effect.flatMap(pool.submit(dies), (f) => f.await))
    yield* check(died._tag === "WorkerDied", `a task whose worker died: ${died._tag}: ${died.message}`)
    yield* w.send("to myself", { dest: w.rank, tag: 99 })
    yield* checkEqual(yield* Fiber.join(pending), "to myself", "a receive from any source on the world, across a pool worker's death")
    yield* checkEqual(Array.from(yield* Stream.runCollect(pool.map(square, items, { chunksize: 1 }))), items.map((x) => x * x), "map after the death")
  }))
  // The fourth free slot (the replacement took the third): a pool started at once, with an initializer.
  yield* Effect.scoped(Effect.gen(function*() {
    const pool = yield* PoolExecutor.make({ initializer: init, bootup: true, maxWorkers: 1 })
    const counts = yield* Stream.runCollect(pool.map(initCount, Array.from({ length: 3 }, () => undefined as never)))
    yield* check(counts.every((c) => c === 1), `the initializer ran once: ${Array.from(counts)}`)
  }))
  // One slot left, two wanted: the pool breaks, saying how to make room.
  const full = yield* Effect.flip(Effect.scoped(Effect.flatMap(PoolExecutor.make({ maxWorkers: 2 }), (p) => p.submit(pow, 1, 1))))
  yield* check(full._tag === "BrokenPool" && /free slot/.test(full.message) && /--universe/.test(full.message), `no slot left: ${full.message}`)
})
