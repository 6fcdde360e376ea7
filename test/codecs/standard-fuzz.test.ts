/**
 * Fuzzing and round-trip properties of the standard codecs (cbor, msgpack)
 * and the raw buffer path. Every input is deterministic (seeded), so a
 * failure reproduces; its bytes are printed in hex.
 */
import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import type { Codec, Frames } from "../../codecs/Codec.ts"
import * as Datatype from "../../codecs/Datatype.ts"
import { decodeInto, raw } from "../../codecs/buffer.ts"
import { cbor, MAX_DEPTH } from "../../codecs/cbor.ts"
import { DatatypeMismatch, DecodeError, EncodeError, Truncated } from "../../codecs/errors.ts"
import { msgpack } from "../../codecs/msgpack.ts"

const FUZZ_INPUTS = 200_000

/** mulberry32: a small seeded PRNG, so every fuzz run sees the same inputs. */
const prng = (seed: number) => {
  let a = seed >>> 0
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number): number => Math.floor(next() * n)
  return { next, int, pick: <A>(xs: ReadonlyArray<A>): A => xs[int(xs.length)]! }
}
type Rng = ReturnType<typeof prng>

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex")

/** Bytes that mean "long length follows" or "container" in CBOR or MessagePack, and extreme values. */
const INTERESTING = [0x00, 0x01, 0x17, 0x18, 0x1b, 0x1f, 0x3b, 0x5b, 0x5f, 0x7b, 0x7f, 0x80, 0x81, 0x9b, 0x9f, 0xa1, 0xbb,
  0xbf, 0xc1, 0xc2, 0xc6, 0xc9, 0xd8, 0xd9, 0xdb, 0xdd, 0xdf, 0xf7, 0xf8, 0xfb, 0xff]

const STRATEGIES = ["random", "truncate", "bitflip", "interesting", "insert-delete", "splice", "big-length"] as const
type Strategy = (typeof STRATEGIES)[number]

/** One fuzz input: uniform random bytes, or a mutation of a valid encoding from `corpus`. */
const mutate = (rng: Rng, corpus: ReadonlyArray<Uint8Array>, strategy: Strategy): Uint8Array => {
  if (strategy === "random") {
    const out = new Uint8Array(rng.int(48))
    for (let i = 0; i < out.length; i++) out[i] = rng.int(256)
    return out
  }
  const base = rng.pick(corpus)
  switch (strategy) {
    case "truncate":
      return base.slice(0, rng.int(base.length))
    case "bitflip": {
      const out = base.slice()
      for (let n = 1 + rng.int(4); n > 0 && out.length > 0; n--) out[rng.int(out.length)]! ^= 1 << rng.int(8)
      return out
    }
    case "interesting": {
      const out = base.slice()
      for (let n = 1 + rng.int(3); n > 0 && out.length > 0; n--) out[rng.int(out.length)] = rng.pick(INTERESTING)
      return out
    }
    case "insert-delete": {
      const at = rng.int(base.length + 1)
      if (rng.next() < 0.5) return Uint8Array.from([...base.subarray(0, at), rng.int(256), ...base.subarray(at)])
      return Uint8Array.from([...base.subarray(0, at), ...base.subarray(at + 1 + rng.int(4))])
    }
    case "splice": {
      const other = rng.pick(corpus)
      return Uint8Array.from([...base.subarray(0, rng.int(base.length + 1)), ...other.subarray(rng.int(other.length + 1))])
    }
    case "big-length": {
      const out = base.slice()
      const at = rng.int(Math.max(1, out.length - 8))
      out[at] = rng.pick([0x5a, 0x5b, 0x7a, 0x9a, 0x9b, 0xba, 0xc6, 0xc9, 0xdb, 0xdd, 0xdf])
      for (let i = at + 1; i < Math.min(out.length, at + 9); i++) out[i] = rng.next() < 0.7 ? 0xff : rng.int(256)
      return out
    }
  }
}

interface FuzzReport {
  readonly wrongErrors: Array<string>
  readonly decodedByStrategy: Record<Strategy, number>
  readonly triedByStrategy: Record<Strategy, number>
}

