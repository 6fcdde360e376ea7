import { describe, expect, it } from "@effect/vitest"
import { encode as msgpackEncode } from "@msgpack/msgpack"
import { Effect } from "effect"
import fc from "fast-check"
import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { runInNewContext } from "node:vm"
import { CodecIds } from "../../codecs/Codec.ts"
import { DecodeError, EncodeError } from "../../codecs/errors.ts"
import { marshal } from "../../codecs/marshal/Marshal.ts"
import { MAX_DEPTH, Tag } from "../../codecs/marshal/format.ts"
import * as Registry from "../../codecs/registry.ts"
import { thrown } from "../support/thrown.ts"

const encode = (value: unknown): Uint8Array => marshal.encodeSync(value).header
const decode = (bytes: ArrayLike<number>): unknown => marshal.decodeSync({ header: Uint8Array.from(bytes), buffers: [] })
const roundTrip = (value: unknown): unknown => marshal.decodeSync(marshal.encodeSync(value))

const encodeFailure = (value: unknown): EncodeError => {
  const e = thrown(() => marshal.encodeSync(value))
  expect(e).toBeInstanceOf(EncodeError)
  return e as EncodeError
}
const decodeFailure = (bytes: ArrayLike<number>): DecodeError => {
  const e = thrown(() => decode(bytes))
  expect(e).toBeInstanceOf(DecodeError)
  // Offset -1 would mean Codec.make caught something else the decoder threw (a bug).
  expect((e as DecodeError).offset).toBeGreaterThanOrEqual(0)
  return e as DecodeError
}

/**
 * Exact equality over marshal's domain: NaN equals NaN, -0 differs from 0,
 * typed arrays must have the same class and elements, object keys the same
 * order, and a decoded object must be plain (prototype Object.prototype).
 */
const same = (expected: unknown, actual: unknown): boolean => {
  if (Object.is(expected, actual)) return true
  if (typeof expected !== "object" || typeof actual !== "object" || expected === null || actual === null) return false
  if (ArrayBuffer.isView(expected)) {
    if (!ArrayBuffer.isView(actual) || actual.constructor !== expected.constructor) return false
    const e = expected as unknown as ArrayLike<unknown>
    const a = actual as unknown as ArrayLike<unknown>
    if (e.length !== a.length) return false
    for (let i = 0; i < e.length; i++) if (!Object.is(e[i], a[i])) return false
    return true
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) return false
    for (let i = 0; i < expected.length; i++) if (!same(expected[i], actual[i])) return false
    return true
  }
  if (Array.isArray(actual) || ArrayBuffer.isView(actual) || Object.getPrototypeOf(actual) !== Object.prototype) return false
  const ek = Object.keys(expected)
  const ak = Object.keys(actual)
  if (ek.length !== ak.length || ek.some((k, i) => k !== ak[i])) return false
  return ek.every((k) => same((expected as Record<string, unknown>)[k], (actual as Record<string, unknown>)[k]))
}

const expectRoundTrip = (value: unknown): void => {
  const back = roundTrip(value)
  if (!same(value, back)) expect(back).toEqual(value) // shows the difference
  expect(same(value, back)).toBe(true)
}

/** An object with these entries as own enumerable properties, "__proto__" included. */
const objectOf = (entries: ReadonlyArray<readonly [string, unknown]>): Record<string, unknown> => {
  const o: Record<string, unknown> = {}
  for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true })
  return o
}

const typedArray = fc.oneof(
  fc.int8Array(),
  fc.uint8Array(),
  fc.uint8ClampedArray(),
  fc.int16Array(),
  fc.uint16Array(),
  fc.int32Array(),
  fc.uint32Array(),
  fc.float32Array(),
  fc.float64Array(),
  fc.bigInt64Array(),
  fc.bigUint64Array(),
  fc.array(fc.float({ noDefaultInfinity: false }), { maxLength: 8 }).map((xs) => new Float16Array(xs))
)

