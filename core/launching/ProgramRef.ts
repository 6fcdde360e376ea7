/**
 * How a rank program is named across threads and processes: by the module
 * that defines it. Effects cannot be sent to another thread, so every rank
 * imports the module and finds the program there: the program that the module
 * passed to `Rank.main`, or one of its exports (an Effect, or a function of
 * `args` returning one).
 */
import { pathToFileURL } from "node:url"
import * as path from "node:path"

/**
 * A rank program named by its module, the export to run and that export's arguments.
 *
 * @example
 * ```ts
 * const ref: ProgramRef = { module: new URL("./solver.ts", import.meta.url), export: "solve", args: [{ steps: 100 }] }
 * yield* World.run(ref, { size: 4 })
 * ```
 */
export interface ProgramRef {
  /** The module: a file URL, or a path (relative to the working directory). */
  readonly module: string | URL
  /** The export to run; default: the program given to `Rank.main`, else the default export. */
  readonly export?: string
  /** Arguments for a program export that is a function. */
  readonly args?: ReadonlyArray<unknown>
}

/**
 * A module path or URL, or a full reference.
 *
 * @example
 * ```ts
 * yield* World.run("examples/hello.ts", { size: 2 })   // a path, a URL or a ProgramRef
 * ```
 */
export type ProgramInput = string | URL | ProgramRef

export const normalize = (input: ProgramInput): { readonly module: string; readonly export: string | undefined; readonly args: ReadonlyArray<unknown> } => {
  const ref: ProgramRef = typeof input === "string" || input instanceof URL ? { module: input } : input
  return { module: toUrl(ref.module), export: ref.export, args: ref.args ?? [] }
}

const toUrl = (m: string | URL): string => {
  if (m instanceof URL) return m.href
  if (/^[a-z][a-z0-9+.-]*:/i.test(m) && !/^[a-z]:[\\/]/i.test(m)) return m
  return pathToFileURL(path.resolve(m)).href
}
