import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import fc from "fast-check"
import { CodecIds, type Frames } from "../../codecs/Codec.ts"
import { DecodeError, EncodeError } from "../../codecs/errors.ts"
import { Pickle, pickle, registerClass } from "../../codecs/index.ts"
import * as F from "../../codecs/pickle/format.ts"
import { getById, getByName } from "../../codecs/registry.ts"
import { anyGraph, anyPicklable, GraphNode, graphDifference, header } from "./pickle-support.ts"

class Complex {
  re: number
  im: number
  constructor(re: number, im: number) {
    this.re = re
    this.im = im
  }
  abs(): number {
    return Math.hypot(this.re, this.im)
  }
}
registerClass(Complex, { name: "Complex" })
registerClass(GraphNode, { name: "GraphNode" })

const roundTrip = <T>(value: T, codec = pickle): T => codec.decodeSync(codec.encodeSync(value)) as T

/** Asserts that `value` round-trips to a faithful copy (structure, values, classes and sharing). */
const expectFaithful = (value: unknown, codec = pickle): unknown => {
  const back = roundTrip(value, codec)
  expect(graphDifference(value, back)).toBeUndefined()
  return back
}

const encodeFailure = (value: unknown, codec = pickle): EncodeError => {
  try {
    codec.encodeSync(value)
  } catch (e) {
    expect(e).toBeInstanceOf(EncodeError)
    return e as EncodeError
  }
  throw new Error("expected an EncodeError")
}

const decodeFailure = (frames: Frames, codec = pickle): DecodeError => {
  try {
    codec.decodeSync(frames)
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError)
    return e as DecodeError
  }
  throw new Error("expected a DecodeError")
}

const frames = (h: Uint8Array, buffers: Array<Uint8Array> = []): Frames => ({ header: h, buffers })

describe("pickle: the codec", () => {
  it("is registered under the name pickle and id 1", () => {
    expect(pickle.name).toBe("pickle")
    expect(pickle.id).toBe(CodecIds.pickle)
    expect(getByName("pickle")).toBe(pickle)
    expect(getById(CodecIds.pickle)).toBe(pickle)
  })

  it.effect("encode and decode are Effects that fail with typed errors", () =>
    Effect.gen(function* () {
      const f = yield* pickle.encode({ a: [1, 2n, new Date(0)] })
      expect(graphDifference({ a: [1, 2n, new Date(0)] }, yield* pickle.decode(f))).toBeUndefined()
      const bad = yield* Effect.exit(pickle.encode({ f: () => 1 }))
      expect(Exit.isFailure(bad)).toBe(true)
      const flipped = yield* Effect.flip(pickle.decode(frames(Uint8Array.of(99))))
      expect(flipped).toBeInstanceOf(DecodeError)
    }))
})

describe("pickle: primitives round-trip exactly", () => {
  it("undefined, null, booleans, NaN, -0, ±Infinity and numbers of every width", () => {
    const values = [undefined, null, true, false, NaN, -0, 0, Infinity, -Infinity, 1, 63, 64, 127, 128, -1, -32, -33, -128, -129, 32767, 32768,
      -32768, -32769, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 2 ** 53, -(2 ** 53), 0.1, -2.17, 1.62, Number.MIN_VALUE, Number.MAX_VALUE, Number.EPSILON]
    for (const v of values) expect(Object.is(roundTrip(v), v)).toBe(true)
    expect(Object.is(roundTrip([-0])[0], -0)).toBe(true)
  })

  it("many floats in one message (read through a view once there are more than a few), also from a header at an odd offset of a larger buffer", () => {
    const floats = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? -1 : 1) * (i + 0.5) * 1.1e-3 * 10 ** (i % 9))
    floats.push(NaN, -0, Number.MIN_VALUE, -Number.MAX_VALUE)
    const value = { head: 0.25, floats, tail: [3.75, -8.5e300] }
    const frames = pickle.encodeSync(value)
    const larger = new Uint8Array(frames.header.length + 7)
    larger.set(frames.header, 3)
    for (const header of [frames.header, larger.subarray(3, 3 + frames.header.length)]) {
      const back = pickle.decodeSync({ ...frames, header }) as typeof value
      expect(back.head).toBe(0.25)
      expect(back.floats.length).toBe(floats.length)
      for (let i = 0; i < floats.length; i++) expect(Object.is(back.floats[i], floats[i])).toBe(true)
      expect(back.tail).toEqual([3.75, -8.5e300])
    }
  })

  it("bigints of any size and sign", () => {
    const values = [0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 63n, -(2n ** 63n) - 1n, 2n ** 64n, 2n ** 1000n + 12345n, -(3n ** 2000n)]
    for (const v of values) expect(roundTrip(v)).toBe(v)
    fc.assert(fc.property(fc.bigInt({ min: -(2n ** 300n), max: 2n ** 300n }), (v) => roundTrip(v) === v), { numRuns: 500 })
  })

  it("strings with lone surrogates, non-BMP characters, and of every length", () => {
    const values = ["", "a", "abc", "\ud800", "a\udc00b", "😀", "é", "x".repeat(31), "x".repeat(32), "é".repeat(40), "\ud83d".repeat(50), "mpi4py".repeat(1000)]
    for (const v of values) expect(roundTrip(v)).toBe(v)
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 80 }), (s) => roundTrip(s) === s), { numRuns: 1000 })
  })

  it("boxed primitives stay boxed", () => {
    expectFaithful([new Number(-0), new String("s😀"), new Boolean(false), Object(10n)])
  })
})