const leaf = fc.oneof(
  fc.constantFrom(null, undefined, true, false, -0, 0, NaN, Infinity, -Infinity, 2.72, -2.17, 0.1, 1e21, 2 ** 53 - 1),
  fc.integer(),
  fc.integer({ min: -200, max: 200 }),
  fc.double(),
  fc.integer({ min: -100_000_000, max: 100_000_000 }).map((n) => n / 10 ** (Math.abs(n) % 6)),
  fc.bigInt(),
  fc.bigInt({ min: -(2n ** 600n), max: 2n ** 600n }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ maxLength: 300 }),
  typedArray
)

const key = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom("__proto__", "constructor", "toString", "0", "1", "id", "name", "x"))

const { value: marshalValue } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: "small", withCrossShrink: true }, leaf, tie("array"), tie("object"), tie("records")),
  array: fc.oneof(fc.array(tie("value"), { maxLength: 20 }), fc.sparseArray(tie("value"), { maxLength: 20, maxNumElements: 4 })),
  object: fc.array(fc.tuple(key, tie("value")), { maxLength: 8 }).map(objectOf),
  // Objects of repeated shapes exercise the shape and key tables.
  records: fc.array(fc.record({ id: fc.integer(), name: fc.string(), tags: fc.array(fc.string(), { maxLength: 3 }) }), { maxLength: 30 })
}))

const mpi4pyMessages = [null, true, false, -7, 0, 7, -(2n ** 63n) + 1n, 2n ** 63n - 1n, -2.17, 0.0, 1.62, "mpi4py"]
const seedDict = { key1: [7, 2.72, { re: 2, im: 3 }], key2: ["abc", "xyz"] }
const smallRecord = { id: 42, name: "alice", score: 3.5, active: true, tags: ["a", "b"] }
const records = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    id: i,
    name: `user${i}`,
    x: i * 0.5,
    y: Math.sin(i) * 100,
    tags: ["red", "green", "blue"].slice(0, (i % 3) + 1)
  }))

describe("marshal: the codec", () => {
  it("is registered as codec 2, named marshal, and carries everything in the header frame", () => {
    expect(marshal.id).toBe(CodecIds.marshal)
    expect(marshal.name).toBe("marshal")
    expect(Registry.getById(CodecIds.marshal)).toBe(marshal)
    expect(Registry.getByName("marshal")).toBe(marshal)
    expect(marshal.encodeSync({ a: new Float64Array(100) }).buffers).toHaveLength(0)
  })

  it.effect("encode and decode are Effects whose failures are typed", () =>
    Effect.gen(function* () {
      const frames = yield* marshal.encode(seedDict)
      expect(yield* marshal.decode(frames)).toEqual(seedDict)
      const encodeError = yield* Effect.flip(marshal.encode({ at: new Date(0) }))
      expect(encodeError).toBeInstanceOf(EncodeError)
      expect(encodeError.path).toBe("$.at")
      const decodeError = yield* Effect.flip(marshal.decode({ header: new Uint8Array([Tag.String, 5, 0x61]), buffers: [] }))
      expect(decodeError).toBeInstanceOf(DecodeError)
    }))

  it("a message with out-of-band buffers is a DecodeError: marshal never writes them", () => {
    const e = thrown(() => marshal.decodeSync({ header: encode(1), buffers: [new Uint8Array(4)] }))
    expect(e).toBeInstanceOf(DecodeError)
  })

  it("views handed out for earlier messages stay valid while later ones are encoded", () => {
    const first = marshal.encodeSync({ a: "first", n: 1 })
    for (let i = 0; i < 5000; i++) marshal.encodeSync({ filler: "x".repeat(i % 100), i })
    expect(marshal.decodeSync(first)).toEqual({ a: "first", n: 1 })
  })
})

