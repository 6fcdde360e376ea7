/**
 * Rank programs for the communicator suite (test/core/communicators.test.ts):
 * dup, split, createFromGroup, compare and free on a world of any size. Each
 * runs on every rank and checks its rules itself.
 */
import { Effect, Fiber, Option } from "effect"
import { Comm, Group, Op, PROC_NULL, Request, UNDEFINED } from "rankflow"
import { check, checkEqual } from "./check.ts"
import * as Collectives from "./collectives.ts"

const ranks = (n: number) => Array.from({ length: n }, (_, i) => i)
const sum = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0)

/** The error a failing call fails with (the call must fail). */
const failure = <E>(effect: Effect.Effect<unknown, E>) =>
  Effect.flatMap(Effect.result(effect), (r) =>
    r._tag === "Failure"
      ? Effect.succeed(r.failure as E & { _tag: string; message: string })
      : Effect.fail(new Error("expected the call to fail, but it succeeded")))

const some = <A>(o: Option.Option<A>, what: string) =>
  Option.isSome(o) ? Effect.succeed(o.value) : Effect.fail(new Error(`${what}: expected a communicator, got none`))

/**
 * A dup has the same members in the same order and its own message space:
 * messages with the same source and tag on the world and on the dup never
 * match each other, point-to-point or collective, even with wildcards.
 */
export const dupIsolates = Effect.gen(function*() {
  const world = yield* Comm.World
  const dup = yield* world.dup()
  const { rank, size } = world
  yield* checkEqual([dup.rank, dup.size, dup.group.members], [rank, size, ranks(size)], "dup keeps members and order")
  yield* checkEqual(Comm.compare(world, dup), Comm.CONGRUENT, "compare(world, dup)")
  yield* checkEqual(Comm.compare(dup, dup), Comm.IDENT, "compare(dup, dup)")
  const next = (rank + 1) % size
  const prev = (rank - 1 + size) % size
  // Sent on the dup first, received on the world first: a shared message space would swap them.
  const outDup = yield* dup.isend(`dup from ${rank}`, { dest: next, tag: 5 })
  const outWorld = yield* world.isend(`world from ${rank}`, { dest: next, tag: 5 })
  yield* checkEqual(yield* world.recv({ source: prev, tag: 5 }), `world from ${prev}`, "same source and tag on the world")
  yield* checkEqual(yield* dup.recv(), `dup from ${prev}`, "wildcard receive on the dup")
  yield* Request.waitAll([outDup, outWorld])
  // Collectives on the two, interleaved, non-blocking.
  const onDup = yield* dup.iallreduce(rank + 1, Op.SUM)
  const onWorld = yield* world.ibcast(rank === 0 ? "from world" : undefined)
  const dupBcast = yield* dup.ibcast(rank === 0 ? "from dup" : undefined)
  yield* checkEqual(yield* Request.wait(dupBcast), "from dup", "bcast on the dup")
  yield* checkEqual(yield* Request.wait(onWorld), "from world", "bcast on the world")
  yield* checkEqual(yield* Request.wait(onDup), (size * (size + 1)) / 2, "allreduce on the dup")
  // A dup of a dup, and many dups: each is a new message space.
  const dups = [dup]
  for (let i = 0; i < 20; i++) dups.push(yield* dups[dups.length - 1]!.dup())
  const last = dups[dups.length - 1]!
  yield* checkEqual(Comm.compare(last, world), Comm.CONGRUENT, "a dup of a dup of … the world")
  yield* last.send(rank, { dest: rank, tag: 1 })
  for (const d of dups.slice(0, -1)) {
    const probe = yield* d.iprobe({ source: rank, tag: 1 })
    yield* check(Option.isNone(probe), "a message on the last dup is invisible on the others")
  }
  yield* checkEqual(yield* last.recv({ source: rank, tag: 1 }), rank, "the message on the last dup")
  for (const d of dups) yield* d.free()
  return rank
})

/**
 * split: ranks of one color form a communicator ordered by key, ties by
 * parent rank; UNDEFINED gives none; point-to-point and collectives work on
 * the parts, and split works on a split.
 */
