import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { DecodeError } from "../../codecs/errors.ts"
import { Tag } from "../../codecs/marshal/format.ts"
import { marshal } from "../../codecs/marshal/Marshal.ts"

/** A small deterministic PRNG (xorshift32), so every run fuzzes the same inputs. */
const prng = (seed: number) => {
  let s = seed >>> 0 || 1
  const next = (): number => {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    return s
  }
  return { next, below: (n: number): number => next() % n, byte: (): number => next() & 0xff }
}

/** Bytes a mutation likes to write: tags, their boundaries, and the start of a huge varuint. */
const interesting = [
  0x00, 0x7f, 0x80, 0x9f, 0xa0, 0xaf, 0xb0, 0xbf, 0xe0, 0xff,
  ...Object.values(Tag), 0xd8, 0xdf
]

interface Outcome {
  readonly decoded: number
  readonly failures: number
  /** Distinct error messages with the numbers taken out: a rough measure of the decoder paths reached. */
  readonly kinds: Set<string>
  /** Inputs that made the decoder itself throw something other than a DecodeError. */
  readonly crashes: Array<string>
}

const run = (inputs: Iterable<Uint8Array>): Outcome => {
  let decoded = 0
  let failures = 0
  const kinds = new Set<string>()
  const crashes: Array<string> = []
  for (const header of inputs) {
    try {
      marshal.decodeSync({ header, buffers: [] })
      decoded++
    } catch (e) {
      // Codec.make turns anything else thrown into a DecodeError at offset -1: that counts as a crash here.
      if (e instanceof DecodeError && e.codec === "marshal" && e.offset >= 0) {
        failures++
        kinds.add(e.message.replace(/\d+/g, "N"))
      } else if (crashes.length < 5) crashes.push(`${Buffer.from(header).toString("hex")}: ${String(e)}`)
    }
  }
  return { decoded, failures, kinds, crashes }
}

/** Valid encodings to mutate: sampled values of marshal's domain plus typical messages. */
const corpus = (): Array<Uint8Array> => {
  const leaf = fc.oneof(
    fc.constantFrom(null, undefined, true, false, -0, NaN, 2.72, 1e21, -7, 2n ** 63n - 1n, -(2n ** 70n)),
    fc.integer(),
    fc.double(),
    fc.bigInt(),
    fc.string({ unit: "binary", maxLength: 20 }),
    fc.string({ maxLength: 70 }),
    fc.float64Array({ maxLength: 4 }),
    fc.uint8Array({ maxLength: 6 }),
    fc.bigInt64Array({ maxLength: 2 })
  )
  const { value } = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: "small" }, leaf, tie("array"), tie("object")),
    array: fc.array(tie("value"), { maxLength: 18 }),
    object: fc.dictionary(fc.constantFrom("a", "b", "id", "name", "tags", "__proto__", "k".repeat(40)), tie("value"), { maxKeys: 5 })
  }))
  const samples = fc.sample(value, { numRuns: 400, seed: 7 })
  const typical = [
    { key1: [7, 2.72, { re: 2, im: 3 }], key2: ["abc", "xyz"] },
    { id: 42, name: "alice", score: 3.5, active: true, tags: ["a", "b"] },
    Array.from({ length: 40 }, (_, i) => ({ id: i, name: `user${i}`, x: i / 4, y: Math.sqrt(i), tags: ["t", "u"].slice(i % 2) })),
    [null, true, false, -7, 0, 7, -(2n ** 63n) + 1n, 2n ** 63n - 1n, -2.17, 0.0, 1.62, "mpi4py"],
    Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`k${i}`, i % 3 === 0 ? [i] : i]))
  ]
  return [...samples, ...typical].map((v) => marshal.encodeSync(v).header.slice())
}