/**
 * Decodes `FUZZ_INPUTS` fuzz inputs and re-encodes what decodes; a decoding failure other than a
 * DecodeError, or an encoding failure other than an EncodeError, is recorded with its input.
 */
const fuzz = (codec: Codec, corpus: ReadonlyArray<Uint8Array>, seed: number, reencoding: "always works" | "may be refused"): FuzzReport => {
  const rng = prng(seed)
  const wrongErrors: Array<string> = []
  const decodedByStrategy = Object.fromEntries(STRATEGIES.map((s) => [s, 0])) as Record<Strategy, number>
  const triedByStrategy = { ...decodedByStrategy }
  for (let i = 0; i < FUZZ_INPUTS; i++) {
    const strategy = STRATEGIES[i % STRATEGIES.length]!
    const header = mutate(rng, corpus, strategy)
    triedByStrategy[strategy]++
    let value: unknown
    try {
      value = codec.decodeSync({ header, buffers: [] })
      decodedByStrategy[strategy]++
    } catch (e) {
      if (!(e instanceof DecodeError) && wrongErrors.length < 5) wrongErrors.push(`${hex(header)}: ${String(e)}`)
      continue
    }
    // whatever the decoder makes of the bytes, the encoder takes back (or refuses with an EncodeError)
    try {
      codec.encodeSync(value)
    } catch (e) {
      const allowed = reencoding === "may be refused" && e instanceof EncodeError
      if (!allowed && wrongErrors.length < 5) wrongErrors.push(`re-encoding ${hex(header)}: ${String(e)}`)
    }
  }
  return { wrongErrors, decodedByStrategy, triedByStrategy }
}

/** Asserts the fuzz found only DecodeErrors, and that mutations reached past the first bytes more than random bytes did. */
const expectOnlyDecodeErrors = (report: FuzzReport): void => {
  expect(report.wrongErrors).toEqual([])
  const rate = (s: Strategy) => report.decodedByStrategy[s] / report.triedByStrategy[s]
  expect(rate("bitflip")).toBeGreaterThan(rate("random"))
  expect(rate("interesting")).toBeGreaterThan(rate("random"))
}

// ---------------------------------------------------------------------------------------------
// The documented domains, as arbitraries.

const noNegativeZero = (x: number): number => (Object.is(x, -0) ? 0 : x)
const wellFormedString = fc.string({ unit: "binary", maxLength: 40 }).map((s) => s.toWellFormed())
const key = fc.oneof(fc.string({ maxLength: 8 }), fc.constant("__proto__"))
/** Bigints beyond ±(2^53 - 1): those within come back as numbers, by design. */
const unsafeBigInt = (min?: bigint, max?: bigint) =>
  fc.bigInt({ min, max }).filter((b) => b > BigInt(Number.MAX_SAFE_INTEGER) || b < -BigInt(Number.MAX_SAFE_INTEGER))
/** Map keys of every kind a map can carry. */
const mapKey = fc.oneof(wellFormedString, fc.integer(), fc.double().map(noNegativeZero), fc.boolean(), fc.constant(null), fc.uint8Array({ maxLength: 4 }))
const typedArrays = fc.oneof(
  fc.int8Array({ maxLength: 8 }), fc.uint8ClampedArray({ maxLength: 8 }), fc.int16Array({ maxLength: 8 }),
  fc.uint16Array({ maxLength: 8 }), fc.int32Array({ maxLength: 8 }), fc.uint32Array({ maxLength: 8 }),
  fc.float32Array({ maxLength: 8 }), fc.float64Array({ maxLength: 8 }), fc.bigInt64Array({ maxLength: 8 }),
  fc.bigUint64Array({ maxLength: 8 })
)
const commonLeaves = [
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double().map(noNegativeZero),
  wellFormedString,
  fc.uint8Array({ maxLength: 16 }),
  typedArrays
]