describe("pickle: built-in objects round-trip exactly", () => {
  it("Date, invalid dates included", () => {
    for (const d of [new Date(0), new Date(-8.64e15), new Date(8.64e15), new Date(NaN), new Date()]) {
      const back = roundTrip(d)
      expect(back).toBeInstanceOf(Date)
      expect(Object.is(back.getTime(), d.getTime())).toBe(true)
    }
  })

  it("RegExp keeps its source and flags", () => {
    for (const r of [/a+b/gi, /^\d{3}$/m, /\u{1F600}/u, /(?<y>\d)/dgimsuy, /[\p{L}--[a-z]]/v, new RegExp("/", "")]) {
      const back = roundTrip(r)
      expect(back).toBeInstanceOf(RegExp)
      expect([back.source, back.flags]).toEqual([r.source, r.flags])
    }
  })

  it("Error and its built-in subclasses come back as that class with message, cause, stack and own properties", () => {
    const classes = [Error, TypeError, RangeError, SyntaxError, EvalError, ReferenceError, URIError]
    for (const E of classes) {
      const e = new E("went wrong", { cause: { code: 7, inner: new RangeError("deeper") } })
      const back = roundTrip(e)
      expect(back).toBeInstanceOf(E)
      expect(Object.getPrototypeOf(back)).toBe(E.prototype)
      expect(back.name).toBe(E.name)
      expect(back.message).toBe("went wrong")
      expect(back.stack).toBe(e.stack)
      expect(graphDifference(e.cause, back.cause)).toBeUndefined()
      expect(Object.keys(back)).toEqual([])
    }
    const withCode = Object.assign(new Error("no file"), { code: "ENOENT", errno: -2 })
    const back = roundTrip(withCode)
    expect([back.code, back.errno]).toEqual(["ENOENT", -2])
    const agg = roundTrip(new AggregateError([new TypeError("a"), 42], "many"))
    expect(agg).toBeInstanceOf(AggregateError)
    expect(agg.errors[0]).toBeInstanceOf(TypeError)
    expect(agg.errors[1]).toBe(42)
    const noMessage = roundTrip(new Error())
    expect(Object.hasOwn(noMessage, "message")).toBe(false)
    expect(Object.hasOwn(roundTrip(new Error("x")), "cause")).toBe(false)
  })

  it("an Error whose cause is itself decodes to the same cycle", () => {
    const e = new Error("loop")
    ;(e as { cause?: unknown }).cause = e
    const back = roundTrip(e)
    expect(back.cause).toBe(back)
  })

  it("Map and Set keep insertion order and object keys", () => {
    const k1 = { id: 1 }
    const k2 = [2]
    const m = new Map<unknown, unknown>([[k1, "one"], ["b", k2], [NaN, -0], [k2, new Set([k1, 3, "x"])]])
    const back = expectFaithful(m) as Map<unknown, unknown>
    expect([...back.keys()].map((k) => typeof k)).toEqual(["object", "string", "number", "object"])
    const s = new Set<unknown>([3, 1, 2, "a", k1, NaN])
    expect([...(expectFaithful(s) as Set<unknown>)].slice(0, 4)).toEqual([3, 1, 2, "a"])
  })

  it("arrays keep holes as holes and their length, however sparse", () => {
    // eslint-disable-next-line no-sparse-arrays
    const holey = [1, , 3, , , undefined, , ]
    const back = expectFaithful(holey) as Array<unknown>
    expect(back.length).toBe(7)
    expect(1 in back).toBe(false)
    expect(5 in back).toBe(true)
    const sparse: Array<unknown> = []
    sparse[2 ** 32 - 2] = "last"
    sparse[5] = "five"
    // Holes are counted, never looped over: a loop over 2^32 slots would run past the test's timeout.
    const s = expectFaithful(sparse) as Array<unknown>
    expect(s.length).toBe(2 ** 32 - 1)
    expect(Object.keys(s)).toEqual(["5", String(2 ** 32 - 2)])
    expect(pickle.encodeSync(sparse).header.length).toBeLessThan(40)
  })

  it("plain objects carry own enumerable string keys; symbol keys and non-enumerable ones are left out", () => {
    const o: Record<string | symbol, unknown> = { b: 1, a: { c: [true] }, "0": "index-like", "odd key": null }
    o[Symbol("s")] = "ignored"
    Object.defineProperty(o, "hidden", { value: 1, enumerable: false })
    const back = roundTrip(o)
    expect(Object.keys(back)).toEqual(Object.keys(o))
    expect(Object.getOwnPropertySymbols(back)).toEqual([])
    expect(Object.hasOwn(back, "hidden")).toBe(false)
    expect(graphDifference({ ...o }, back)).toBeUndefined()
  })

  it("objects with a null prototype keep a null prototype", () => {
    const o = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1, __proto__x: 2 })
    o["__proto__"] = "just a key here"
    const back = roundTrip(o)
    expect(Object.getPrototypeOf(back)).toBe(null)
    expect(back["__proto__"]).toBe("just a key here")
    expect(Object.keys(back)).toEqual(["a", "__proto__x", "__proto__"])
  })

  it("objects with more keys than a shape holds travel as dictionaries", () => {
    const wide = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`key${i}`, i]))
    expectFaithful([wide, wide, { ...wide }])
  })

  it("repeated shapes, many shapes and shapes over messages round-trip", () => {
    const records = Array.from({ length: 300 }, (_, i) => ({ id: i, name: `n${i}`, [`k${i % 40}`]: i % 3 === 0 ? null : [i] }))
    expectFaithful(records)
    expectFaithful(records.slice(100))
    expectFaithful({ a: { a: { a: {} } }, b: [{ x: 1 }, { x: 2, y: 3 }, { y: 4, x: 5 }] })
  })

  it("objects of a shape met often enough (built by the shape's compiled constructor) come back the same, in one message and over many", () => {
    const codec = Pickle.make()
    const odd = JSON.parse('{"__proto__": 1, "b": 2}') as Record<string, unknown>
    const make = (i: number) => ({ 10: i, 2: `two${i}`, "a-b": [i, { i }], constructor: i % 2 === 0 ? null : "c", toString: i, "": undefined })
    const many = Array.from({ length: 200 }, (_, i) => make(i))
    const shared = make(-1)
    const message = { many, shared, again: [shared, shared], odd: Array.from({ length: 100 }, () => JSON.parse(JSON.stringify(odd))) }
    for (let round = 0; round < 3; round++) {
      const back = roundTrip(message, codec)
      expect(back).toEqual(message)
      expect(back.many.map((o) => Object.keys(o))).toEqual(many.map((o) => Object.keys(o)))
      expect(back.again[0]).toBe(back.shared)
      expect(back.again[1]).toBe(back.shared)
      for (const o of back.odd) {
        expect(Object.getPrototypeOf(o)).toBe(Object.prototype)
        expect(Object.keys(o)).toEqual(["__proto__", "b"])
      }
    }
    // One object per message, many messages: the constructor is compiled between messages.
    for (let i = 0; i < 150; i++) expect(roundTrip({ x: i, y: [i] }, codec)).toEqual({ x: i, y: [i] })
    // Shape 0 of each message defined with other keys than the last message's (a decoder compares the definition in place).
    const shapes = [{ x: 1 }, { xy: 2 }, { x: 3, y: 4 }, { x: 5 }, { y: 6, x: 7 }, {}, { x: 8 }]
    for (const o of [...shapes, ...shapes]) expect(Object.entries(roundTrip(o, codec))).toEqual(Object.entries(o))
  })
})