describe("marshal: every kind of its domain round-trips exactly", () => {
  it("null, undefined and booleans", () => {
    for (const v of [null, undefined, true, false]) expectRoundTrip(v)
  })

  it("integers at every width boundary, and -0, NaN and the infinities", () => {
    const ints = [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53]
    for (const n of ints) {
      expectRoundTrip(n)
      expectRoundTrip(-n)
    }
    for (const n of [-32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1]) expectRoundTrip(n)
    for (const v of [-0, NaN, Infinity, -Infinity, Number.MIN_VALUE, -Number.MAX_VALUE, Number.EPSILON]) expectRoundTrip(v)
    expect(Object.is(roundTrip(-0), -0)).toBe(true)
  })

  it("small integers take one byte and short decimals a few (2.72 in 3 bytes, not 9)", () => {
    expect(encode(0)).toHaveLength(1)
    expect(encode(127)).toHaveLength(1)
    expect(encode(-32)).toHaveLength(1)
    expect(encode(2.72)).toHaveLength(3)
    expect(encode(3.5)).toHaveLength(2)
    expect(encode(1e10)).toHaveLength(5) // exact as a float32
    expect(encode(Math.PI)).toHaveLength(9)
  })

  it("every double with up to 4 decimals comes back as the same double", () => {
    fc.assert(
      fc.property(fc.integer({ min: -2_147_480_000, max: 2_147_480_000 }), fc.integer({ min: 0, max: 4 }), (m, k) => {
        const v = m / 10 ** k
        expect(Object.is(roundTrip(v), v)).toBe(true)
      }),
      { numRuns: 3000 }
    )
    fc.assert(fc.property(fc.double(), (v) => Object.is(roundTrip(v), v)), { numRuns: 3000 })
  })

  it("bigints of any size and sign", () => {
    const big = [0n, 1n, -1n, 255n, 256n, 2n ** 48n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n - 1n, 2n ** 64n, -(2n ** 64n), 7n ** 500n, -(3n ** 2000n)]
    for (const v of big) expect(roundTrip(v)).toBe(v)
  })

  it("strings: empty, at the short-form boundary, non-ASCII, lone surrogates and long", () => {
    const strings = ["", "a", "x".repeat(31), "x".repeat(32), "é".repeat(15), "é".repeat(16), "日本語", "😀", "\ud800", "a\udc00b", "\udbff\udfff", "\u2028", "\0"]
    for (const s of [...strings, "y".repeat(100_000), "é😀\ud800".repeat(5000)]) expect(roundTrip(s)).toBe(s)
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 200 }), (s) => roundTrip(s) === s), { numRuns: 2000 })
  })

  it("arrays: empty, at the short-form boundary and nested; a hole comes back as undefined", () => {
    for (const a of [[], [1], Array.from({ length: 15 }, (_, i) => i), Array.from({ length: 16 }, (_, i) => i), [[[]], [[1, [2]]]]]) {
      expectRoundTrip(a)
    }
    // eslint-disable-next-line no-sparse-arrays
    const sparse = [1, , 3]
    const back = roundTrip(sparse) as Array<unknown>
    expect(back).toHaveLength(3)
    expect(1 in back).toBe(true)
    expect(back[1]).toBeUndefined()
  })

  it("plain objects: own enumerable string keys in order, numeric-like keys, null-prototype objects and objects of another realm", () => {
    expectRoundTrip({})
    expectRoundTrip({ b: 1, a: { c: [1, { d: null }] }, "with space": 2, "": 3 })
    expectRoundTrip({ 2: "two", 1: "one", z: 0 })
    const nullProto = Object.assign(Object.create(null), { a: 1 }) as object
    const back = roundTrip(nullProto)
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype)
    expect(back).toEqual({ a: 1 })
    const foreign = runInNewContext("({ a: [1, { b: 2 }] })") as object
    expect(roundTrip(foreign)).toEqual({ a: [1, { b: 2 }] })
    const withHidden = Object.defineProperty({ shown: 1 }, "hidden", { value: 2, enumerable: false })
    expect(roundTrip(withHidden)).toEqual({ shown: 1 })
    expect(roundTrip({ [Symbol("s")]: 1, k: 2 })).toEqual({ k: 2 })
  })

  it("a __proto__ key comes back as an own property and never changes a prototype", () => {
    const hostile = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>
    // Enough objects of one shape to pass the point where a shape gets a compiled constructor.
    for (const value of [hostile, Array.from({ length: 200 }, () => hostile)]) {
      const back = roundTrip(value)
      for (const o of Array.isArray(back) ? back : [back]) {
        expect(Object.getPrototypeOf(o)).toBe(Object.prototype)
        expect(Object.hasOwn(o, "__proto__")).toBe(true)
        expect((o as Record<string, unknown>).polluted).toBeUndefined()
        expect(Object.keys(o)).toEqual(["__proto__", "a"])
      }
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it("typed arrays of every class keep their class, and views keep only their own bytes", () => {
    const arrays = [
      new Int8Array([-128, 0, 127]),
      new Uint8Array([0, 255]),
      new Uint8ClampedArray([0, 255]),
      new Int16Array([-32768, 32767]),
      new Uint16Array([65535]),
      new Int32Array([-(2 ** 31)]),
      new Uint32Array([2 ** 32 - 1]),
      new Float32Array([1.5, NaN, -0]),
      new Float64Array([Math.PI, -0, NaN, Infinity]),
      new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]),
      new BigUint64Array([2n ** 64n - 1n]),
      new Float16Array([1.5, -0, 65504]),
      new Float64Array(0),
      new Float64Array(new ArrayBuffer(64), 8, 3).fill(7),
      new Uint16Array(new ArrayBuffer(10), 2, 3).fill(9)
    ]
    for (const a of arrays) expectRoundTrip(a)
    expectRoundTrip({ samples: new Float64Array(10_000).map((_, i) => i / 3), raw: new Uint8Array(70_000) })
  })

  it("a Node Buffer travels as a Uint8Array", () => {
    const back = roundTrip(Buffer.from("hello"))
    expect(back).toBeInstanceOf(Uint8Array)
    expect(Buffer.isBuffer(back)).toBe(false)
    expect(Buffer.from(back as Uint8Array).toString()).toBe("hello")
  })

  it("arbitrary values of the domain round-trip exactly (property)", () => {
    fc.assert(
      fc.property(marshalValue, (v) => {
        expect(same(v, roundTrip(v))).toBe(true)
      }),
      { numRuns: 1500 }
    )
  })
})

