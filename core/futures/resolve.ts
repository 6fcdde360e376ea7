/**
 * Finding and calling a task on a worker (internal to core/futures).
 */
import { Effect } from "effect"
import { importModule, PRELOADED } from "../../transports/preloaded.ts"
import type { World } from "../comm/Comm.ts"
import { mainSlot } from "../internal/mainSlot.ts"
import { isTask, type Task } from "./Task.ts"

/** A module by URL: from the bundle this rank started from where it holds it, else imported. */
const load = (url: string): Promise<unknown> => {
  const table = (globalThis as { [PRELOADED]?: ReadonlyMap<string, () => Promise<unknown>> })[PRELOADED]
  return table?.has(url) === true ? importModule(url) : import(url)
}

/** Modules imported for their tasks, by URL. */
const modules = new Map<string, Promise<Record<string, unknown>>>()

/**
 * The task `name` exported by `module`, imported once per worker. While the
 * module loads, `Rank.main` in it hands its program to nobody: a task module
 * may also be a rank program, and loading it for a task must not run that.
 * Internal (the worker side of the executor).
 */
export const resolve = (module: string, name: string): Effect.Effect<Task<ReadonlyArray<unknown>, unknown>, Error> =>
  Effect.flatMap(
    Effect.tryPromise({
      try: () => {
        let loading = modules.get(module)
        if (loading === undefined) {
          const slot = mainSlot()
          const before = slot.main
          slot.main = () => {}
          loading = load(module).finally(() => {
            slot.main = before
          }) as Promise<Record<string, unknown>>
          modules.set(module, loading)
        }
        return loading
      },
      catch: (e) => new Error(`the task module ${module} could not be loaded: ${e instanceof Error ? e.message : String(e)}`)
    }),
    (exports) => {
      const found = exports[name]
      if (!isTask(found)) {
        return Effect.fail(new Error(`${module} exports no task named "${name}" (a task is exported under the name given to Task.define)`))
      }
      if (found.name !== name) {
        return Effect.fail(new Error(`${module}: export "${name}" is the task defined as "${found.name}": give Task.define the export's name`))
      }
      return Effect.succeed(found)
    }
  )

/** Runs a task's function on `args` as an Effect: thrown errors, rejections and Effect failures all fail it. */
export const call = (task: Task<ReadonlyArray<unknown>, unknown>, args: ReadonlyArray<unknown>): Effect.Effect<unknown, unknown, World> =>
  Effect.suspend(() => {
    let r: unknown
    try {
      r = task.run(...args)
    } catch (e) {
      return Effect.fail(e)
    }
    if (Effect.isEffect(r)) return r as Effect.Effect<unknown, unknown, World>
    if (typeof (r as PromiseLike<unknown> | undefined)?.then === "function") {
      return Effect.tryPromise({ try: () => Promise.resolve(r as PromiseLike<unknown>), catch: (e) => e })
    }
    return Effect.succeed(r)
  })