describe("pickle: binary data", () => {
  const kinds = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array,
    BigInt64Array, BigUint64Array, ...(typeof Float16Array === "function" ? [Float16Array] : [])] as const

  it("every typed array kind round-trips as its own class", () => {
    for (const T of kinds) {
      const a = new T(9)
      if (a instanceof BigInt64Array || a instanceof BigUint64Array) a.fill(-5n)
      else (a as Float64Array).fill(-1.5)
      const back = expectFaithful(a) as typeof a
      expect(back.constructor).toBe(T)
      expect(back.length).toBe(9)
    }
    expect(roundTrip(new Float64Array([NaN, -0]))[1]).toBe(-0)
  })

  it("ArrayBuffer and DataView round-trip", () => {
    const ab = Uint8Array.of(1, 2, 3, 4, 5).buffer
    expectFaithful(ab)
    const dv = new DataView(new ArrayBuffer(16), 4, 8)
    dv.setFloat64(0, Math.PI)
    const back = roundTrip(dv)
    expect(back).toBeInstanceOf(DataView)
    expect(back.getFloat64(0)).toBe(Math.PI)
  })

  it("views that share an ArrayBuffer still share one after decoding, with byteOffset and length kept", () => {
    const buf = new ArrayBuffer(64)
    const whole = new Float64Array(buf)
    const part = new Int32Array(buf, 8, 4)
    const bytes = new Uint8Array(buf, 3, 10)
    const [w, p, b, ab] = roundTrip([whole, part, bytes, buf])
    expect(p.buffer).toBe(w.buffer)
    expect(b.buffer).toBe(w.buffer)
    expect(ab).toBe(w.buffer)
    expect([p.byteOffset, p.length, b.byteOffset, b.length]).toEqual([8, 4, 3, 10])
    p[0] = 99
    expect(new Int32Array(w.buffer, 8, 1)[0]).toBe(99)
  })

  it("a partial view met before its buffer travels alone: its own bytes only, at offset 0", () => {
    const big = new Float64Array(100_000).map((_, i) => i)
    const slice = big.subarray(10, 13)
    const f = pickle.encodeSync(slice)
    expect(f.header.length).toBeLessThan(40)
    const back = pickle.decodeSync(f) as Float64Array
    expect([...back]).toEqual([10, 11, 12])
    expect([back.byteOffset, back.buffer.byteLength]).toEqual([0, 24])
  })

  it("a Node Buffer travels as a Uint8Array of its bytes", () => {
    const back = roundTrip(Buffer.from("héllo"))
    expect(back.constructor).toBe(Uint8Array)
    expect(new TextDecoder().decode(back)).toBe("héllo")
  })

  it("a 1 MiB Float64Array travels out of band as a view of its own memory, and decodes to a view of the received one", () => {
    const original = new Float64Array(131_072).map((_, i) => i / 3)
    const f = pickle.encodeSync({ data: original })
    expect(f.buffers.length).toBe(1)
    expect(f.buffers[0]!.buffer).toBe(original.buffer)
    expect(f.buffers[0]!.byteLength).toBe(1 << 20)
    expect(f.header.length).toBeLessThan(64)
    const back = (pickle.decodeSync(f) as { data: Float64Array }).data
    expect(back.buffer).toBe(original.buffer)

    // A received frame at an aligned place inside a larger buffer: still a view, no copy.
    const arena = new Uint8Array((1 << 20) + 16)
    arena.set(f.buffers[0]!, 8)
    const aligned = (pickle.decodeSync({ header: f.header, buffers: [arena.subarray(8, 8 + (1 << 20))] }) as { data: Float64Array }).data
    expect(aligned.buffer).toBe(arena.buffer)
    expect(aligned.byteOffset).toBe(8)
    expect(aligned[131_071]).toBe(131_071 / 3)

    // At an unaligned place: a copy, with the same values.
    const odd = new Uint8Array((1 << 20) + 1)
    odd.set(f.buffers[0]!, 1)
    const copied = (pickle.decodeSync({ header: f.header, buffers: [odd.subarray(1)] }) as { data: Float64Array }).data
    expect(copied.buffer).not.toBe(odd.buffer)
    expect(graphDifference(original, copied)).toBeUndefined()
  })

  it("the out-of-band threshold is configurable; below it bytes are inline", () => {
    const small = new Uint8Array(1000)
    expect(pickle.encodeSync(small).buffers.length).toBe(0)
    const eager = Pickle.make({ outOfBandThreshold: 1000 })
    const f = eager.encodeSync({ a: small, b: new Uint8Array(999), c: small.subarray(0, 1000), d: new Uint16Array(2000).subarray(1, 1001) })
    expect(f.buffers.length).toBe(2)
    expect(f.buffers[1]!.byteOffset).toBe(2)
    const back = eager.decodeSync(f) as Record<string, Uint8Array>
    expect(back.c!.buffer).toBe(back.a!.buffer)
    expect(back.d).toBeInstanceOf(Uint16Array)
    expect(back.d!.length).toBe(1000)
    const never = Pickle.make({ outOfBandThreshold: Infinity })
    expect(never.encodeSync(new Float64Array(100_000)).buffers.length).toBe(0)
  })
})