describe("marshal: mpi4py's messages", () => {
  it("the test message list round-trips as a list, nested, and in an object", () => {
    expectRoundTrip(mpi4pyMessages)
    expectRoundTrip([mpi4pyMessages, [mpi4pyMessages, [mpi4pyMessages]]])
    expectRoundTrip(Object.fromEntries(mpi4pyMessages.map((m, i) => [`k${i}`, m])))
    expectRoundTrip({ k0: mpi4pyMessages, k1: [mpi4pyMessages] })
  })

  it("the message list as a Set is outside marshal's domain: an EncodeError that points to pickle", () => {
    const e = encodeFailure({ k0: new Set(mpi4pyMessages) })
    expect(e.path).toBe("$.k0")
    expect(e.message).toContain("a Set")
    expect(e.message).toContain("pickle")
  })

  it("the seed dict (without the Complex) round-trips", () => {
    expectRoundTrip(seedDict)
  })
})

describe("marshal: values, not references", () => {
  it("a shared sub-object is written twice: the decoded copies are equal but not identical", () => {
    const shared = { x: 1, list: [1, 2] }
    const back = roundTrip({ a: shared, b: shared, c: [shared] }) as Record<string, unknown>
    expect(back.a).toEqual(shared)
    expect(back.b).toEqual(shared)
    expect(back.a).not.toBe(back.b)
    expect((back.c as Array<unknown>)[0]).not.toBe(back.a)
  })

  it("a cycle is an EncodeError naming where it closes: direct, through arrays, through nested objects", () => {
    const direct: Record<string, unknown> = { name: "o" }
    direct.self = direct
    const viaArray: Array<unknown> = [1, 2]
    viaArray.push(viaArray)
    const nested: Record<string, unknown> = { a: { b: { list: [0, {}] } } }
    ;((((nested.a as Record<string, unknown>).b as Record<string, unknown>).list as Array<unknown>)[1] as Record<string, unknown>).back = nested
    const mixed: Array<unknown> = []
    mixed.push({ items: [mixed] })
    const cases: Array<[unknown, string, string]> = [
      [direct, "$.self", "$"],
      [viaArray, "$[2]", "$"],
      [nested, "$.a.b.list[1].back", "$"],
      [{ wrap: mixed }, "$.wrap[0].items[0]", "$.wrap"]
    ]
    for (const [value, path, ancestor] of cases) {
      const e = encodeFailure(value)
      expect(e.path).toBe(path)
      expect(e.message).toContain("cycle")
      expect(e.message).toContain(`its own ancestor ${ancestor};`)
      expect(e.message).toContain("pickle")
    }
  })

  it("after a failed message the codec encodes the next one correctly", () => {
    const cyclic: Array<unknown> = []
    cyclic.push(cyclic)
    encodeFailure({ a: [1, 2, cyclic] })
    expectRoundTrip({ a: [1, 2, 3], b: "ok" })
  })

  it("nesting 100,000 deep is an EncodeError, not a stack overflow, and the limit itself is fine", () => {
    let deep: unknown = 0
    for (let i = 0; i < 100_000; i++) deep = i % 2 === 0 ? [deep] : { d: deep }
    const e = encodeFailure(deep)
    expect(e.message).toContain(`nesting deeper than ${MAX_DEPTH} levels`)
    let atLimit: unknown = "leaf"
    for (let i = 0; i < MAX_DEPTH; i++) atLimit = i % 2 === 0 ? [atLimit] : { d: atLimit }
    expectRoundTrip(atLimit)
  })
})

