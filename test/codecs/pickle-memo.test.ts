/**
 * The pickle encoder's memo (codecs/pickle/Memo.ts): ordinals by identity
 * across its modes (small, set, map), its shards and their merge, checked
 * against a plain Map; and messages whose back-references cross shards.
 */
import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { pickle } from "../../codecs/index.ts"
import { MAX_SHARDS, Memo, SHARD } from "../../codecs/pickle/Memo.ts"

/** Sizes around the memo's boundaries: the small array, a shard, the merge. */
const sizes = [1, 15, 16, 17, SHARD - 1, SHARD, SHARD + 1, 3 * SHARD + 7, MAX_SHARDS * SHARD - 1, MAX_SHARDS * SHARD + 5]

/**
 * Writes `n` objects into `memo` as one message, going back to earlier ones
 * from step `repeatsFrom` on (every 997th step i: object `i * 7919 % i` again,
 * then a `seen` of the one before i), and checks every answer against a Map.
 */
const message = (memo: Memo, n: number, repeatsFrom: number, viaAdd: boolean) => {
  const objects = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? [i] : { i }))
  const model = new Map<object, number>()
  for (let i = 0; i < n; i++) {
    const o = objects[i]!
    if (viaAdd) {
      expect(memo.seen(o)).toBe(-1)
      memo.add(o, i * 2)
    } else expect(memo.admit(o, i * 2)).toBe(-1)
    model.set(o, model.size)
    if (i >= repeatsFrom && i > 0 && i % 997 === 0) {
      const earlier = objects[(i * 7919) % i]!
      expect(memo.admit(earlier, -1)).toBe(model.get(earlier))
      expect(memo.seen(objects[i - 1]!)).toBe(model.get(objects[i - 1]!))
    }
  }
  expect(memo.size).toBe(n)
  for (let i = 0; i < n; i += Math.max(1, Math.floor(n / 500))) {
    expect(memo.seen(objects[i]!)).toBe(i)
    expect(memo.offsetOf(i)).toBe(i * 2)
  }
  expect(memo.seen({})).toBe(-1)
}

describe("pickle's memo", () => {
  it("gives each object its ordinal in every mode, across shards and after their merge", () => {
    const memo = new Memo()
    for (const n of sizes) {
      for (const repeatsFrom of [0, Math.floor(n / 2), n]) {
        for (const viaAdd of [false, true]) {
          message(memo, n, repeatsFrom, viaAdd)
          memo.clear()
          expect(memo.size).toBe(0)
        }
      }
    }
  })

  it("property: any sequence of new and repeated objects gets the ordinals a Map gives", () => {
    const memo = new Memo()
    const step = fc.oneof(
      { weight: 8, arbitrary: fc.constant(-1) },
      { weight: 1, arbitrary: fc.nat() }
    )
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 2 * SHARD }), step), { minLength: 1, maxLength: 12 }), (runs) => {
        const model = new Map<object, number>()
        const all: Array<object> = []
        for (const [count, repeat] of runs) {
          for (let k = 0; k < count; k++) {
            const o = { k }
            if (memo.admit(o, all.length) !== -1) return false
            model.set(o, all.length)
            all.push(o)
          }
          if (repeat !== -1) {
            const o = all[repeat % all.length]!
            if (memo.admit(o, -1) !== model.get(o)) return false
          }
        }
        const ok = all.every((o, i) => memo.seen(o) === i && memo.offsetOf(i) === i)
        memo.clear()
        return ok && memo.seen(all[0]!) === -1
      }),
      { numRuns: 30 }
    )
  })

  it("a message of more objects than the shards hold keeps every shared reference and cycle", () => {
    const n = MAX_SHARDS * SHARD + 1000
    const items = Array.from({ length: n }, (_, i) => ({ i, tags: [i] as Array<unknown> }))
    // Back-references into the first shard, across shards, and after the merge; a cycle at the end.
    const refs = [0, 1, SHARD - 1, SHARD, 3 * SHARD + 1, MAX_SHARDS * SHARD - 1, n - 2]
    const message = { items, refs: refs.map((r) => items[r]), tail: [] as Array<unknown> }
    message.tail.push(message, items[n - 1]!.tags)
    const back = pickle.decodeSync(pickle.encodeSync(message)) as typeof message
    expect(back.items.length).toBe(n)
    refs.forEach((r, k) => expect(back.refs[k]).toBe(back.items[r]))
    expect(back.tail[0]).toBe(back)
    expect(back.tail[1]).toBe(back.items[n - 1]!.tags)
    expect(back.items[n - 1]).toEqual({ i: n - 1, tags: [n - 1] })
    // A tree of as many objects (no repeats, the membership-only mode) round-trips too.
    const tree = pickle.decodeSync(pickle.encodeSync(items)) as typeof items
    expect(tree[MAX_SHARDS * SHARD]).toEqual(items[MAX_SHARDS * SHARD])
  })
})