/** cbor round-trips these exactly: see docs/codecs-standard.md. */
const cborValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    ...commonLeaves,
    fc.constant(undefined),
    unsafeBigInt(),
    fc.date({ min: new Date(-4.39e15), max: new Date(4.39e15) }),
    fc.array(tie("value"), { maxLength: 5 }),
    fc.dictionary(key, tie("value"), { maxKeys: 5, noNullPrototype: true }),
    fc.array(fc.tuple(mapKey, tie("value")), { maxLength: 4 }).map((entries) => new Map(entries)),
    fc.uniqueArray(fc.oneof(wellFormedString, fc.integer()), { maxLength: 4 }).map((xs) => new Set(xs))
  )
})).value

/** msgpack round-trips these exactly: see docs/codecs-standard.md. */
const msgpackValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    ...commonLeaves,
    unsafeBigInt(-(2n ** 63n), 2n ** 64n - 1n),
    fc.date({ noInvalidDate: true }),
    fc.array(tie("value"), { maxLength: 5 }),
    fc.dictionary(key, tie("value"), { maxKeys: 5, noNullPrototype: true }),
    // Maps with a key that is not a string (those with string keys only come back as objects)
    fc.array(fc.tuple(mapKey, tie("value")), { maxLength: 3 })
      .map((entries) => new Map<unknown, unknown>([[0, null], ...entries]))
  )
})).value

const corpusOf = (codec: Codec, arbitrary: fc.Arbitrary<unknown>, extra: ReadonlyArray<unknown>): Array<Uint8Array> =>
  [...fc.sample(arbitrary, { seed: 7, numRuns: 400 }), ...extra].map((v) => codec.encodeSync(v).header.slice())

/** Long strings in a long message: cbor-x hands these to its native string extractor when it is installed. */
const STRING_HEAVY = { text: "x".repeat(100) + "é😀".repeat(40), list: Array.from({ length: 20 }, (_, i) => `s${"y".repeat(i * 5)}`) }

const MPI4PY_MESSAGES = [null, true, false, -7, 0, 7, -(2n ** 63n) + 1n, 2n ** 63n - 1n, -2.17, 0.0, 1.62, "mpi4py"]

// ---------------------------------------------------------------------------------------------

describe("cbor: fuzzing and properties", () => {
  it("round-trips every value of its documented domain exactly", () => {
    fc.assert(fc.property(cborValue, (v) => {
      expect(cbor.decodeSync(cbor.encodeSync(v))).toStrictEqual(v)
    }), { numRuns: 500 })
  })

  it("carries mpi4py's test messages as a list, nested, as a Set and in an object", () => {
    const messages = [...MPI4PY_MESSAGES]
    for (const v of [messages, [messages, [messages, [messages]]], new Set(messages), { k0: messages, k1: [messages] }]) {
      expect(cbor.decodeSync(cbor.encodeSync(v))).toStrictEqual(v)
    }
    const back = cbor.decodeSync(cbor.encodeSync(messages)) as Array<unknown>
    expect(back[7]).toBe(2n ** 63n - 1n)
    expect(typeof back[3]).toBe("number")
  })

  it(`fails only with DecodeError on ${FUZZ_INPUTS} random, truncated and mutated inputs`, () => {
    let deep: unknown = 1
    for (let i = 0; i < MAX_DEPTH; i++) deep = [deep]
    const corpus = corpusOf(cbor, cborValue, [MPI4PY_MESSAGES, STRING_HEAVY, { a: new Map([[1, new Set([2])]]) }, 2n ** 100n, deep])
    expectOnlyDecodeErrors(fuzz(cbor, corpus, 1, "always works"))
  })
})

