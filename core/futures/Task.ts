/**
 * Tasks for the pool executor: functions exported by a module and referenced
 * by the module's URL and the export's name, never by shipping code. A worker
 * imports the module (without running its rank program, if it has one),
 * takes the export and calls it; arguments and results travel through pickle,
 * so registered classes work.
 *
 * @example
 * ```ts
 * // tasks.ts
 * export const fib = Task.define(import.meta.url, "fib", (n: number): number => (n < 2 ? n : fib.run(n - 1) + fib.run(n - 2)))
 * ```
 */
import { Effect } from "effect"
import type { World } from "../comm/Comm.ts"

/**
 * A task: `run` is the function; `module` and `name` say where a worker finds
 * it (the module's URL and the name it is exported under).
 *
 * @example
 * ```ts
 * const square: Task.Task<[number], number> = Task.define(import.meta.url, "square", (x: number) => x * x)
 * ```
 */
export interface Task<Args extends ReadonlyArray<unknown>, R> {
  readonly _tag: "rankflow/Task"
  readonly module: string
  readonly name: string
  /** The function itself: a plain value, a Promise, or an Effect of the result (which may use the worker's `Comm.World`). */
  readonly run: (...args: Args) => R | PromiseLike<R> | Effect.Effect<R, unknown, World>
}

/**
 * Defines a task: pass `import.meta.url` of the module that exports it, and
 * the name it is exported under (a worker checks that the export is this task).
 *
 * @example
 * ```ts
 * export const pow = Task.define(import.meta.url, "pow", (x: number, y: number) => x ** y)
 * const r = yield* Effect.flatMap(pool.submit(pow, 2, 8), (f) => f.await)   // 256
 * ```
 */
export const define = <Args extends ReadonlyArray<unknown>, R>(
  module: string, name: string, run: (...args: Args) => R | PromiseLike<R> | Effect.Effect<R, unknown, World>
): Task<Args, R> => ({ _tag: "rankflow/Task", module, name, run })

/**
 * Whether `u` is a task.
 *
 * @example
 * ```ts
 * Task.isTask(pow)   // true
 * ```
 */
export const isTask = (u: unknown): u is Task<ReadonlyArray<unknown>, unknown> =>
  typeof u === "object" && u !== null && (u as { _tag?: unknown })._tag === "rankflow/Task"