describe("marshal: what it cannot carry is an EncodeError with the path and the kind", () => {
  class Point {
    readonly x: number
    constructor(x: number) {
      this.x = x
    }
  }
  const cases: Array<[unknown, string]> = [
    [new Map([[1, 2]]), "a Map"],
    [new Set([1]), "a Set"],
    [new Date(0), "a Date"],
    [/re/g, "a RegExp"],
    [new Error("boom"), "an Error"],
    [new Point(1), "an instance of class Point"],
    [() => 1, "a function"],
    [Symbol("s"), "a symbol"],
    [new ArrayBuffer(8), "an ArrayBuffer"],
    [new DataView(new ArrayBuffer(8)), "a DataView"],
    [Promise.resolve(1), "a Promise"]
  ]
  for (const [value, what] of cases) {
    it(`${what} at $.a.b[3]`, () => {
      const e = encodeFailure({ a: { b: [0, 1, 2, value] } })
      expect(e.path).toBe("$.a.b[3]")
      expect(e.message).toContain(`$.a.b[3]: ${what}`)
      expect(e.message).toContain("pickle")
      expect(e.codec).toBe("marshal")
    })
  }

  it("a key that is not an identifier is quoted in the path", () => {
    expect(encodeFailure({ "a b": [new Map()] }).path).toBe('$["a b"][0]')
    expect(encodeFailure(new Set()).path).toBe("$")
  })

  it("a getter that throws is an EncodeError too", () => {
    const e = encodeFailure({
      get bad(): number {
        throw new Error("nope")
      }
    })
    expect(e.message).toContain("nope")
  })
})