describe("msgpack: fuzzing and properties", () => {
  it("round-trips every value of its documented domain exactly", () => {
    fc.assert(fc.property(msgpackValue, (v) => {
      expect(msgpack.decodeSync(msgpack.encodeSync(v))).toStrictEqual(v)
    }), { numRuns: 500 })
  })

  it("carries mpi4py's test messages as a list, nested and in an object (a Set has no MessagePack form)", () => {
    const messages = [...MPI4PY_MESSAGES]
    for (const v of [messages, [messages, [messages, [messages]]], { k0: messages, k1: [messages] }]) {
      expect(msgpack.decodeSync(msgpack.encodeSync(v))).toStrictEqual(v)
    }
    const back = msgpack.decodeSync(msgpack.encodeSync(messages)) as Array<unknown>
    expect(back[7]).toBe(2n ** 63n - 1n)
    expect(typeof back[3]).toBe("number")
    expect(() => msgpack.encodeSync(new Set(messages))).toThrow(EncodeError)
  })

  it(`fails only with DecodeError on ${FUZZ_INPUTS} random, truncated and mutated inputs`, () => {
    const corpus = corpusOf(msgpack, msgpackValue, [MPI4PY_MESSAGES, STRING_HEAVY, { d: new Date(-1), x: new ArrayBuffer(2) }])
    // a timestamp beyond ±8.64e15 ms decodes to an invalid Date, which has no timestamp to go back to
    expectOnlyDecodeErrors(fuzz(msgpack, corpus, 2, "may be refused"))
  })
})

describe("raw: fuzzing and properties", () => {
  const arrays = fc.oneof(typedArrays, fc.uint8Array({ maxLength: 16 }))

  it("round-trips every typed array, at any offset of any buffer", () => {
    fc.assert(fc.property(arrays, fc.nat(16), (array, pad) => {
      const frames = raw.encodeSync(array)
      const data = frames.buffers[0]!
      const moved = new Uint8Array(pad + data.length)
      moved.set(data, pad)
      expect(raw.decodeSync({ header: frames.header, buffers: [moved.subarray(pad)] })).toStrictEqual(array)
    }), { numRuns: 1000 })
  })

  it(`fails only with DecodeError on ${FUZZ_INPUTS} malformed frames (and decodeInto also with DatatypeMismatch or Truncated)`, () => {
    const rng = prng(3)
    const sent = fc.sample(arrays, { seed: 9, numRuns: 200 }).map((a) => raw.encodeSync(a))
    const backing = new Uint8Array(200)
    for (let i = 0; i < backing.length; i++) backing[i] = rng.int(256)
    const targets = [...Datatype.all.map((d) => new d.ctor(rng.int(6))), [new Uint8Array(24), "int32", 5] as const]
    const wrongErrors: Array<string> = []
    let decoded = 0
    for (let i = 0; i < FUZZ_INPUTS; i++) {
      const strategy = STRATEGIES[i % STRATEGIES.length]!
      const original = rng.pick(sent)
      const header = mutate(rng, [original.header], strategy)
      const buffers: Array<Uint8Array> = []
      // mostly one data buffer, often of the original's length, at any offset; sometimes none or two
      const n = rng.next() < 0.9 ? 1 : rng.int(3)
      for (let b = 0; b < n; b++) {
        const start = rng.int(8)
        const length = rng.next() < 0.7 ? original.buffers[0]!.length : rng.int(64)
        buffers.push(backing.subarray(start, start + length))
      }
      const frames: Frames = { header, buffers }
      try {
        const out = raw.decodeSync(frames) as ArrayBufferView
        if (out.byteLength !== buffers[0]!.byteLength && wrongErrors.length < 5) wrongErrors.push(`decodeSync ${hex(header)}: wrong length`)
        decoded++
      } catch (e) {
        if (!(e instanceof DecodeError) && wrongErrors.length < 5) wrongErrors.push(`decodeSync ${hex(header)}: ${String(e)}`)
      }
      if (i % 4 !== 0) continue // decodeInto on a quarter of the inputs: its errors build stack traces, which is slow
      try {
        decodeInto(frames, rng.pick(targets))
      } catch (e) {
        const allowed = e instanceof DecodeError || e instanceof DatatypeMismatch || e instanceof Truncated
        if (!allowed && wrongErrors.length < 5) wrongErrors.push(`decodeInto ${hex(header)}: ${String(e)}`)
      }
    }
    expect(wrongErrors).toEqual([])
    expect(decoded).toBeGreaterThan(FUZZ_INPUTS / 100) // the mutations reach past the header checks
  })
})