describe("pickle: shared references and cycles", () => {
  it("a value referenced twice decodes to one object", () => {
    const shared = { n: 1 }
    const back = roundTrip({ x: shared, y: shared, z: [shared], m: new Map([[shared, shared]]) })
    expect(back.x).toBe(back.y)
    expect(back.z[0]).toBe(back.x)
    expect([...back.m][0]).toEqual([back.x, back.x])
  })

  it("cycles through objects, arrays, Maps, Sets and class instances decode to the same cycles", () => {
    const a: Record<string, unknown> = { name: "a" }
    a.self = a
    const arr: Array<unknown> = [1]
    arr.push(arr)
    const m = new Map<unknown, unknown>()
    m.set(m, m)
    const s = new Set<unknown>()
    s.add(s)
    const node = new GraphNode()
    node.next = { back: node }
    const back = roundTrip({ a, arr, m, s, node })
    expect(back.a.self).toBe(back.a)
    expect(back.arr[1]).toBe(back.arr)
    expect(back.m.get(back.m)).toBe(back.m)
    expect(back.s.has(back.s)).toBe(true)
    expect(back.node).toBeInstanceOf(GraphNode)
    expect((back.node.next as { back: unknown }).back).toBe(back.node)
  })

  it("a graph of 1,000 nodes with shared edges keeps every identity", () => {
    const nodes = Array.from({ length: 1000 }, (_, i) => ({ id: i, edges: [] as Array<unknown>, parent: null as unknown }))
    nodes.forEach((n, i) => {
      n.edges.push(nodes[(i * 7 + 1) % 1000], nodes[(i * 13 + 5) % 1000])
      n.parent = nodes[Math.floor(i / 2)]
    })
    const back = roundTrip(nodes)
    back.forEach((n, i) => {
      expect(n.edges[0]).toBe(back[(i * 7 + 1) % 1000])
      expect(n.parent).toBe(back[Math.floor(i / 2)])
    })
  })

  it("property: arbitrary graphs with shared references and cycles round-trip with the same sharing", () => {
    fc.assert(fc.property(anyGraph, (g) => graphDifference(g, roundTrip(g)) === undefined), { numRuns: 400 })
  })
})

