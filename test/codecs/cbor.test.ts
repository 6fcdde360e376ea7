import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { CodecIds } from "../../codecs/Codec.ts"
import type { Frames } from "../../codecs/Codec.ts"
import { cbor, MAX_DEPTH, Tag } from "../../codecs/cbor.ts"
import { DecodeError, EncodeError } from "../../codecs/errors.ts"
import * as Registry from "../../codecs/registry.ts"
import { thrown } from "../support/thrown.ts"

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex")
const frames = (h: string): Frames => ({ header: Uint8Array.from(Buffer.from(h.replace(/\s/g, ""), "hex")), buffers: [] })
const encodeHex = (value: unknown): string => hex(cbor.encodeSync(value).header)
const roundTrip = (value: unknown): unknown => cbor.decodeSync(cbor.encodeSync(value))

const decodeFailure = (h: string | Uint8Array): DecodeError => {
  const e = thrown(() => cbor.decodeSync(typeof h === "string" ? frames(h) : { header: h, buffers: [] }))
  expect(e).toBeInstanceOf(DecodeError)
  return e as DecodeError
}
const encodeFailure = (value: unknown): EncodeError => {
  const e = thrown(() => cbor.encodeSync(value))
  expect(e).toBeInstanceOf(EncodeError)
  return e as EncodeError
}

