/**
 * Groups: ordered sets of processes (MPI_Group). A group is a plain value:
 * its members are the world ranks of its processes, in group-rank order,
 * and it knows which process is looking at it, so that `rank` is this
 * process's rank in the group (or `UNDEFINED`).
 *
 * `comm.group` gives a communicator's group; the set operations build new
 * groups locally, with no communication; `comm.createFromGroup(group)` turns
 * one into a communicator. As in MPI, the operations that take rank lists
 * fail with a typed error on a bad rank; the set operations cannot fail.
 *
 * @example
 * ```ts
 * import { Group } from "rankflow"
 *
 * const evens = yield* Group.incl(world.group, [0, 2, 4, 6])
 * const odds = Group.difference(world.group, evens)
 * const [inOdds] = yield* Group.translateRanks(world.group, [3], odds)   // 1
 * const comm = yield* world.createFromGroup(evens)                        // Option<Comm>
 * ```
 */
import { Effect } from "effect"
import { InvalidArgument, InvalidRank } from "../errors.ts"
import { PROC_NULL } from "../messaging/Matching.ts"

/**
 * The rank of a process outside a group, and the color that takes a rank out of `split` (MPI_UNDEFINED).
 *
 * @example
 * ```ts
 * const sub = yield* world.split(world.rank < 2 ? 0 : Comm.UNDEFINED)   // Option.none() on ranks 2…
 * const g = yield* Group.incl(world.group, [0, 1])
 * g.rank === Group.UNDEFINED   // on ranks outside the group
 * ```
 */
export const UNDEFINED = -32766

/**
 * Same members in the same order (MPI_IDENT); for communicators, also the same communicator.
 *
 * @example
 * ```ts
 * Group.compare(world.group, world.group)   // "IDENT"
 * ```
 */
export const IDENT = "IDENT"
/**
 * Communicators only: same members in the same order, but different communicators (MPI_CONGRUENT).
 *
 * @example
 * ```ts
 * const copy = yield* world.dup()
 * Comm.compare(world, copy)   // "CONGRUENT"
 * ```
 */
export const CONGRUENT = "CONGRUENT"
/**
 * Same members in a different order (MPI_SIMILAR).
 *
 * @example
 * ```ts
 * const reversed = yield* world.split(0, -world.rank)   // Option<Comm>: some on every rank
 * Comm.compare(world, Option.getOrThrow(reversed))   // "SIMILAR" on more than one rank
 * ```
 */
export const SIMILAR = "SIMILAR"
/**
 * Different members (MPI_UNEQUAL).
 *
 * @example
 * ```ts
 * const evens = yield* Group.incl(world.group, [0, 2])
 * Group.compare(world.group, evens)   // "UNEQUAL"
 * ```
 */
export const UNEQUAL = "UNEQUAL"

/**
 * The outcome of comparing two groups or two communicators.
 *
 * @example
 * ```ts
 * const how: Group.Comparison = Group.compare(a, b)
 * if (how === Group.IDENT || how === Group.SIMILAR) yield* Effect.log("same members")
 * ```
 */
export type Comparison = typeof IDENT | typeof CONGRUENT | typeof SIMILAR | typeof UNEQUAL

/**
 * An ordered set of processes.
 *
 * @example
 * ```ts
 * const g: Group.Group = world.group
 * yield* Effect.log(`rank ${g.rank} of ${g.size}; world ranks ${g.members.join(", ")}`)
 * ```
 */
export interface Group {
  readonly _tag: "Group"
  /** World rank of each member, by group rank. */
  readonly members: ReadonlyArray<number>
  /** World rank of the process holding this value. */
  readonly self: number
  /** How many members. */
  readonly size: number
  /** This process's rank in the group, or `UNDEFINED` when it is not a member. */
  readonly rank: number
}

// ---------------------------------------------------------------------------
// Constructors

/**
 * The group of `members` (world ranks, in order) as seen by world rank `self`.
 *
 * @example
 * ```ts
 * const g = Group.make([4, 2, 0], world.rank)   // world ranks 4, 2, 0 as group ranks 0, 1, 2
 * ```
 */
export const make = (members: ReadonlyArray<number>, self: number): Group => {
  const own = members.slice()
  const at = own.indexOf(self)
  return { _tag: "Group", members: own, self, size: own.length, rank: at < 0 ? UNDEFINED : at }
}

/**
 * The group with no members (MPI_GROUP_EMPTY), as seen by world rank `self`.
 *
 * @example
 * ```ts
 * const none = Group.empty(world.rank)   // size 0; rank is Group.UNDEFINED
 * ```
 */
export const empty = (self: number): Group => make([], self)

/**
 * Whether a value is a `Group`.
 *
 * @example
 * ```ts
 * Group.isGroup(world.group)   // true
 * Group.isGroup([0, 1])        // false
 * ```
 */
export const isGroup = (u: unknown): u is Group =>
  typeof u === "object" && u !== null && (u as { _tag?: unknown })._tag === "Group" && Array.isArray((u as Group).members)

