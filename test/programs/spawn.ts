/**
 * Rank programs for the spawn suite (test/core/spawn.test.ts), after mpi4py's
 * test_spawn.py and spawn_child.py: the parents' side, and `child`, which the
 * parents spawn (by this module and export) to check the other side.
 */
import { Effect, Option } from "effect"
import { Comm, Intercomm, Op, PROC_NULL } from "rankflow"
import { check, checkEqual } from "./check.ts"

const self = import.meta.url
const childRef = (mode: string) => ({ module: self, export: "child", args: [mode] })

/** The spawned side: `Comm.parent` is the intercommunicator back; what it checks depends on `mode`. */
export const child = (mode: string) =>
  Effect.gen(function*() {
    const world = yield* Comm.World
    const found = yield* Comm.parent
    yield* check(Option.isSome(found), "a spawned rank has a parent")
    const parent = Option.getOrThrow(found)
    yield* checkEqual([parent.rank, parent.size], [world.rank, world.size], "the parent intercomm's local group is the spawned world")
    switch (mode) {
      case "basics": {
        yield* parent.barrier()
        if (world.rank === 0) yield* parent.send({ argv: process.argv.slice(2), size: world.size, parents: parent.remoteSize }, { dest: 0, tag: 5 })
        break
      }
      case "multiple": {
        yield* parent.gather([world.rank, world.size, process.argv[2]], { root: 0 })
        break
      }
      case "merge": {
        const merged = yield* parent.merge(true)
        yield* checkEqual([merged.size, merged.rank], [parent.remoteSize + world.size, parent.remoteSize + world.rank], "a child's place in the merged communicator (high)")
        const labels = yield* merged.allgather(`child ${world.rank}`)
        yield* check(labels[parent.remoteSize] === "child 0", `the parents come first in the merge: ${labels.join(", ")}`)
        yield* checkEqual(yield* merged.allreduce(1, Op.SUM), merged.size, "an allreduce over the merged communicator")
        break
      }
      case "cpi": {
        const n = (yield* parent.bcast<number>(undefined, { root: 0 }))!
        let sum = 0
        for (let i = world.rank; i < n; i += world.size) sum += 4 / (1 + ((i + 0.5) / n) ** 2)
        yield* parent.reduce(sum / n, Op.SUM, { root: 0 })
        break
      }
      case "fails":
        return yield* Effect.fail(new Error(`spawned rank ${world.rank} gives up`))
    }
    yield* parent.disconnect()
  })

/** spawn with maxprocs 1 and 3: sizes, the barrier through the intercomm, arguments from the root only, disconnect. */
export const basics = Effect.gen(function*() {
  const w = yield* Comm.World
  for (const maxprocs of [1, 3]) {
    const inter = yield* w.spawn(childRef("basics"), { maxprocs, args: w.rank === 0 ? ["--steps", String(maxprocs)] : ["not", "the", "root's"] })
    yield* checkEqual([inter.rank, inter.size, inter.remoteSize], [w.rank, w.size, maxprocs], "rank, size, remoteSize")
    yield* inter.barrier()
    if (w.rank === 0) {
      const got = yield* inter.recv({ source: 0, tag: 5 })
      yield* checkEqual(got, { argv: ["--steps", String(maxprocs)], size: maxprocs, parents: w.size }, "what spawned rank 0 saw")
    }
    yield* inter.disconnect()
  }
  // A root other than 0: its arguments count.
  const last = w.size - 1
  const inter = yield* w.spawn(childRef("basics"), { maxprocs: 1, root: last, args: [w.rank === last ? "last" : "other"] })
  yield* inter.barrier()
  if (w.rank === 0) yield* checkEqual(((yield* inter.recv({ source: 0, tag: 5 })) as { argv: Array<string> }).argv, ["last"], "the root's arguments")
  yield* inter.disconnect()
})

/** spawnMultiple: one remote group, each program's ranks after the previous program's. */
export const multiple = Effect.gen(function*() {
  const w = yield* Comm.World
  const inter = yield* w.spawnMultiple([
    { program: childRef("multiple"), maxprocs: 1, args: ["a"] },
    { program: childRef("multiple"), maxprocs: 2, args: ["b"] }
  ])
  yield* checkEqual(inter.remoteSize, 3, "remoteSize of two programs of 1 and 2 ranks")
  const got = yield* inter.gather(undefined, { root: w.rank === 0 ? Intercomm.ROOT : PROC_NULL })
  if (w.rank === 0) yield* checkEqual(got, [[0, 3, "a"], [1, 3, "b"], [2, 3, "b"]], "each spawned rank's world rank, world size and argument")
  yield* inter.disconnect()
})