describe("cbor: the bytes are standard CBOR (RFC 8949), as a peer in another language reads them", () => {
  it("is registered as codec 3, named cbor", () => {
    expect(cbor.id).toBe(CodecIds.cbor)
    expect(Registry.getById(3)).toBe(cbor)
    expect(Registry.getByName("cbor")).toBe(cbor)
  })

  it("writes the RFC 8949 appendix A encodings for plain values", () => {
    expect(encodeHex({ a: 1 })).toBe("a1616101")
    expect(encodeHex({ a: 1, b: [2, 3] })).toBe("a26161016162820203")
    expect(encodeHex([1, [2, 3], [4, 5]])).toBe("8301820203820405")
    expect(encodeHex("IETF")).toBe("6449455446")
    expect(encodeHex("\u00fc")).toBe("62c3bc")
    expect(encodeHex(0)).toBe("00")
    expect(encodeHex(23)).toBe("17")
    expect(encodeHex(24)).toBe("1818")
    expect(encodeHex(1000000)).toBe("1a000f4240")
    expect(encodeHex(-1)).toBe("20")
    expect(encodeHex(-1000)).toBe("3903e7")
    expect(encodeHex(1.1)).toBe("fb3ff199999999999a")
    expect(encodeHex(-4.1)).toBe("fbc010666666666666")
    expect(encodeHex(false)).toBe("f4")
    expect(encodeHex(true)).toBe("f5")
    expect(encodeHex(null)).toBe("f6")
    expect(encodeHex(undefined)).toBe("f7")
    expect(encodeHex(new Uint8Array([1, 2, 3, 4]))).toBe("4401020304") // a plain byte string, no tag
  })

  it("writes bigints as 64-bit integers and, beyond 64 bits, as bignums (tags 2 and 3)", () => {
    expect(encodeHex(2n ** 63n - 1n)).toBe("1b7fffffffffffffff")
    expect(encodeHex(-(2n ** 63n) + 1n)).toBe("3b7ffffffffffffffe")
    expect(encodeHex(18446744073709551615n)).toBe("1bffffffffffffffff")
    expect(encodeHex(18446744073709551616n)).toBe("c249010000000000000000")
    expect(encodeHex(-18446744073709551617n)).toBe("c349010000000000000000")
  })

  it("writes Dates as tag 1 (epoch seconds)", () => {
    expect(encodeHex(new Date(1363896240000))).toBe("c11a514b67b0")
    expect(encodeHex(new Date(1363896240500))).toBe("c1fb41d452d9ec200000")
  })

  it("writes typed arrays as RFC 8746 typed-array tags, little-endian", () => {
    expect(encodeHex(new Float64Array([1.5]))).toBe("d856" + "48" + "000000000000f83f") // tag 86
    expect(encodeHex(new Float32Array([1]))).toBe("d855" + "44" + "0000803f") // tag 85
    expect(encodeHex(new Int16Array([1, -1]))).toBe("d84d" + "44" + "0100ffff") // tag 77
    expect(encodeHex(new Int32Array([2]))).toBe("d84e" + "44" + "02000000") // tag 78
    expect(encodeHex(new BigInt64Array([-1n]))).toBe("d84f" + "48" + "ffffffffffffffff") // tag 79
    expect(encodeHex(new Uint16Array([2]))).toBe("d845" + "42" + "0200") // tag 69
    expect(encodeHex(new Uint32Array([2]))).toBe("d846" + "44" + "02000000") // tag 70
    expect(encodeHex(new BigUint64Array([2n]))).toBe("d847" + "48" + "0200000000000000") // tag 71
    expect(encodeHex(new Int8Array([-1]))).toBe("d848" + "41" + "ff") // tag 72
    expect(encodeHex(new Uint8ClampedArray([255]))).toBe("d844" + "41" + "ff") // tag 68
    if (typeof Float16Array === "function") {
      expect(encodeHex(new Float16Array([1, 2]))).toBe("d854" + "44" + "003c0040") // tag 84
    }
  })

  it("writes Map as tag 259 and Set as tag 258 around a plain map and array", () => {
    expect(encodeHex(new Map([[1, 2]]))).toBe("d90103a10102")
    expect(encodeHex(new Set(["a"]))).toBe("d90102816161")
  })

  it("decodes what other CBOR encoders write (RFC 8949 appendix A)", () => {
    expect(cbor.decodeSync(frames("f97c00"))).toBe(Infinity) // half-precision float
    expect(cbor.decodeSync(frames("f93c00"))).toBe(1)
    expect(cbor.decodeSync(frames("fa47c35000"))).toBe(100000) // single-precision float
    expect(cbor.decodeSync(frames("9f018202039f0405ffff"))).toStrictEqual([1, [2, 3], [4, 5]])
    expect(cbor.decodeSync(frames("bf61610161629f0203ffff"))).toStrictEqual({ a: 1, b: [2, 3] })
    expect(cbor.decodeSync(frames("c074323031332d30332d32315432303a30343a30305a"))).toStrictEqual(new Date("2013-03-21T20:04:00Z"))
    expect(cbor.decodeSync(frames("c11a514b67b0"))).toStrictEqual(new Date(1363896240000))
    expect(cbor.decodeSync(frames("d9d9f7820102"))).toStrictEqual([1, 2]) // self-described CBOR (tag 55799)
    // big-endian typed arrays from other platforms come back in native order
    expect(cbor.decodeSync(frames("d841" + "44" + "00010002"))).toStrictEqual(new Uint16Array([1, 2])) // tag 65
  })

  it("decodes integers to numbers when they fit a safe number, whatever their head, and to bigints beyond", () => {
    expect(cbor.decodeSync(frames("1b000000e8d4a51000"))).toBe(1000000000000) // an 8-byte head
    expect(cbor.decodeSync(frames("1b001fffffffffffff"))).toBe(2 ** 53 - 1)
    expect(cbor.decodeSync(frames("1b0020000000000000"))).toBe(2n ** 53n)
    expect(cbor.decodeSync(frames("3b001ffffffffffffe"))).toBe(-(2 ** 53) + 1)
    expect(cbor.decodeSync(frames("3b001fffffffffffff"))).toBe(-(2n ** 53n))
    expect(cbor.decodeSync(frames("1a000f4240"))).toBe(1000000)
    expect(cbor.decodeSync(frames("3bffffffffffffffff"))).toBe(-18446744073709551616n)
    expect(cbor.decodeSync(frames("c24105"))).toBe(5) // a bignum tag around a small value
    expect(cbor.decodeSync(frames("c249010000000000000000"))).toBe(2n ** 64n)
  })

  it("decodes a map whose keys are not all strings to a Map with the keys' own types, never losing an entry", () => {
    expect(cbor.decodeSync(frames("a201020304"))).toStrictEqual(new Map([[1, 2], [3, 4]]))
    expect(cbor.decodeSync(frames("a2 01 63696e74 6131 63737472"))).toStrictEqual(new Map<unknown, unknown>([[1, "int"], ["1", "str"]])) // Python's {1: "int", "1": "str"}
    expect(cbor.decodeSync(frames("a3 f5 6178 f6 6179 f93e00 617a"))).toStrictEqual(new Map<unknown, unknown>([[true, "x"], [null, "y"], [1.5, "z"]]))
    const bytesKey = cbor.decodeSync(frames("a1 420102 01")) as Map<unknown, unknown>
    expect([...bytesKey]).toStrictEqual([[new Uint8Array([1, 2]), 1]])
    const arrayKey = cbor.decodeSync(frames("a1 8101 02")) as Map<unknown, unknown>
    expect([...arrayKey]).toStrictEqual([[[1], 2]])
    expect(cbor.decodeSync(frames("a1 6161 a1 01 02"))).toStrictEqual({ a: new Map([[1, 2]]) }) // the choice is per map
    expect(cbor.decodeSync(frames("d90103 a1 6161 01"))).toStrictEqual(new Map([["a", 1]])) // tag 259: always a Map
    // string keys first, then another: the order read is kept (an object would put "1" before "b")
    const mixed = cbor.decodeSync(frames("a3 6162 01 6131 02 03 04")) as Map<unknown, unknown>
    expect([...mixed]).toStrictEqual([["b", 1], ["1", 2], [3, 4]])
    const indefinite = cbor.decodeSync(frames("bf 6162 01 f5 02 ff")) as Map<unknown, unknown>
    expect([...indefinite]).toStrictEqual([["b", 1], [true, 2]])
  })

  it("refuses a map with a repeated key instead of keeping one of the two values", () => {
    expect(decodeFailure("a2 6161 01 6161 02").message).toBe('cbor: malformed input at byte 0: the map has the key "a" twice (a decoded map never drops an entry)')
    expect(decodeFailure("81 a2 01 01 f93c00 02").message).toMatch(/at byte 1: the map has the key 1 twice/) // 1 and 1.0 are one JS key
    expect(decodeFailure("a2 6161 f7 6161 01").message).toMatch(/the key "a" twice/) // even when the first value is undefined
    expect(decodeFailure("a3 6161 01 02 03 6161 04").message).toMatch(/the key "a" twice/) // and after the map became a Map
  })

  it("decodes a tag it does not know as a Tag, and encodes a Tag as itself", () => {
    const uri = cbor.decodeSync(frames("d82076687474703a2f2f7777772e6578616d706c652e636f6d"))
    expect(uri).toBeInstanceOf(Tag)
    expect(uri).toMatchObject({ tag: 32, value: "http://www.example.com" })
    expect(encodeHex(new Tag("x", 32))).toBe("d8206178")
  })

  it("hands out headers that later encodes never overwrite (no copy is made)", () => {
    const first = cbor.encodeSync({ keep: "me", n: [1, 2, 3] }).header
    const snapshot = hex(first)
    for (let i = 0; i < 2000; i++) cbor.encodeSync({ i, filler: "x".repeat(i % 300) })
    cbor.encodeSync(new Float64Array(100000))
    expect(hex(first)).toBe(snapshot)
    expect(first.constructor).toBe(Uint8Array) // not a Node Buffer, whose slice() would not copy
  })
})

