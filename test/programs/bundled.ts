// Programs run from a rank's bundle (transports/Bundle.ts): each keeps its own
// import.meta, finds the module next to it, and fails with a stack that names this file.
import { Effect } from "effect"
import { Comm } from "rankflow"
import { readFileSync } from "node:fs"

/** This module's import.meta as the rank sees it, and a file read beside it. */
export const meta = Effect.gen(function*() {
  const world = yield* Comm.World
  const neighbour = readFileSync(new URL("./exits.ts", import.meta.url), "utf8").split("\n")[0]
  // Whether this rank started from a bundle: its entry registered the modules it carries.
  const bundled = (globalThis as Record<symbol, unknown>)[Symbol.for("rankflow/preloaded")] !== undefined
  return { rank: world.rank, url: import.meta.url, filename: import.meta.filename, dirname: import.meta.dirname, neighbour, bundled }
})

const explode = (rank: number): void => {
  if (rank === 1) throw new Error("exploded on rank 1") // THROW_LINE
}

/** Rank 1 throws from `explode`; the others wait for it. */
export const fails = Effect.gen(function*() {
  const world = yield* Comm.World
  yield* Effect.sync(() => explode(world.rank))
  yield* world.barrier()
})

/** The world's size: the program finds the runner's `Comm.World` (one copy of rankflow in the bundle). */
export const size = Effect.gen(function*() {
  return (yield* Comm.World).size
})