describe("marshal: edge cases of the encoder's machinery", () => {
  it("a getter that encodes with marshal while a message is being written gets a correct message of its own", () => {
    let inner: Uint8Array | undefined
    const value = {
      a: 1,
      get b(): string {
        inner = encode({ nested: [1, 2, 3] }).slice()
        return "b"
      },
      c: [4]
    }
    expect(roundTrip(value)).toEqual({ a: 1, b: "b", c: [4] })
    expect(decode(inner!)).toEqual({ nested: [1, 2, 3] })
  })

  it("an enumerable property on Object.prototype is not an own key: it is not encoded", () => {
    const proto = Object.prototype as Record<string, unknown>
    Object.defineProperty(proto, "injected", { value: 1, enumerable: true, configurable: true, writable: true })
    try {
      expect(Object.keys(roundTrip({ a: 1 }) as object)).toEqual(["a"])
    } finally {
      delete proto.injected
    }
  })

  it("keys repeated across different shapes are written once per message, shapes once per message", () => {
    const value = [{ alpha: 1, beta: 2 }, { beta: 3, alpha: 4 }, { alpha: 5 }, { alpha: 6, beta: 7, gamma: 8 }]
    expectRoundTrip(value)
    const text = Buffer.from(encode(value)).toString("latin1")
    expect(text.split("alpha").length - 1).toBe(1)
    expect(text.split("beta").length - 1).toBe(1)
    // 1,000 objects of one shape: one definition, then one byte of structure each.
    const many = Array.from({ length: 1000 }, (_, i) => ({ alpha: i % 100, beta: true }))
    expect(encode(many).length).toBeLessThan(1000 * 3 + 30)
    expectRoundTrip(many)
  })

  it("an object of more than 64 keys is written as a dictionary: key/value pairs, order and __proto__ kept", () => {
    const dict = objectOf([["__proto__", 1], ...Array.from({ length: 100 }, (_, i) => [`id-${i * 7919}`, i] as const)])
    expectRoundTrip(dict)
    expect(Object.getPrototypeOf(roundTrip(dict))).toBe(Object.prototype)
    const bytes = encode(dict)
    expect(bytes[0]).toBe(Tag.LargeObject)
    expectRoundTrip([dict, { nested: dict }, Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${i}`, i]))])
  })

  it("dictionaries with ever-new keys (10,000 keys, 20 messages) keep encoding fast and correct", () => {
    for (let m = 0; m < 20; m++) {
      const dict = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`user-${m}-${i}`, i % 7]))
      const back = roundTrip(dict) as Record<string, number>
      expect(back[`user-${m}-9999`]).toBe(9999 % 7)
    }
    // Quadratic behaviour would take minutes and run past the test's timeout; no clock is read here.
  })

  it("where code generation is forbidden (a CSP, --disallow-code-generation-from-strings), objects are built key by key", () => {
    const script = `
      import { marshal } from ${JSON.stringify(fileURLToPath(new URL("../../codecs/marshal/Marshal.ts", import.meta.url)))}
      const value = Array.from({ length: 300 }, (_, i) => ({ id: i, name: "n" + i, __proto__x: [i] }))
      const back = marshal.decodeSync(marshal.encodeSync(value))
      let forbidden = false
      try { new Function("") } catch { forbidden = true }
      process.stdout.write(JSON.stringify({ same: JSON.stringify(back) === JSON.stringify(value), forbidden }))`
    const out = execFileSync(process.execPath, ["--disallow-code-generation-from-strings", "--input-type=module", "-e", script], { encoding: "utf8" })
    expect(JSON.parse(out)).toEqual({ same: true, forbidden: true })
  })

  it("more than 16 shapes and more than 128 keys in one message", () => {
    const value = Array.from({ length: 300 }, (_, i) => ({ [`k${i}`]: i, [`k${i + 1}`]: i, shared: [i] }))
    expectRoundTrip(value)
    expectRoundTrip([...value, ...value])
  })

  it("objects of many shapes decoded many times keep their values (compiled constructors included)", () => {
    const shapes = Array.from({ length: 40 }, (_, s) => Object.fromEntries(Array.from({ length: (s % 7) + 1 }, (_, k) => [`f${(s * 3 + k) % 11}`, k])))
    for (let round = 0; round < 5; round++) {
      const value = Array.from({ length: 400 }, (_, i) => ({ ...shapes[i % shapes.length], i }))
      expectRoundTrip(value)
    }
  })
})

describe("marshal: decoding is total", () => {
  const big = [0x80, 0x80, 0x80, 0x80, 0x80, 0x20] // 2^40 as a varuint
  it("a length prefix of 2^40 is a DecodeError before anything is allocated", () => {
    for (const tag of [Tag.String, Tag.Array, Tag.BigPositive, Tag.BigNegative, Tag.Shape, Tag.LargeObject]) decodeFailure([tag, ...big])
    decodeFailure([Tag.Typed, 8, ...big])
    decodeFailure([Tag.ShapeNew, ...big])
    expect(decodeFailure([Tag.Array, ...big]).message).toContain("elements")
  })

  it("nesting 100,000 deep is a DecodeError, not a stack overflow", () => {
    const arrays = new Uint8Array(100_000).fill(0xa1)
    expect(decodeFailure(arrays).message).toContain("nesting deeper than")
    // Objects: one shape {a}, then 100,000 nested objects of it.
    const objects = [Tag.ShapeNew, 1, 0x81, 0x61, ...new Array(100_000).fill(0xb0)]
    expect(decodeFailure(objects).message).toContain("nesting deeper than")
  })

  it("a shape or key index beyond those defined so far is a DecodeError", () => {
    expect(decodeFailure([0xb0]).message).toContain("shape 0 is not defined")
    expect(decodeFailure([Tag.Shape, 40]).message).toContain("shape 40 is not defined")
    expect(decodeFailure([Tag.ShapeNew, 1, 0x00, 0x01]).message).toContain("key 0 is not defined")
    expect(decodeFailure([Tag.ShapeNew, 1, Tag.Null, 0x01]).message).toContain("a key must be")
    expect(decodeFailure([Tag.LargeObject, 1, 0x01, 0x01]).message).toContain("a key must be a string")
    // A defined key index is fine.
    expect(decode([0xa2, Tag.ShapeNew, 1, 0x81, 0x61, 1, Tag.ShapeNew, 2, 0x00, 0x81, 0x62, 2, 3])).toEqual([{ a: 1 }, { a: 2, b: 3 }])
  })

  it("unknown tags, bad typed array kinds and lengths, and trailing bytes are DecodeErrors", () => {
    expect(decodeFailure([0xdf]).message).toContain("unknown tag 0xdf")
    expect(decodeFailure([Tag.Typed, 99, 0]).message).toContain("kind 99")
    expect(decodeFailure([Tag.Typed, 8, 7, 1, 2, 3, 4, 5, 6, 7]).message).toContain("whole number")
    expect(decodeFailure([1, 2]).message).toContain("after the end")
    decodeFailure([])
  })

  it("every truncation of a valid message is a DecodeError", () => {
    const bytes = encode({ list: mpi4pyMessages, seed: seedDict, small: smallRecord, t: new Float64Array([1, 2]), big: 3n ** 90n })
    for (let n = 0; n < bytes.length; n++) decodeFailure(bytes.subarray(0, n))
  })

  it("a decoded value does not alias the input bytes", () => {
    const bytes = encode({ t: new Uint8Array([1, 2, 3]), s: "abc" })
    const copy = Uint8Array.from(bytes)
    const back = decode(copy) as { t: Uint8Array }
    copy.fill(0)
    expect(Array.from(back.t)).toEqual([1, 2, 3])
  })
})

describe("marshal: encoded size is at most MessagePack's", () => {
  const payloads: Record<string, unknown> = {
    "the seed dict": seedDict,
    "a small record": smallRecord,
    "10,000 records": records(10_000),
    "mpi4py's message list (bigints as MessagePack int64)": mpi4pyMessages
  }
  for (const [name, value] of Object.entries(payloads)) {
    it(name, () => {
      const ours = encode(value).length
      const theirs = msgpackEncode(value, { useBigInt64: true }).length
      expect(ours).toBeLessThanOrEqual(theirs)
    })
  }

  it("10,000 records take under three quarters of MessagePack's bytes (shapes and short decimals)", () => {
    const value = records(10_000)
    expect(encode(value).length).toBeLessThan(msgpackEncode(value).length * 0.75)
  })
})
