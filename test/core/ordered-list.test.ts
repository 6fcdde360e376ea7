/**
 * The matching engine's ordered list (core/internal/OrderedList.ts) against
 * a plain array: appending, removing at the front or in the middle while
 * walking, inserting by order, keeping a subset, and the compaction that
 * appends trigger, in any mix.
 */
import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { OrderedList } from "../../core/internal/OrderedList.ts"

interface Item {
  readonly n: number
}

type Op =
  | { readonly kind: "push" }
  | { readonly kind: "removeFirst" }
  | { readonly kind: "removeMatching"; readonly mod: number }
  | { readonly kind: "insert"; readonly before: number }
  | { readonly kind: "retain"; readonly mod: number }

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ kind: "push" as const }) },
  { weight: 4, arbitrary: fc.constant({ kind: "removeFirst" as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("removeMatching" as const), mod: fc.integer({ min: 2, max: 7 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("insert" as const), before: fc.nat(400) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("retain" as const), mod: fc.integer({ min: 2, max: 5 }) }) }
)

describe("OrderedList", () => {
  it("holds what a spliced array holds, in the same order, after any mix of operations", () => {
    fc.assert(fc.property(fc.array(op, { maxLength: 600 }), (ops) => {
      const list = new OrderedList<Item>()
      let model: Array<Item> = []
      let next = 0
      for (const o of ops) {
        switch (o.kind) {
          case "push": {
            const x = { n: next++ }
            list.push(x)
            model.push(x)
            break
          }
          case "removeFirst": {
            // The first live entry, found by walking from `start` as the matching engine does.
            for (let i = list.start; i < list.end; i++) {
              if (list.at(i) !== undefined) {
                list.removeAt(i)
                break
              }
            }
            model.shift()
            break
          }
          case "removeMatching": {
            // Removing while walking: indices stay valid until the next push.
            for (let i = list.start; i < list.end; i++) {
              const x = list.at(i)
              if (x !== undefined && x.n % o.mod === 0) list.removeAt(i)
            }
            model = model.filter((x) => x.n % o.mod !== 0)
            break
          }
          case "insert": {
            const x = { n: o.before }
            list.insertBefore(x, (y) => y.n > o.before)
            let i = model.length
            while (i > 0 && model[i - 1]!.n > o.before) i--
            model.splice(i, 0, x)
            break
          }
          case "retain": {
            list.retain((x) => x.n % o.mod !== 1)
            model = model.filter((x) => x.n % o.mod !== 1)
            break
          }
        }
        expect(list.length).toBe(model.length)
      }
      expect([...list]).toEqual(model)
      const gone = model[0]
      if (gone !== undefined) {
        expect(list.remove(gone)).toBe(true)
        expect(list.remove(gone)).toBe(false)
      }
    }), { numRuns: 300 })
  })

  it("a long queue taken from the front keeps its memory bounded: holes are compacted by later appends", () => {
    const list = new OrderedList<Item>()
    for (let i = 0; i < 100_000; i++) {
      list.push({ n: i })
      if (i >= 10) list.removeAt(list.start)
    }
    expect(list.length).toBe(10)
    expect(list.end).toBeLessThan(64)   // the backing array, not 100,000 entries long
    expect([...list].map((x) => x.n)).toEqual(Array.from({ length: 10 }, (_, i) => 99_990 + i))
  })
})