describe("pickle: class instances through the registry", () => {
  it("mpi4py's seed example: a registered Complex inside a dict", () => {
    const data = { key1: [7, 2.72, new Complex(2, 3)], key2: ["abc", "xyz"] }
    const back = expectFaithful(data) as typeof data
    const c = back.key1[2] as Complex
    expect(c).toBeInstanceOf(Complex)
    expect(c.abs()).toBe(Math.hypot(2, 3))
  })

  it("the default transfers own enumerable properties and never calls the constructor", () => {
    let calls = 0
    class Counted {
      x = 1
      constructor() {
        calls++
      }
    }
    const codec = Pickle.make()
    codec.registerClass(Counted, { name: "Counted" })
    const c = new Counted()
    c.x = 5
    calls = 0
    const back = roundTrip(c, codec)
    expect(calls).toBe(0)
    expect(back).toBeInstanceOf(Counted)
    expect(back.x).toBe(5)
  })

  it("reduce and construct carry a custom state", () => {
    class Secret {
      #value: number
      constructor(value: number) {
        this.#value = value
      }
      get value() {
        return this.#value
      }
    }
    const codec = Pickle.make()
    codec.registerClass(Secret, { name: "Secret", reduce: (s) => [s.value], construct: ([v]: [number]) => new Secret(v) })
    const s = new Secret(42)
    const back = roundTrip({ a: s, b: s }, codec)
    expect(back.a).toBeInstanceOf(Secret)
    expect(back.a.value).toBe(42)
    expect(back.b).toBe(back.a)
  })

  it("a class registered again under another name: a message naming the old name is refused, as before the first decode", () => {
    class Point {
      readonly x: number
      constructor(x: number) {
        this.x = x
      }
    }
    const codec = Pickle.make()
    codec.registerClass(Point, { name: "Point1" })
    const old = codec.encodeSync([new Point(1), new Point(2)])
    for (let i = 0; i < 3; i++) expect(codec.decodeSync(old)).toEqual([new Point(1), new Point(2)])
    codec.registerClass(Point, { name: "Point2" })
    expect(decodeFailure(old, codec).message).toMatch(/unknown class "Point1"/)
    expect(roundTrip(new Point(3), codec)).toEqual(new Point(3))
  })

  it("an unregistered class is an EncodeError naming the path and the class", () => {
    class Unknown {}
    const e = encodeFailure({ list: [1, { deep: new Unknown() }] })
    expect(e.path).toBe("$.list[1].deep")
    expect(e.message).toContain("Unknown")
    expect(e.message).toContain("registerClass")
  })

  it("an unknown class name at the receiver is a DecodeError, and registries of Pickle.make are isolated", () => {
    const sender = Pickle.make()
    const receiver = Pickle.make()
    class Point {
      x = 1
    }
    sender.registerClass(Point, { name: "Point" })
    const f = sender.encodeSync([new Point()])
    const e = decodeFailure(f, receiver)
    expect(e.message).toContain('"Point"')
    expect(() => receiver.encodeSync(new Point())).toThrow(EncodeError)
    receiver.registerClass(Point, { name: "Point" })
    expect(roundTrip(new Point(), receiver)).toBeInstanceOf(Point)
  })

  it("a cycle through a reduced state is an EncodeError, not a broken graph", () => {
    class Box {
      inner: unknown = null
    }
    const codec = Pickle.make()
    codec.registerClass(Box, { name: "Box", reduce: (b) => ({ inner: b.inner }), construct: (s: { inner: unknown }) => Object.assign(new Box(), s) })
    const b = new Box()
    b.inner = [b]
    expect(encodeFailure(b, codec).path).toBe("$(state).inner[0]")
  })

  it("a reduce or construct that itself pickles (re-entrant use) works", () => {
    class Wrapped {
      inner: unknown = null
    }
    const codec = Pickle.make()
    codec.registerClass(Wrapped, {
      name: "Wrapped",
      reduce: (w) => codec.encodeSync(w.inner).header.slice(),
      construct: (bytes: Uint8Array) => Object.assign(new Wrapped(), { inner: codec.decodeSync({ header: bytes, buffers: [] }) })
    })
    const back = roundTrip({ a: Object.assign(new Wrapped(), { inner: { deep: [1, 2n, "three"] } }) }, codec)
    expect(back.a).toBeInstanceOf(Wrapped)
    expect(back.a.inner).toEqual({ deep: [1, 2n, "three"] })
  })

  it("registration rejects built-ins and a name taken by another class", () => {
    const codec = Pickle.make()
    expect(() => codec.registerClass(Map, { name: "Map" })).toThrow(TypeError)
    class A {}
    class B {}
    codec.registerClass(A, { name: "Same" })
    expect(() => codec.registerClass(B, { name: "Same" })).toThrow(TypeError)
    codec.registerClass(A, { name: "Renamed" })
    codec.registerClass(B, { name: "Same" })
  })

  it("a reduce or construct that throws becomes an EncodeError / DecodeError", () => {
    class Fragile {
      v = 1
    }
    const codec = Pickle.make()
    codec.registerClass(Fragile, { name: "Fragile", reduce: () => { throw new Error("no") }, construct: () => new Fragile() })
    expect(encodeFailure({ f: new Fragile() }, codec).message).toContain("no")
    const other = Pickle.make()
    other.registerClass(Fragile, { name: "Fragile", reduce: (f) => f.v, construct: () => { throw new Error("nope") } })
    expect(decodeFailure(other.encodeSync(new Fragile()), other).message).toContain("nope")
  })
})