/** merge: the parents (high = false) first, then the spawned ranks. */
export const merge = Effect.gen(function*() {
  const w = yield* Comm.World
  const inter = yield* w.spawn(childRef("merge"), { maxprocs: 2 })
  const merged = yield* inter.merge(false)
  yield* checkEqual([merged.size, merged.rank], [w.size + 2, w.rank], "a parent's place in the merged communicator")
  const labels = yield* merged.allgather(`parent ${w.rank}`)
  yield* checkEqual(labels.slice(w.size), ["child 0", "child 1"], "the spawned ranks come last")
  yield* checkEqual(yield* merged.allreduce(1, Op.SUM), w.size + 2, "an allreduce over the merged communicator")
  yield* inter.disconnect()
})

/** The cpi master/worker: n by bcast with ROOT, π back by reduce. */
export const cpi = Effect.gen(function*() {
  const w = yield* Comm.World
  const inter = yield* w.spawn(childRef("cpi"), { maxprocs: 3 })
  const root = w.rank === 0 ? Intercomm.ROOT : PROC_NULL
  yield* inter.bcast(10_000, { root })
  const pi = yield* inter.reduce<number>(undefined, Op.SUM, { root })
  if (w.rank === 0) yield* check(Math.abs(pi! - Math.PI) < 1e-8, `π ≈ ${pi}`)
  yield* inter.disconnect()
  return pi
})

const spawnError = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.flatMap(Effect.flip(effect), (e) =>
    (e as { _tag?: string })._tag === "SpawnError"
      ? Effect.succeed(e as unknown as { message: string; errors: ReadonlyArray<string | undefined> })
      : Effect.fail(new Error(`expected a SpawnError, got ${String(e)}`)))

/** Bad arguments, a missing program, one that fails to load, too many ranks: SpawnError on every rank; a good spawn still works after. */
export const errors = (universe: number) =>
  Effect.gen(function*() {
    const w = yield* Comm.World
    const zero = yield* spawnError(w.spawn(childRef("basics"), { maxprocs: 0 }))
    yield* check(/maxprocs must be a whole number/.test(zero.message), zero.message)
    const badRoot = yield* spawnError(w.spawn(childRef("basics"), { root: w.size }))
    yield* check(/root .* is not a rank/.test(badRoot.message), badRoot.message)
    const badArgs = yield* spawnError(w.spawn(childRef("basics"), { args: [1 as unknown as string] }))
    yield* check(/args must be an array of strings/.test(badArgs.message), badArgs.message)
    const missing = yield* spawnError(w.spawn("test/programs/no-such-program.ts", { maxprocs: 2 }))
    yield* check(missing.errors.length === 2 && missing.errors.every((e) => /program not found: .*no-such-program\.ts/.test(e ?? "")), missing.errors.join("; "))
    const broken = yield* spawnError(w.spawn(new URL("./spawn-broken.ts", self), { maxprocs: 2 }))
    yield* check(broken.errors.length === 2 && broken.errors.every((e) => /broken on purpose/.test(e ?? "")), `${broken.message}: ${broken.errors.join("; ")}`)
    const tooMany = yield* spawnError(w.spawn(childRef("basics"), { maxprocs: universe }))
    yield* check(/free slot/.test(tooMany.message) && /--universe/.test(tooMany.message), tooMany.message)
    // Nothing above left the job unable to spawn (the broken program's two slots are used up).
    const inter = yield* w.spawn(childRef("basics"), { maxprocs: 1, args: w.rank === 0 ? [] : ["x"] })
    yield* inter.barrier()
    if (w.rank === 0) yield* inter.recv({ source: 0, tag: 5 })
    yield* inter.disconnect()
  })

/** A spawned rank that fails fails the run (the parents wait for it in a barrier). */
export const childFails = Effect.gen(function*() {
  const w = yield* Comm.World
  const inter = yield* w.spawn(childRef("fails"), { maxprocs: 2 })
  yield* inter.barrier()
})