const concat = (...parts: ReadonlyArray<ArrayLike<number>>): Uint8Array => {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

function* uniform(count: number, seed: number): Generator<Uint8Array> {
  const r = prng(seed)
  for (let i = 0; i < count; i++) {
    const bytes = new Uint8Array(r.below(48))
    for (let j = 0; j < bytes.length; j++) bytes[j] = r.byte()
    yield bytes
  }
}

function* mutations(valid: ReadonlyArray<Uint8Array>, count: number, seed: number): Generator<Uint8Array> {
  const r = prng(seed)
  for (let i = 0; i < count; i++) {
    const base = valid[r.below(valid.length)]!
    let bytes: Uint8Array = base.slice()
    const edits = 1 + r.below(3)
    for (let e = 0; e < edits; e++) {
      const at = bytes.length === 0 ? 0 : r.below(bytes.length)
      switch (r.below(8)) {
        case 0: // truncate
          bytes = bytes.subarray(0, at)
          break
        case 1: // flip a bit
          if (bytes.length > 0) bytes[at]! ^= 1 << r.below(8)
          break
        case 2: // a random byte
          if (bytes.length > 0) bytes[at] = r.byte()
          break
        case 3: // an interesting byte
          if (bytes.length > 0) bytes[at] = interesting[r.below(interesting.length)]!
          break
        case 4: { // insert a huge varuint (a length prefix of 2^40 and more)
          const huge = [0xff, 0xff, 0xff, 0xff, 0xff, 0x7f].slice(r.below(4))
          bytes = concat(bytes.subarray(0, at), huge, bytes.subarray(at))
          break
        }
        case 5: { // delete a range
          const n = 1 + r.below(4)
          bytes = concat(bytes.subarray(0, at), bytes.subarray(at + n))
          break
        }
        case 6: { // duplicate a range (repeats shapes, keys, nesting)
          const n = 1 + r.below(8)
          bytes = concat(bytes.subarray(0, at + n), bytes.subarray(at, at + n), bytes.subarray(at + n))
          break
        }
        default: { // splice another valid message in
          const other = valid[r.below(valid.length)]!
          bytes = concat(bytes.subarray(0, at), other.subarray(r.below(other.length + 1)))
        }
      }
    }
    yield bytes
  }
}

/** Every prefix (up to 256 bytes long) of every valid message. */
function* truncations(valid: ReadonlyArray<Uint8Array>): Generator<Uint8Array> {
  for (const bytes of valid) for (let n = 0; n < Math.min(bytes.length, 256); n++) yield bytes.subarray(0, n)
}

describe("marshal: the decoder survives fuzzing (only DecodeError ever escapes)", () => {
  const valid = corpus()
  let fromUniform: Outcome | undefined
  let fromMutations: Outcome | undefined

  it("80,000 uniformly random byte strings", () => {
    fromUniform = run(uniform(80_000, 1))
    expect(fromUniform.crashes).toEqual([])
    expect(fromUniform.decoded + fromUniform.failures).toBe(80_000)
  })

  it("every truncation of every valid message in the corpus (the first 256)", () => {
    const outcome = run(truncations(valid))
    expect(outcome.crashes).toEqual([])
    expect(outcome.decoded).toBe(0) // a proper prefix of a message is never a message
    expect(outcome.failures).toBeGreaterThan(10_000)
  })

  it("120,000 mutations of valid messages: bit flips, bytes, huge lengths, deletions, repeats, splices", () => {
    fromMutations = run(mutations(valid, 120_000, 2))
    expect(fromMutations.crashes).toEqual([])
    expect(fromMutations.decoded + fromMutations.failures).toBe(120_000)
  })

  it("mutations reach more of the decoder than uniform random bytes", () => {
    expect(fromUniform).toBeDefined()
    expect(fromMutations).toBeDefined()
    expect(fromMutations!.kinds.size).toBeGreaterThan(fromUniform!.kinds.size)
    expect(fromMutations!.decoded).toBeGreaterThan(fromUniform!.decoded)
  })
})