describe("pickle: mpi4py's test messages", () => {
  const messages = [null, true, false, -7, 0, 7, -(2n ** 63n) + 1n, 2n ** 63n - 1n, -2.17, 0.0, 1.62, "mpi4py"]
  it("as a list, nested, as a Set and in an object", () => {
    expectFaithful(messages)
    expectFaithful([messages, [messages, [messages]]])
    expectFaithful(new Set(messages))
    expectFaithful(Object.fromEntries(messages.map((m, i) => [`k${i}`, m])))
    for (const m of messages) expect(Object.is(roundTrip(m), m)).toBe(true)
  })
})

describe("pickle: what cannot be pickled", () => {
  it("functions and symbols are EncodeErrors naming their path", () => {
    expect(encodeFailure({ a: { b: [0, 1, 2, () => 0] } }).path).toBe("$.a.b[3]")
    expect(encodeFailure([Symbol("s")]).path).toBe("$[0]")
    expect(encodeFailure(new Map<unknown, unknown>([[1, 2], ["k", Symbol.iterator]])).path).toBe("${1}.value")
    expect(encodeFailure(new Map([[function named() {}, 1]])).path).toBe("${0}.key")
    expect(encodeFailure(new Set([1, 2, Math.max])).path).toBe("${2}")
    expect(encodeFailure({ "odd key": [class {}] }).path).toBe('$["odd key"][0]')
    expect(encodeFailure(new Error("e", { cause: () => 1 })).path).toBe("$.cause")
    expect(encodeFailure(Symbol("top")).path).toBe("$")
  })

  it("a SharedArrayBuffer, a WeakMap or a Promise is an EncodeError", () => {
    expect(encodeFailure({ s: new SharedArrayBuffer(8) }).message).toContain("SharedArrayBuffer")
    expect(encodeFailure({ w: new WeakMap() }).message).toContain("WeakMap")
    expect(encodeFailure(Promise.resolve(1)).message).toContain("Promise")
  })

  it("a failed encode leaves the codec usable and the next message intact", () => {
    encodeFailure({ a: 1, b: [1, 2, () => 3] })
    expectFaithful({ a: 1, b: [1, 2, 3] })
  })
})

