/**
 * Rank programs and tasks of the futures benchmark (bench/futures.ts): run
 * with RANKFLOW_POOL=1, rank 0 times a pool of the other ranks, which serve.
 */
import { Effect, Option, Stream } from "effect"
import { Comm, PoolExecutor, Task } from "rankflow"
import { fib } from "./fib.ts"

export const identity = Task.define(import.meta.url, "identity", (x: number) => x)
export const fibTask = Task.define(import.meta.url, "fibTask", (n: number) => fib(n))

const time = <A, E, R>(run: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const t = performance.now()
    yield* run
    return performance.now() - t
  })

/** Tasks per second of `count` tiny tasks, submitted at once and awaited (best of `repeats`); then `cpu` fib(n) tasks' time. */
export const measure = (count: number, repeats: number, cpuTasks: number, n: number) =>
  Effect.scoped(Effect.gen(function*() {
    const pool = yield* PoolExecutor.make({ bootup: true })
    const items = Array.from({ length: count }, (_, i) => i)
    let tinyBest = Infinity
    let mapBest = Infinity
    for (let r = 0; r < repeats; r++) {
      tinyBest = Math.min(tinyBest, yield* time(Effect.gen(function*() {
        const futures = yield* Effect.forEach(items, (i) => pool.submit(identity, i))
        yield* Effect.forEach(futures, (f) => f.await, { discard: true })
      })))
      mapBest = Math.min(mapBest, yield* time(Stream.runDrain(pool.map(identity, items, { chunksize: 64 }))))
    }
    let cpuBest = Infinity
    for (let r = 0; r < repeats; r++) {
      cpuBest = Math.min(cpuBest, yield* time(Stream.runDrain(pool.map(fibTask, Array.from({ length: cpuTasks }, () => n)))))
    }
    return { workers: pool.numWorkers, submitPerSecond: count / (tinyBest / 1000), mapChunkedPerSecond: count / (mapBest / 1000), cpuMs: cpuBest }
  }))

/** A spawned rank of `spawnTimes`: meets its parent in a barrier and leaves. */
export const spawnedIdle = Effect.gen(function*() {
  const parent = yield* Comm.parent
  if (Option.isNone(parent)) return
  yield* parent.value.barrier()
  yield* parent.value.disconnect()
})

/** Milliseconds from `spawn` of `maxprocs` ranks until a barrier with them is through (best and median of `repeats`). */
export const spawnTimes = (maxprocs: number, repeats: number) =>
  Effect.gen(function*() {
    const world = yield* Comm.World
    const times: Array<number> = []
    for (let r = 0; r < repeats; r++) {
      times.push(yield* time(Effect.gen(function*() {
        const inter = yield* world.spawn({ module: import.meta.url, export: "spawnedIdle" }, { maxprocs })
        yield* inter.barrier()
        yield* inter.disconnect()
      })))
    }
    times.sort((a, b) => a - b)
    return { maxprocs, bestMs: times[0]!, medianMs: times[Math.floor(times.length / 2)]! }
  })