export const splitColorsAndKeys = Effect.gen(function*() {
  const world = yield* Comm.World
  const { rank, size } = world
  // Two colors, keys reversing the order.
  const halves = yield* some(yield* world.split(rank % 2, -rank), "split by parity")
  const mates = ranks(size).filter((r) => r % 2 === rank % 2).reverse()
  yield* checkEqual([halves.size, halves.rank, halves.group.members], [mates.length, mates.indexOf(rank), mates], "parity split ordered by decreasing key")
  // Equal keys: ordered by parent rank.
  const thirds = yield* some(yield* world.split(rank % 3), "split by rank mod 3")
  const third = ranks(size).filter((r) => r % 3 === rank % 3)
  yield* checkEqual([thirds.rank, thirds.group.members], [third.indexOf(rank), third], "equal keys keep the parent's order")
  // Colors need not be small or contiguous.
  const sparse = yield* some(yield* world.split(rank < size / 2 ? 1000 : 7, 0), "sparse colors")
  yield* checkEqual(sparse.size, rank < size / 2 ? Math.ceil(size / 2) : size - Math.ceil(size / 2), "sparse colors")
  // UNDEFINED: no communicator.
  const evens = yield* world.split(rank % 2 === 0 ? 0 : UNDEFINED)
  yield* checkEqual(Option.isSome(evens), rank % 2 === 0, "UNDEFINED gives none")
  // Point-to-point and collectives on a split: a ring in each half, an allreduce of world ranks.
  const next = (halves.rank + 1) % halves.size
  const prev = (halves.rank - 1 + halves.size) % halves.size
  const got = yield* halves.sendrecv<number>(rank, { dest: next, source: prev, tag: 3 })
  yield* checkEqual(got, mates[prev], "ring within a split (ranks translate to the right world ranks)")
  yield* checkEqual(yield* halves.allreduce(rank, Op.SUM), sum(mates), "allreduce within a split")
  yield* checkEqual(yield* halves.allgather(rank), mates, "allgather within a split, in split rank order")
  yield* checkEqual(yield* halves.bcast(halves.rank === 0 ? `root ${rank}` : undefined), `root ${mates[0]}`, "bcast within a split")
  // A split of a split.
  const quarter = yield* some(yield* halves.split(halves.rank % 2), "split of a split")
  const quarterMates = mates.filter((_, i) => i % 2 === halves.rank % 2)
  yield* checkEqual(quarter.group.members, quarterMates, "split of a split: world ranks of its members")
  yield* checkEqual(yield* quarter.allreduce(1, Op.SUM), quarterMates.length, "collective on a split of a split")
  // The world is unaffected.
  yield* checkEqual(yield* world.allreduce(1, Op.SUM), size, "the world after splits")
  return halves.rank
})

/** A bad color or key on one rank fails split on every rank, naming that rank. */
export const splitInvalid = Effect.gen(function*() {
  const world = yield* Comm.World
  const last = world.size - 1
  const error = yield* failure(world.split(world.rank === last ? -5 : 0))
  yield* checkEqual(error._tag, "InvalidArgument", "a negative color")
  yield* check(error.message.includes(`rank ${last}`) && error.message.includes("-5"), `the message names the rank and color: ${error.message}`)
  const keyError = yield* failure(world.split(0, world.rank === 0 ? 0.5 : 0))
  yield* check(keyError._tag === "InvalidArgument" && keyError.message.includes("key"), `a fractional key: ${keyError.message}`)
  yield* checkEqual(yield* world.allreduce(1, Op.SUM), world.size, "a collective after the failed splits")
})

/**
 * Groups from communicators, and createFromGroup: members of the group get
 * a communicator in the group's order, the others none.
 */
export const groupsAndCreate = Effect.gen(function*() {
  const world = yield* Comm.World
  const { rank, size } = world
  const g = world.group
  yield* checkEqual([g.size, g.rank, g.members], [size, rank, ranks(size)], "world.group")
  const evensDown = ranks(size).filter((r) => r % 2 === 0).reverse()
  const evens = yield* Group.incl(g, evensDown)
  yield* checkEqual(evens.rank, rank % 2 === 0 ? evensDown.indexOf(rank) : UNDEFINED, "a group knows this rank's place in it")
  const made = yield* world.createFromGroup(evens)
  yield* checkEqual(Option.isSome(made), rank % 2 === 0, "only members get a communicator")
  if (Option.isSome(made)) {
    const comm = made.value
    yield* checkEqual([comm.rank, comm.group.members], [evensDown.indexOf(rank), evensDown], "the communicator follows the group's order")
    yield* checkEqual(yield* comm.allgather(rank), evensDown, "allgather on it")
    const fromSplit = yield* some(yield* world.split(rank % 2 === 0 ? 0 : UNDEFINED), "evens by split")
    yield* checkEqual(Comm.compare(comm, fromSplit), evensDown.length > 1 ? Comm.SIMILAR : Comm.CONGRUENT, "the same ranks in another order")
  } else {
    yield* world.split(UNDEFINED)
  }
  // Group of a derived communicator translates back to world ranks.
  const odds = Group.difference(g, evens)
  const [translated] = yield* Group.translateRanks(g, [rank], odds)
  yield* checkEqual(translated, rank % 2 === 1 ? (rank - 1) / 2 : UNDEFINED, "translateRanks into the odds")
  // The empty group: nobody gets a communicator, but everybody takes part.
  const none = yield* world.createFromGroup(Group.difference(g, g))
  yield* check(Option.isNone(none), "the empty group gives no communicator")
  // A group with ranks outside the communicator fails on every rank.
  const half = yield* some(yield* world.split(rank < size / 2 ? 0 : 1), "halves")
  if (size > 1) {
    const error = yield* failure(half.createFromGroup(g))
    yield* check(error._tag === "InvalidArgument" && error.message.includes("not a member"), `a group beyond the communicator: ${error.message}`)
  }
  // Every rank creates the whole world's group: the result is congruent with the world.
  const all = yield* some(yield* world.createFromGroup(g), "the world's group")
  yield* checkEqual(Comm.compare(all, world), Comm.CONGRUENT, "createFromGroup(world.group)")
})