describe("cbor: what round-trips and what does not", () => {
  it("round-trips null, undefined, booleans, numbers, NaN, ±Infinity, strings, arrays and objects", () => {
    const value = { n: null, u: undefined, t: true, f: false, i: -7, x: 2 ** 53 - 1, y: -(2 ** 40), d: 1.62, nan: NaN, inf: -Infinity, s: "mpi4py é 😀", a: [1, [2, {}]] }
    expect(roundTrip(value)).toStrictEqual(value)
  })

  it("round-trips bigints beyond ±(2^53 - 1) as bigints, smaller ones as numbers, and numbers as numbers", () => {
    expect(Object.is(roundTrip(-0), -0)).toBe(true) // a float, so that its sign stays
    expect(encodeHex(2 ** 40)).toBe("1b0000010000000000") // a safe integer is an integer on the wire
    expect(encodeHex(-(2 ** 40))).toBe("3b000000ffffffffff")
    for (const b of [2n ** 53n, -(2n ** 53n), 2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n - 1n, 2n ** 64n, -(2n ** 64n) - 1n, 7n ** 500n, -(3n ** 900n)]) {
      expect(roundTrip(b)).toBe(b)
    }
    for (const b of [0n, 1n, -1n, 2n ** 53n - 1n, -(2n ** 53n) + 1n]) expect(roundTrip(b)).toBe(Number(b))
    expect(roundTrip(2 ** 40)).toBe(2 ** 40)
  })

  it("decodes a large bignum in linear time (cbor-x's own decoder is quadratic)", () => {
    const big = 2n ** (8n * 200_000n) - 12345n // 200 KB
    const header = new Uint8Array([0xc2, 0x5a, 0x00, 0x03, 0x0d, 0x40, ...Buffer.from(big.toString(16), "hex")])
    expect(cbor.decodeSync({ header, buffers: [] })).toBe(big)
  })

  it("round-trips Map (any keys), Set, Date, Uint8Array and every typed array class", () => {
    const value = {
      m: new Map<unknown, unknown>([[1, "one"], ["k", { v: [1] }], [{ o: 1 }, 2]]),
      s: new Set([1, "a"]),
      d: new Date(Date.UTC(2024, 1, 29, 12, 0, 0, 123)),
      invalid: new Date(NaN),
      b: new Uint8Array([0, 255]),
      arrays: [new Int8Array([-1]), new Uint8ClampedArray([3]), new Int16Array([-300]), new Uint16Array([60000]),
        new Int32Array([-1e9]), new Uint32Array([4e9]), new Float32Array([0.5]), new Float64Array([Math.PI]),
        new BigInt64Array([-(2n ** 62n)]), new BigUint64Array([2n ** 63n])]
    }
    expect(roundTrip(value)).toStrictEqual(value)
    if (typeof Float16Array === "function") expect(roundTrip(new Float16Array([0.5, -2]))).toStrictEqual(new Float16Array([0.5, -2]))
  })

  it("keeps Dates exact to the millisecond within ±139,000 years of 1970", () => {
    for (const t of [0, -1, 1, 1e12 + 7, -62198755200001, 4.39e15 - 1, -4.39e15 + 1]) {
      expect((roundTrip(new Date(t)) as Date).getTime()).toBe(t)
    }
  })

  it("is lossy where CBOR is, as documented, and keeps what JSON.parse would keep", () => {
    class Point {
      x = 1
      y = 2
    }
    expect(roundTrip(new Point())).toStrictEqual({ x: 1, y: 2 }) // class instances: own enumerable properties
    expect(roundTrip([1, , 3])).toStrictEqual([1, undefined, 3]) // holes become undefined
    expect(roundTrip(new ArrayBuffer(2))).toStrictEqual(new Uint8Array(2)) // a byte string comes back as Uint8Array
    expect(roundTrip(new DataView(new ArrayBuffer(2)))).toStrictEqual(new Uint8Array(2))
    expect(roundTrip(Buffer.from([1]))).toStrictEqual(new Uint8Array([1]))
    const proto = roundTrip(JSON.parse('{"__proto__": 1}')) as object // an own property, as JSON.parse makes it
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype)
    expect(Object.getOwnPropertyDescriptor(proto, "__proto__")?.value).toBe(1)
    expect(roundTrip("a\ud800b")).toBe("a\ud800b") // lone surrogates travel as WTF-8 (not UTF-8: strict peers refuse them)
    const error = roundTrip(new TypeError("boom")) // tag 27: an Error with the message; the class is lost
    expect(error).toBeInstanceOf(Error)
    expect((error as Error).message).toBe("boom")
    expect(roundTrip(/a+b/gi)).toStrictEqual(/a+b/gi)
  })

  it("gives decoded byte strings as plain Uint8Arrays even when the header is a Node Buffer", () => {
    const header = Buffer.from(cbor.encodeSync({ b: new Uint8Array([1, 2]) }).header)
    const decoded = cbor.decodeSync({ header, buffers: [] }) as { b: Uint8Array }
    expect(decoded.b.constructor).toBe(Uint8Array)
  })
})

