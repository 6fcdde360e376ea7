/**
 * Modules that a rank's one-file bundle carries (transports/Bundle.ts), found
 * by the URL they would be imported from. A rank started from a bundle imports
 * its runner and program through `importModule`, so that they come from the
 * bundle, sharing its single copy of rankflow and effect; a rank started
 * without one imports them from their files, as `import()` does.
 *
 * Kept apart from Bundle.ts, which loads the bundler: ranks import this file.
 */

/** Where a bundle's entry registers its modules (a global: the entry runs before any other module of the rank). */
export const PRELOADED = Symbol.for("rankflow/preloaded")

type Table = ReadonlyMap<string, () => Promise<unknown>>

/**
 * Imports `url`: from this thread's bundle when it was started from one, else
 * from its file. A bundle that lacks the module is refused: importing it from
 * its file would load a second copy of rankflow and effect beside the bundle's.
 *
 * @example
 * ```ts
 * const runner = (await importModule(init.runner)) as RunnerModule
 * ```
 */
export const importModule = (url: string): Promise<unknown> => {
  const table = (globalThis as { [PRELOADED]?: Table })[PRELOADED]
  if (table === undefined) return import(url)
  const load = table.get(url)
  if (load === undefined) {
    return Promise.reject(new Error(`this rank was started from a bundle of ${[...table.keys()].join(", ")}, which does not hold ${url}`))
  }
  return load()
}