describe("pickle: deep nesting never crashes", () => {
  /** Follows `step` from `v` while it yields an object; returns how many steps it took (no recursion). */
  const depthOf = (v: unknown, step: (o: any) => unknown): number => {
    let n = 0
    while (typeof v === "object" && v !== null) {
      v = step(v)
      n++
    }
    return n
  }

  it("100,000 levels of arrays, objects and Maps round-trip: the walk never uses the call stack", () => {
    let deepArray: unknown = 0
    let deepObject: unknown = 0
    let deepMap: unknown = 0
    for (let i = 0; i < 100_000; i++) {
      deepArray = [deepArray]
      deepObject = { next: deepObject }
      deepMap = new Map([[1, deepMap]])
    }
    expect(depthOf(roundTrip(deepArray), (a) => a[0])).toBe(100_000)
    expect(depthOf(roundTrip(deepObject), (o) => o.next)).toBe(100_000)
    expect(depthOf(roundTrip(deepMap), (m) => m.get(1))).toBe(100_000)
  })

  it("nesting deeper than maxDepth is an EncodeError naming the path", () => {
    let v: unknown = "leaf"
    for (let i = 0; i < 1000; i++) v = i % 2 ? [v] : { v }
    expectFaithful(v)
    const e = encodeFailure(v, Pickle.make({ maxDepth: 100 }))
    expect(e.message).toMatch(/deeper than 100/)
    expect(e.path).toMatch(/^\$\[0\]\.v\[0\]\.v.*…\(52 more\)….*\[0\]\.v$/)
    let deeper: unknown = 0
    for (let i = 0; i < 100_001; i++) deeper = [deeper]
    expect(encodeFailure(deeper).message).toMatch(/nesting deeper than 100000/)
  })

  it("maxDepth counts the containers that hold something, encoding and decoding alike (an empty one at the limit is fine)", () => {
    const shallow = Pickle.make({ maxDepth: 2 })
    const fits = [[[[]]], { a: { b: {} } }, [{ a: [] }], [[], [{}]]]
    const over = [[[[1]]], { a: { b: { c: 1 } } }, [{ a: [1] }], [[], [{ x: [0] }]]]
    for (const v of fits) {
      expect(shallow.decodeSync(pickle.encodeSync(v))).toEqual(v)
      expect(roundTrip(v, shallow)).toEqual(v)
    }
    for (const v of over) {
      expect(decodeFailure(pickle.encodeSync(v), shallow).message).toMatch(/deeper than 2/)
      expect(encodeFailure(v, shallow).message).toMatch(/deeper than 2/)
    }
    // Repeated shapes: the compiled constructors count levels the same way.
    for (let i = 0; i < 100; i++) expect(shallow.decodeSync(pickle.encodeSync({ a: { b: {} } }))).toEqual({ a: { b: {} } })
    expect(decodeFailure(pickle.encodeSync({ a: { b: { c: 1 } } }), shallow).message).toMatch(/deeper than 2/)
  })

  it("decoding 100,000 crafted levels gives a value; beyond maxDepth a DecodeError", () => {
    const arrays = header(...new Array(100_000).fill(F.FIXARRAY + 1), 0)
    expect(depthOf(pickle.decodeSync(frames(arrays)), (a) => a[0])).toBe(100_000)
    const objects = header(F.OBJECT, { u: 0 }, { u: 1 }, { s: "a" }, ...new Array(99_999).fill(F.FIXSHAPE), 0)
    expect(depthOf(pickle.decodeSync(frames(objects)), (o) => o.a)).toBe(100_000)
    expect(decodeFailure(frames(arrays), Pickle.make({ maxDepth: 1000 })).message).toMatch(/deeper than 1000/)
    const tooDeep = header(...new Array(100_001).fill(F.FIXARRAY + 1), 0)
    expect(decodeFailure(frames(tooDeep)).message).toMatch(/nesting/)
  })
})

describe("pickle: decoding never lets a key reach a prototype", () => {
  const isClean = () => {
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.prototype).not.toHaveProperty("polluted")
  }

  it("a crafted shape with the key __proto__ makes an own property", () => {
    const h = header(F.OBJECT, { u: 0 }, { u: 2 }, { s: "__proto__" }, { s: "a" }, F.OBJECT, { u: 1 }, { u: 1 }, { s: "polluted" }, F.TRUE, 1)
    const back = pickle.decodeSync(frames(h)) as Record<string, unknown>
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype)
    expect(Object.keys(back)).toEqual(["__proto__", "a"])
    expect(Object.getOwnPropertyDescriptor(back, "__proto__")!.value).toEqual({ polluted: true })
    isClean()
  })

  it("a crafted dictionary or class instance with the key __proto__ makes an own property", () => {
    const dict = header(F.OBJECT_DICT, { u: 1 }, { s: "__proto__" }, F.OBJECT_DICT, { u: 1 }, { s: "polluted" }, F.TRUE)
    const d = pickle.decodeSync(frames(dict)) as Record<string, unknown>
    expect(Object.getPrototypeOf(d)).toBe(Object.prototype)
    expect(Object.hasOwn(d, "__proto__")).toBe(true)
    const inst = header(F.INSTANCE, { u: 0 }, { s: "Complex" }, { u: 0 }, { u: 2 }, { s: "__proto__" }, { s: "re" }, F.OBJECT_DICT, { u: 1 },
      { s: "polluted" }, F.TRUE, 1)
    const c = pickle.decodeSync(frames(inst)) as Complex
    expect(Object.getPrototypeOf(c)).toBe(Complex.prototype)
    expect(Object.hasOwn(c, "__proto__")).toBe(true)
    isClean()
  })

  it("an object that really has an own __proto__ key round-trips it as an own key", () => {
    const o = JSON.parse('{"__proto__": {"polluted": 1}, "b": 2}') as Record<string, unknown>
    const back = roundTrip(o)
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype)
    expect(Object.keys(back)).toEqual(["__proto__", "b"])
    isClean()
  })

  it("a key that is a setter on a class prototype does not run the setter", () => {
    let ran = false
    class Guarded {
      set trap(_: unknown) {
        ran = true
      }
    }
    const codec = Pickle.make()
    codec.registerClass(Guarded, { name: "Guarded" })
    const h = header(F.INSTANCE, { u: 0 }, { s: "Guarded" }, { u: 0 }, { u: 1 }, { s: "trap" }, 5)
    const g = codec.decodeSync(frames(h)) as Record<string, unknown>
    expect(ran).toBe(false)
    expect(Object.getOwnPropertyDescriptor(g, "trap")!.value).toBe(5)
  })
})