/** compare gives each outcome. */
export const compareOutcomes = Effect.gen(function*() {
  const world = yield* Comm.World
  const { rank, size } = world
  yield* checkEqual(Comm.compare(world, world), Comm.IDENT, "a communicator with itself")
  yield* checkEqual(Comm.compare(world, yield* Comm.World), Comm.IDENT, "the world service twice")
  const dup = yield* world.dup()
  yield* checkEqual(Comm.compare(world, dup), Comm.CONGRUENT, "a dup")
  const reversed = yield* some(yield* world.split(0, size - rank), "reversed")
  yield* checkEqual(Comm.compare(world, reversed), size > 1 ? Comm.SIMILAR : Comm.CONGRUENT, "same members, reversed")
  const part = yield* some(yield* world.split(rank === 0 ? 0 : 1), "part")
  yield* checkEqual(Comm.compare(world, part), size > 1 ? Comm.UNEQUAL : Comm.CONGRUENT, "a proper part")
})

/**
 * free: later calls fail with InvalidCommunicator, requests already
 * started complete, the world cannot be freed, and other communicators go on.
 */
export const freeing = Effect.gen(function*() {
  const world = yield* Comm.World
  const { rank, size } = world
  const dup = yield* world.dup()
  const pendingIn = yield* dup.irecv({ source: rank, tag: 9 })
  const pendingOut = yield* dup.isend("before free", { dest: rank, tag: 9 })
  yield* dup.free()
  yield* checkEqual(yield* Request.wait(pendingIn), "before free", "a receive started before free completes")
  yield* Request.wait(pendingOut)
  const calls: ReadonlyArray<readonly [string, Effect.Effect<unknown, unknown>]> = [
    ["send", dup.send(1, { dest: 0 })],
    ["recv", dup.recv({ source: PROC_NULL })],
    ["irecv", dup.irecv()],
    ["barrier", dup.barrier()],
    ["allreduce", dup.allreduce(1, Op.SUM)],
    ["dup", dup.dup()],
    ["split", dup.split(0)],
    ["createCart", dup.createCart([size])],
    ["free", dup.free()]
  ]
  for (const [name, call] of calls) {
    const error = yield* failure(call)
    yield* checkEqual(error._tag, "InvalidCommunicator", `${name} on a freed communicator`)
  }
  const worldFree = yield* failure(world.free())
  yield* check(worldFree._tag === "InvalidCommunicator" && worldFree.message.includes("world"), `free(world): ${worldFree.message}`)
  yield* checkEqual(yield* world.allreduce(1, Op.SUM), size, "the world after a free")
  const split = yield* some(yield* world.split(0), "split")
  yield* split.free()
  yield* checkEqual(yield* world.allgather(rank), ranks(size), "the world after freeing a split")
})

/**
 * The collective conformance suites of test/programs/collectives.ts on a
 * derived communicator: `kind` "dup" or "split" (two interleaved halves
 * whose ranks run opposite to the world's).
 */
export const collectivesOn = (kind: "dup" | "split", suites: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const world = yield* Comm.World
    const comm = kind === "dup"
      ? yield* world.dup()
      : yield* some(yield* world.split(world.rank % 2, -world.rank), "split")
    for (const name of suites) {
      yield* Effect.provideService(Collectives.world(name), Comm.World, comm).pipe(
        Effect.mapError((e) => new Error(`suite ${name} on a ${kind} (rank ${comm.rank} of ${comm.size}): ${String((e as { message?: unknown }).message ?? e)}`))
      )
    }
    return comm.size
  })

/**
 * Two creation calls in flight at once on rank 0 (against MPI's ordering
 * rule): a dup of the world waiting for rank 1, which is late, and a dup of
 * rank 0's own single-rank communicator, which completes meanwhile and takes
 * the id the first is agreeing on. Rank 0 stops with a defect saying so.
 */
export const overlappingCreations = Effect.gen(function*() {
  const world = yield* Comm.World
  const alone = yield* some(yield* world.split(world.rank), "a single-rank communicator")
  if (world.rank !== 0) {
    // Joins the world's dup only after rank 0 has started its second creation: the overlap is certain.
    yield* world.recv({ source: 0, tag: 99 })
    yield* world.dup()
    return world.rank
  }
  const slow = yield* Effect.forkChild(world.dup())
  yield* Effect.sleep(20) // the forked dup starts its agreement first
  yield* alone.dup()
  yield* world.send("go", { dest: 1, tag: 99 })
  yield* Fiber.join(slow)
  return world.rank
})
