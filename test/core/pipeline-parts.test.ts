/**
 * The parts of a pipeline that need no ranks: key hashing and key groups,
 * placement, and the mailbox's merge of ordered producers.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fc from "fast-check"
import * as Pipeline from "../../core/pipeline/Pipeline.ts"
import { DEFAULT_KEY_GROUPS, keyGroupOf, keyId, replicaOfGroup } from "../../core/pipeline/Keys.ts"
import { Mailbox } from "../../core/pipeline/Mailbox.ts"
import { place } from "../../core/pipeline/Placement.ts"
import * as Stats from "../../core/pipeline/Stats.ts"

describe("keyed partitioning", () => {
  it("a key's group is the same in every process and version (fixed values, not per-process hashes)", () => {
    // Golden values: a change here would send keys to other replicas than other versions do.
    expect([keyGroupOf("the", 128), keyGroupOf("actor", 128), keyGroupOf(0, 128), keyGroupOf(-0, 128), keyGroupOf(1.5, 128)]).toEqual([127, 5, 31, 31, 0])
  })

  it("-0 and 0, and equal composite keys, meet the same replica", () => {
    expect(keyGroupOf(-0, 128)).toBe(keyGroupOf(0, 128))
    expect(keyGroupOf(["x", 2, true], 128)).toBe(keyGroupOf(["x", 2, true], 128))
    expect(keyId(["x", 2])).toBe(keyId(["x", 2]))
    expect(keyId(["x", 2])).not.toBe(keyId(["x", "2"]))
  })

  it("keys that are objects are refused with a message that says what to do", () => {
    expect(() => keyGroupOf({ a: 1 }, 128)).toThrow(/a key must be a string, number, bigint, boolean, null, undefined or an array of those.*JSON.stringify/)
  })

  it("groups go to replicas in contiguous runs, so keys of one group stay together whatever the replica count", () => {
    fc.assert(fc.property(fc.array(fc.string(), { minLength: 1, maxLength: 50 }), fc.integer({ min: 1, max: 64 }), (keys, replicas) => {
      for (const k of keys) {
        const g = keyGroupOf(k, DEFAULT_KEY_GROUPS)
        const r = replicaOfGroup(g, DEFAULT_KEY_GROUPS, replicas)
        expect(r).toBeGreaterThanOrEqual(0)
        expect(r).toBeLessThan(replicas)
        // Every other key of the same group lands on the same replica.
        for (const other of keys) if (keyGroupOf(other, DEFAULT_KEY_GROUPS) === g) expect(replicaOfGroup(g, DEFAULT_KEY_GROUPS, replicas)).toBe(r)
      }
    }))
    // Every replica owns at least one group when replicas ≤ groups.
    for (const replicas of [1, 3, 7, 128]) {
      const owners = new Set(Array.from({ length: DEFAULT_KEY_GROUPS }, (_, g) => replicaOfGroup(g, DEFAULT_KEY_GROUPS, replicas)))
      expect(owners.size).toBe(replicas)
    }
  })
})

describe("placement", () => {
  const graph = () =>
    Pipeline.source("lines", ["a"]).pipe(
      Pipeline.flatMap("split", (l: string) => l.split(" "), { replicas: 2 }),
      Pipeline.keyBy("count", (w: string) => w, Pipeline.count(), { replicas: 4 }),
      Pipeline.collect("result")
    )

  it("puts sources and one-rank sinks on rank 0 and the other replicas round-robin from rank 1; keyed edges into keyBy", () => {
    const p = place([graph().stage], 3)
    if (!("stages" in p)) throw p
    expect(p.stages.map((s) => [s.stage.name, s.actors.map((a) => a.rank)])).toEqual([
      ["lines", [0]],
      ["split", [1, 2]],
      ["count", [0, 1, 2, 0]],
      ["result", [0]]
    ])
    expect(p.stages[1]!.outputs[0]!.partition).toBe("keyed")
  })

  it("over the ranks left after a failure, replicas of a dead rank go to the living ones", () => {
    const p = place([graph().stage], 4, [0, 2, 3])
    if (!("stages" in p)) throw p
    expect(p.actors.every((a) => [0, 2, 3].includes(a.rank))).toBe(true)
    expect(Pipeline.describe(graph(), 1)).toMatch(/^pipeline on 1 rank: 4 stages, 8 actors/)
  })
})

describe("the mailbox", () => {
  it.effect("releases the items of ordered producers in position order, whatever the interleaving of their batches", () =>
    Effect.gen(function*() {
      const arbitrary = fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 30, maxLength: 60 })
      for (const choices of fc.sample(arbitrary, 50)) {
        // Positions 0..n-1 dealt round-robin to 3 producers, each sending its own in order.
        const n = choices.length
        const queues = [[], [], []] as Array<Array<number>>
        for (let i = 0; i < n; i++) queues[i % 3]!.push(i)
        const box = new Mailbox(3, new Map([[0, undefined], [1, undefined], [2, undefined]]), Stats.make("s", 0, 0, 99))
        const got: Array<number> = []
        const drain = Effect.gen(function*() {
          while (box.depth > 0) {
            const e = (yield* box.take())!
            for (const item of e.items) got.push(item as number)
          }
        })
        for (const c of choices) {
          const q = queues[c]!
          if (q.length === 0) continue
          const take = q.splice(0, 1 + (c % 2))
          box.push(c, take, Float64Array.from(take), take[take.length - 1]!, undefined)
          yield* drain
        }
        for (let p = 0; p < 3; p++) {
          const rest = queues[p]!
          if (rest.length > 0) box.push(p, rest, Float64Array.from(rest), rest[rest.length - 1]!, undefined)
          box.end(p)
          yield* drain
        }
        expect(got).toEqual(Array.from({ length: n }, (_, i) => i))
        expect(box.ended).toBe(true)
      }
    }))
})
