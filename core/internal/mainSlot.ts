/**
 * Where `Rank.main` finds the runner: while the runner imports a rank
 * program's module, `Rank.main(program)` hands the program to it through a
 * global slot (one per realm, shared by every copy of the module).
 */
import type { Program } from "../launching/Rank.ts"

const MAIN_SLOT = Symbol.for("rankflow/Rank.main")

export type MainSlot = { main: ((program: Program) => void) | undefined }

/** The runner's hook: while it imports a module, `Rank.main` hands the program to it. */
export const mainSlot = (): MainSlot => {
  const g = globalThis as unknown as Record<symbol, MainSlot | undefined>
  return (g[MAIN_SLOT] ??= { main: undefined })
}