// ---------------------------------------------------------------------------
// Checks

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`

const badRank = (g: Group, rank: number, call: string): InvalidRank =>
  new InvalidRank({
    rank,
    size: g.size,
    message: `${call}: ${String(rank)} is not a rank of a group of ${plural(g.size, "member")}${g.size === 0 ? "" : ` (0..${g.size - 1})`}`
  })

/** Checks that `ranks` are distinct ranks of `g` (what incl and excl require). */
const checkRankList = (g: Group, ranks: ReadonlyArray<number>, call: string): InvalidRank | InvalidArgument | undefined => {
  if (!Array.isArray(ranks)) return new InvalidArgument({ argument: "ranks", message: `${call}: ranks must be an array of group ranks` })
  const seen = new Set<number>()
  for (const r of ranks) {
    if (!Number.isInteger(r) || r < 0 || r >= g.size) return badRank(g, r, call)
    if (seen.has(r)) return new InvalidArgument({ argument: "ranks", message: `${call}: rank ${r} appears twice; each rank may be listed once` })
    seen.add(r)
  }
  return undefined
}

// ---------------------------------------------------------------------------
// Operations

/**
 * The group of `ranks` of `g`, in the order listed (MPI_Group_incl). Ranks must be distinct.
 *
 * @example
 * ```ts
 * const firstHalf = yield* Group.incl(world.group, [0, 1])
 * const pair = yield* world.createFromGroup(firstHalf)   // Option: some on ranks 0 and 1
 * ```
 */
export const incl = (g: Group, ranks: ReadonlyArray<number>): Effect.Effect<Group, InvalidRank | InvalidArgument> =>
  Effect.suspend(() => {
    const invalid = checkRankList(g, ranks, "Group.incl")
    return invalid !== undefined ? Effect.fail(invalid) : Effect.succeed(make(ranks.map((r) => g.members[r]!), g.self))
  })

/**
 * `g` without `ranks`, the others keeping their order (MPI_Group_excl). Ranks must be distinct.
 *
 * @example
 * ```ts
 * const workers = yield* Group.excl(world.group, [0])   // every rank but the coordinator
 * ```
 */
export const excl = (g: Group, ranks: ReadonlyArray<number>): Effect.Effect<Group, InvalidRank | InvalidArgument> =>
  Effect.suspend(() => {
    const invalid = checkRankList(g, ranks, "Group.excl")
    if (invalid !== undefined) return Effect.fail(invalid)
    const dropped = new Set(ranks)
    return Effect.succeed(make(g.members.filter((_, r) => !dropped.has(r)), g.self))
  })

/**
 * The members of `a`, then those of `b` not in `a`, each in their order (MPI_Group_union).
 *
 * @example
 * ```ts
 * const both = Group.union(evens, odds)   // evens' members, then odds' not already in it
 * ```
 */
export const union = (a: Group, b: Group): Group => {
  const inA = new Set(a.members)
  return make([...a.members, ...b.members.filter((w) => !inA.has(w))], a.self)
}

/**
 * The members of `a` that are also in `b`, in `a`'s order (MPI_Group_intersection).
 *
 * @example
 * ```ts
 * const common = Group.intersection(a, b)   // a's members that are also in b, in a's order
 * ```
 */
export const intersection = (a: Group, b: Group): Group => {
  const inB = new Set(b.members)
  return make(a.members.filter((w) => inB.has(w)), a.self)
}

/**
 * The members of `a` that are not in `b`, in `a`'s order (MPI_Group_difference).
 *
 * @example
 * ```ts
 * const rest = Group.difference(world.group, workers)   // a's members not in b
 * ```
 */
export const difference = (a: Group, b: Group): Group => {
  const inB = new Set(b.members)
  return make(a.members.filter((w) => !inB.has(w)), a.self)
}

/**
 * The rank in `b` of each of `ranks` of `a`, or `UNDEFINED` for a process
 * that is not in `b` (MPI_Group_translate_ranks). `PROC_NULL` translates to
 * itself, as in MPI.
 *
 * @example
 * ```ts
 * const inWorld = yield* Group.translateRanks(sub.group, [0, 1], world.group)   // their world ranks
 * ```
 */
export const translateRanks = (a: Group, ranks: ReadonlyArray<number>, b: Group): Effect.Effect<Array<number>, InvalidRank | InvalidArgument> =>
  Effect.suspend((): Effect.Effect<Array<number>, InvalidRank | InvalidArgument> => {
    if (!Array.isArray(ranks)) return Effect.fail(new InvalidArgument({ argument: "ranks", message: "Group.translateRanks: ranks must be an array of ranks of the first group" }))
    const inB = new Map(b.members.map((w, r) => [w, r]))
    const out = new Array<number>(ranks.length)
    for (let i = 0; i < ranks.length; i++) {
      const r = ranks[i]!
      if (r === PROC_NULL) {
        out[i] = PROC_NULL
        continue
      }
      if (!Number.isInteger(r) || r < 0 || r >= a.size) return Effect.fail(badRank(a, r, "Group.translateRanks"))
      out[i] = inB.get(a.members[r]!) ?? UNDEFINED
    }
    return Effect.succeed(out)
  })

/**
 * IDENT (same members, same order), SIMILAR (same members, another order) or UNEQUAL (MPI_Group_compare).
 *
 * @example
 * ```ts
 * Group.compare(world.group, yield* Group.incl(world.group, [1, 0]))   // "SIMILAR" on two ranks
 * ```
 */
export const compare = (a: Group, b: Group): typeof IDENT | typeof SIMILAR | typeof UNEQUAL => {
  if (a.size !== b.size) return UNEQUAL
  let sameOrder = true
  for (let i = 0; i < a.size; i++) {
    if (a.members[i] !== b.members[i]) {
      sameOrder = false
      break
    }
  }
  if (sameOrder) return IDENT
  const inB = new Set(b.members)
  return a.members.every((w) => inB.has(w)) ? SIMILAR : UNEQUAL
}
