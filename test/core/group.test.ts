/** Groups as values: construction, the set operations, translateRanks and compare (no ranks needed). */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import * as Group from "../../core/comm/Group.ts"
import { PROC_NULL } from "../../core/messaging/Matching.ts"

// Seen from world rank 3 throughout.
const g = (members: ReadonlyArray<number>) => Group.make(members, 3)
const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runSync(Effect.result(effect))
const ok = <A, E>(effect: Effect.Effect<A, E>): A => {
  const r = run(effect)
  if (r._tag === "Failure") throw new Error(`expected success, got ${String(r.failure)}`)
  return r.success
}
const err = <A, E>(effect: Effect.Effect<A, E>) => {
  const r = run(effect)
  if (r._tag === "Success") throw new Error("expected a failure")
  return r.failure as E & { _tag: string; message: string }
}

describe("Group", () => {
  it("knows its size and this process's rank in it, or UNDEFINED", () => {
    expect([g([5, 3, 1]).size, g([5, 3, 1]).rank]).toEqual([3, 1])
    expect(g([0, 1]).rank).toBe(Group.UNDEFINED)
    expect(Group.empty(3).size).toBe(0)
  })

  it("incl keeps the listed ranks in the listed order; excl drops them keeping the rest in order", () => {
    const world = g([0, 1, 2, 3, 4, 5])
    expect(ok(Group.incl(world, [4, 0, 3])).members).toEqual([4, 0, 3])
    expect(ok(Group.incl(world, [4, 0, 3])).rank).toBe(2)
    expect(ok(Group.incl(world, [])).size).toBe(0)
    expect(ok(Group.excl(world, [4, 0])).members).toEqual([1, 2, 3, 5])
    const sub = ok(Group.incl(world, [5, 3, 1]))
    expect(ok(Group.incl(sub, [2, 0])).members).toEqual([1, 5])
  })

  it("incl and excl refuse ranks outside the group and repeated ranks, saying which", () => {
    const world = g([0, 1, 2, 3])
    const out = err(Group.incl(world, [1, 4]))
    expect(out._tag).toBe("InvalidRank")
    expect(out.message).toContain("4 is not a rank of a group of 4 members")
    expect(err(Group.excl(world, [-1]))._tag).toBe("InvalidRank")
    expect(err(Group.incl(world, [2, 2])).message).toContain("rank 2 appears twice")
    expect(err(Group.incl(world, [0.5]))._tag).toBe("InvalidRank")
  })

  it("union is a's members then b's others; intersection and difference keep a's order", () => {
    const a = g([4, 1, 3])
    const b = g([3, 0, 1, 7])
    expect(Group.union(a, b).members).toEqual([4, 1, 3, 0, 7])
    expect(Group.intersection(a, b).members).toEqual([1, 3])
    expect(Group.intersection(b, a).members).toEqual([3, 1])
    expect(Group.difference(a, b).members).toEqual([4])
    expect(Group.difference(a, a).size).toBe(0)
    expect(Group.union(a, b).rank).toBe(2)
  })

  it("the set operations agree with set algebra on any groups", () => {
    const members = fc.uniqueArray(fc.integer({ min: 0, max: 20 }), { maxLength: 12 })
    fc.assert(
      fc.property(members, members, (ma, mb) => {
        const a = g(ma)
        const b = g(mb)
        const union = Group.union(a, b)
        const inter = Group.intersection(a, b)
        const diff = Group.difference(a, b)
        expect(new Set(union.members)).toEqual(new Set([...ma, ...mb]))
        expect(union.size).toBe(new Set([...ma, ...mb]).size)
        expect(inter.members).toEqual(ma.filter((x) => mb.includes(x)))
        expect(diff.members).toEqual(ma.filter((x) => !mb.includes(x)))
        expect(Group.union(inter, diff).members.slice().sort()).toEqual(ma.slice().sort())
      })
    )
  })

  it("translateRanks maps ranks to the other group's ranks, UNDEFINED where absent, PROC_NULL to itself", () => {
    const a = g([0, 1, 2, 3, 4])
    const b = g([4, 2, 0])
    expect(ok(Group.translateRanks(a, [0, 1, 2, 4, PROC_NULL], b))).toEqual([2, Group.UNDEFINED, 1, 0, PROC_NULL])
    expect(ok(Group.translateRanks(b, [0, 1, 2], a))).toEqual([4, 2, 0])
    expect(err(Group.translateRanks(b, [3], a))._tag).toBe("InvalidRank")
  })

  it("compare: IDENT for the same order, SIMILAR for the same members in another order, else UNEQUAL", () => {
    expect(Group.compare(g([1, 2, 3]), g([1, 2, 3]))).toBe(Group.IDENT)
    expect(Group.compare(g([1, 2, 3]), g([3, 1, 2]))).toBe(Group.SIMILAR)
    expect(Group.compare(g([1, 2, 3]), g([1, 2]))).toBe(Group.UNEQUAL)
    expect(Group.compare(g([1, 2, 3]), g([1, 2, 4]))).toBe(Group.UNEQUAL)
    expect(Group.compare(Group.empty(0), Group.empty(3))).toBe(Group.IDENT)
  })
})
