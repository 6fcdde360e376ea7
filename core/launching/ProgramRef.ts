/**
 * How a rank program is named across threads and processes: by the module
 * that defines it. Effects cannot be sent to another thread, so every rank
 * imports the module and finds the program there: the program that the module
 * passed to `Rank.main`, or one of its exports (an Effect, or a function of
 * `args` returning one).
 */
import { pathToFileURL } from "node:url"
import * as path from "node:path"

export interface ProgramRef {
  /** The module: a file URL, or a path (relative to the working directory). */
  readonly module: string | URL
  /** The export to run; default: the program given to `Rank.main`, else the default export. */
  readonly export?: string
  /** Arguments for a program export that is a function. */
  readonly args?: ReadonlyArray<unknown>
}

/** A module path or URL, or a full reference. */
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