describe("cbor: encoding fails with an EncodeError naming the path", () => {
  it("for a function or a symbol", () => {
    expect(encodeFailure({ a: { b: [1, 2, 3, () => 0] } }).path).toBe("$.a.b[3]")
    expect(encodeFailure({ s: Symbol("x") }).message).toMatch(/cannot encode \$\.s: a symbol/)
    expect(encodeFailure(new Map([["k", () => 0]])).path).toBe('$.get("k")')
  })

  it("for a cycle, naming where it closes", () => {
    const a: Record<string, unknown> = { list: [] }
    ;(a.list as Array<unknown>).push({ back: a })
    const e = encodeFailure(a)
    expect(e.path).toBe("$.list[0].back")
    expect(e.message).toMatch(/a cycle: this is the object at \$/)
  })

  it("for nesting 100,000 deep, without crashing", () => {
    let deep: unknown = 0
    for (let i = 0; i < 100_000; i++) deep = [deep]
    expect(encodeFailure(deep).message).toMatch(new RegExp(`nested deeper than ${MAX_DEPTH} levels`))
  })

  it.effect("as a failure in the error channel of encode", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(cbor.encode({ f: () => 0 }))
      expect(error).toBeInstanceOf(EncodeError)
      expect(error.path).toBe("$.f")
    }))
})