describe("pickle: malformed input is a DecodeError", () => {
  const cases: Record<string, Frames> = {
    "an empty header": frames(new Uint8Array(0)),
    "an unknown version": frames(Uint8Array.of(7, 0)),
    "trailing bytes": frames(header(1, 2)),
    "a string length of 2^40": frames(header(F.STRING, { u: 2 ** 40 })),
    "an array length of 2^40": frames(header(F.ARRAY, { u: 2 ** 40 })),
    "a Map count larger than the bytes left": frames(header(F.MAP, { u: 1000 }, 1, 2)),
    "a back-reference out of range": frames(header(F.FIXARRAY + 2, F.FIXARRAY, F.REF, { u: 500 })),
    "a back-reference to an unshared object": frames(header(F.FIXARRAY + 2, F.FIXARRAY, F.REF, { u: 1 })),
    "a shape never defined": frames(header(F.FIXSHAPE + 3)),
    "an out-of-band buffer index out of range": frames(header(F.TYPED_OOB, 8, { u: 3 }), [new Uint8Array(8)]),
    "an out-of-band buffer used twice": frames(header(F.FIXARRAY + 2, F.TYPED_OOB, 1, { u: 0 }, F.TYPED_OOB, 1, { u: 0 }), [new Uint8Array(8)]),
    "a typed array length not matching its buffer": frames(header(F.VIEW, 8, F.ARRAYBUFFER, { u: 16 }, new Uint8Array(16), { u: 0 }, { u: 3 })),
    "an out-of-band buffer not a whole number of elements": frames(header(F.TYPED_OOB, 8, { u: 0 }), [new Uint8Array(12)]),
    "a misaligned view offset": frames(header(F.VIEW, 8, F.ARRAYBUFFER, { u: 16 }, new Uint8Array(16), { u: 4 }, { u: 1 })),
    "an unknown typed array kind": frames(header(F.TYPED, 99, { u: 0 })),
    "an unknown tag": frames(header(0xc0)),
    "a hole outside an array": frames(header(F.HOLE)),
    "more holes than the array's length": frames(header(F.FIXARRAY + 2, F.HOLES, { u: 5 })),
    "an invalid RegExp": frames(header(F.REGEXP, { s: "(" }, { s: "" })),
    "bad RegExp flags": frames(header(F.REGEXP, { s: "a" }, { s: "gg" })),
    "a malformed bigint": frames(header(F.BIGINT_POS, { s: "xyz" })),
    "an unknown error kind": frames(header(F.ERROR, 40, 0, { u: 0 })),
    "a boxed object": frames(header(F.BOXED, F.FIXARRAY)),
    "a truncated float": frames(header(F.FLOAT64, 1, 2)),
    "a varint longer than 53 bits": frames(header(F.STRING, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)),
    "a header that is not a Uint8Array": { header: [1, 2] as unknown as Uint8Array, buffers: [] },
    "buffers that are not Uint8Arrays": frames(header(F.TYPED_OOB, 1, { u: 0 }), ["x" as unknown as Uint8Array])
  }
  for (const [name, f] of Object.entries(cases)) {
    it(name, () => {
      decodeFailure(f)
    })
  }

  it("a back-reference to an object still being built (a reduced state) is a DecodeError", () => {
    const codec = Pickle.make()
    class R {
      v = 0
    }
    codec.registerClass(R, { name: "R", reduce: (r) => r.v, construct: (v: number) => Object.assign(new R(), { v }) })
    const h = header(F.INSTANCE_REDUCED + F.SHARED, { u: 0 }, { s: "R" }, F.REF, { u: 0 })
    expect(decodeFailure(frames(h), codec).message).toMatch(/still being built/)
  })
})

describe("pickle: property round-trip over the whole domain", () => {
  it("fc.anything with maps, sets, bigints, dates, typed arrays, sparse arrays, boxed and null-prototype objects", () => {
    fc.assert(
      fc.property(anyPicklable, (v) => {
        const d = graphDifference(v, roundTrip(v))
        if (d !== undefined) throw new Error(d)
      }),
      { numRuns: 1500 }
    )
  })

  it("the same values through a codec that sends every binary value out of band", () => {
    const oob = Pickle.make({ outOfBandThreshold: 0 })
    fc.assert(fc.property(anyPicklable, (v) => graphDifference(v, roundTrip(v, oob)) === undefined), { numRuns: 500 })
  })
})