describe("cbor: decoding is total", () => {
  it("refuses a length prefix of 2^40 before allocating anything", () => {
    expect(decodeFailure("5b0000010000000000").message).toMatch(/byte 0: a byte string of 1099511627776 bytes but only 0 left/)
    expect(decodeFailure("7b000001000000000061").message).toMatch(/text string of 1099511627776 bytes/)
    expect(decodeFailure("9b0000010000000000").message).toMatch(/an array of 1099511627776 entries but only 0 bytes left/)
    expect(decodeFailure("bb0000010000000000").message).toMatch(/a map of 1099511627776 entries/)
    expect(decodeFailure("9affffffff00").message).toMatch(/an array of 4294967295 entries but only 1 bytes left/)
  })

  it("refuses nested arrays whose declared items add up past the input's length", () => {
    // each level declares as many items as bytes remain: each fits alone, together they cannot
    const header = new Uint8Array(10_000)
    for (let at = 0; at + 5 <= 40; at += 5) {
      header.set([0x9a, 0, 0, 0, 0], at)
      new DataView(header.buffer).setUint32(at + 1, header.length - at - 5)
    }
    const e = decodeFailure(header)
    expect(e.offset).toBe(5)
    expect(e.message).toMatch(/more items declared than the 10000 bytes of input can hold/)
  })

  it("refuses nesting 100,000 deep (arrays, maps, indefinite arrays, tags) at the depth limit", () => {
    const deep = (unit: number[], leaf: number[]): Uint8Array => {
      const out = new Uint8Array(unit.length * 100_000 + leaf.length)
      for (let i = 0; i < 100_000; i++) out.set(unit, i * unit.length)
      out.set(leaf, unit.length * 100_000)
      return out
    }
    for (const [unit, leaf] of [[[0x81], [0]], [[0xa1, 0x60], [0]], [[0x9f], [0]], [[0xc1], [0]], [[0xd9, 0x01, 0x03], [0xa0]]] as const) {
      const e = decodeFailure(deep([...unit], [...leaf]))
      expect(e.message).toMatch(new RegExp(`nested deeper than ${MAX_DEPTH} levels`))
      expect(e.offset).toBe(MAX_DEPTH * unit.length)
    }
    // exactly at the limit still decodes
    let ok: unknown = 0
    for (let i = 0; i < MAX_DEPTH; i++) ok = [ok]
    expect(roundTrip(ok)).toStrictEqual(ok)
  })

  it("refuses truncated input at the offset where it ends", () => {
    const whole = cbor.encodeSync({ a: [1, 2, "three"], b: new Float64Array([1, 2]) }).header
    for (let n = 0; n < whole.length; n++) {
      const e = decodeFailure(whole.subarray(0, n))
      expect(e.offset).toBeLessThanOrEqual(n)
    }
  })

  it("refuses bytes after a complete value", () => {
    expect(decodeFailure("0102").message).toMatch(/byte 1: 1 trailing bytes after the value/)
    expect(decodeFailure("a0ff").message).toMatch(/trailing bytes/)
  })

  it("refuses what is not well-formed: reserved heads, stray breaks, odd indefinite maps", () => {
    expect(decodeFailure("1c").message).toMatch(/reserved additional information 28/)
    expect(decodeFailure("ff").message).toMatch(/a break \(0xff\) outside an indefinite-length array or map/)
    expect(decodeFailure("bf6161ff").message).toMatch(/a break where a map value is due/)
    expect(decodeFailure("1f").message).toMatch(/an integer cannot have an indefinite length/)
    expect(decodeFailure("").message).toMatch(/empty input/)
  })

  it("refuses indefinite-length strings (cbor-x cannot read them) and simple values without a JS meaning", () => {
    expect(decodeFailure("5f42010243030405ff").message).toMatch(/indefinite-length strings are not supported/)
    expect(decodeFailure("f0").message).toMatch(/simple value 16 is not supported/)
    expect(decodeFailure("f8ff").message).toMatch(/simple value 255 is not supported/)
  })

  it("refuses the tags to which cbor-x gives private meanings: records, packed CBOR, value sharing", () => {
    for (const [h, tag] of [["d81c80", 28], ["d81d00", 29], ["c600", 6], ["d83380", 51], ["d86980", 105], ["d8e000", 224],
      ["d9dfff80", 0xdfff], ["d9e00180", 0xe001], ["da5368726480", 0x53687264]] as const) {
      expect(decodeFailure(h).message).toMatch(new RegExp(`tag ${tag} is not supported`))
    }
    // nested value sharing would make cbor-x re-read its content once per level: 2^depth reads
    const nested = "d81c".repeat(40) + "d9010281d81d00"
    expect(decodeFailure(nested).message).toMatch(/tag 28 is not supported/)
  })

  it("checks the content of the tags it decodes: bignums, typed arrays, tag 27", () => {
    expect(decodeFailure("c201").message).toMatch(/tag 2 must contain a definite-length byte string/)
    expect(decodeFailure("d8568201 02").message).toMatch(/tag 86 must contain a definite-length byte string/)
    expect(decodeFailure("d856 43 010203").message).toMatch(/tag 86 holds 8-byte elements but its byte string has 3 bytes/)
    const constructorName = Buffer.from("constructor").toString("hex")
    expect(decodeFailure(`d81b 82 6b${constructorName} 01`).message).toMatch(/tag 27 with the name "constructor" is not supported/)
    expect(decodeFailure("d81b 01").message).toMatch(/tag 27 must contain an array/)
  })

  it("refuses a RegExp that does not compile, at its tag", () => {
    const source = Buffer.from("(").toString("hex")
    expect(decodeFailure(`81 d81b 83 66526567457870 61${source} 60`).message).toMatch(/at byte 1: tag 27 holds an invalid RegExp/)
  })

  it("refuses out-of-band buffers, which this codec never writes", () => {
    const e = thrown(() => cbor.decodeSync({ header: new Uint8Array([1]), buffers: [new Uint8Array(1)] }))
    expect(e).toBeInstanceOf(DecodeError)
  })

  it.effect("as a failure in the error channel of decode", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(cbor.decode(frames("ff")))
      expect(error).toBeInstanceOf(DecodeError)
      expect(error.offset).toBe(0)
    }))
})
