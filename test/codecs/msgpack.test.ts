import { describe, expect, it } from "@effect/vitest"
import { ExtData } from "@msgpack/msgpack"
import { Effect } from "effect"
import { CodecIds } from "../../codecs/Codec.ts"
import type { Frames } from "../../codecs/Codec.ts"
import { DecodeError, EncodeError } from "../../codecs/errors.ts"
import { MAX_DEPTH, msgpack } from "../../codecs/msgpack.ts"
import * as Registry from "../../codecs/registry.ts"
import { thrown } from "../support/thrown.ts"

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex")
const frames = (h: string): Frames => ({ header: Uint8Array.from(Buffer.from(h.replace(/\s/g, ""), "hex")), buffers: [] })
const encodeHex = (value: unknown): string => hex(msgpack.encodeSync(value).header)
const roundTrip = (value: unknown): unknown => msgpack.decodeSync(msgpack.encodeSync(value))

const decodeFailure = (h: string | Uint8Array): DecodeError => {
  const e = thrown(() => msgpack.decodeSync(typeof h === "string" ? frames(h) : { header: h, buffers: [] }))
  expect(e).toBeInstanceOf(DecodeError)
  return e as DecodeError
}
const encodeFailure = (value: unknown): EncodeError => {
  const e = thrown(() => msgpack.encodeSync(value))
  expect(e).toBeInstanceOf(EncodeError)
  return e as EncodeError
}

describe("msgpack: the bytes are standard MessagePack, as a peer in another language reads them", () => {
  it("is registered as codec 4, named msgpack", () => {
    expect(msgpack.id).toBe(CodecIds.msgpack)
    expect(Registry.getById(4)).toBe(msgpack)
    expect(Registry.getByName("msgpack")).toBe(msgpack)
  })

  it("writes the spec's formats for plain values", () => {
    expect(encodeHex({ a: 1 })).toBe("81a16101")
    expect(encodeHex([1, 2, 3])).toBe("93010203")
    expect(encodeHex("IETF")).toBe("a449455446")
    expect(encodeHex(0)).toBe("00")
    expect(encodeHex(127)).toBe("7f")
    expect(encodeHex(128)).toBe("cc80")
    expect(encodeHex(256)).toBe("cd0100")
    expect(encodeHex(65536)).toBe("ce00010000")
    expect(encodeHex(-1)).toBe("ff")
    expect(encodeHex(-32)).toBe("e0")
    expect(encodeHex(-33)).toBe("d0df")
    expect(encodeHex(-129)).toBe("d1ff7f")
    expect(encodeHex(-(2 ** 31))).toBe("d280000000")
    expect(encodeHex(1.5)).toBe("cb3ff8000000000000")
    expect(encodeHex(2 ** 32)).toBe("cf0000000100000000") // safe integers beyond 32 bits: uint64 / int64, so peers see integers
    expect(encodeHex(-(2 ** 40))).toBe("d3ffffff0000000000")
    expect(encodeHex(2 ** 53)).toBe("cb4340000000000000") // beyond 2^53: a float, as in JS
    expect(encodeHex(-0)).toBe("cb8000000000000000") // -0 keeps its sign as a float
    expect(encodeHex(null)).toBe("c0")
    expect(encodeHex(false)).toBe("c2")
    expect(encodeHex(true)).toBe("c3")
    expect(encodeHex(new Uint8Array([1, 2]))).toBe("c4020102") // bin 8
  })

  it("writes bigints as int64 / uint64", () => {
    expect(encodeHex(5n)).toBe("cf0000000000000005")
    expect(encodeHex(-5n)).toBe("d3fffffffffffffffb")
    expect(encodeHex(2n ** 64n - 1n)).toBe("cfffffffffffffffff")
    expect(encodeHex(-(2n ** 63n))).toBe("d38000000000000000")
  })

  it("writes Dates as the standard timestamp extension (-1)", () => {
    expect(encodeHex(new Date(0))).toBe("d6ff00000000") // timestamp 32
    expect(encodeHex(new Date(1))).toBe("d7ff003d090000000000") // timestamp 64: 1,000,000 ns
    expect(encodeHex(new Date(-1))).toBe("c70cff3b8b87c0ffffffffffffffff") // timestamp 96: -1 s + 999,000,000 ns
  })

  it("writes typed arrays as extension 0x74: one class byte (msgpackr's numbering), then the bytes", () => {
    expect(encodeHex(new Float64Array([1.5]))).toBe("c709" + "74" + "08" + "000000000000f83f")
    expect(encodeHex(new Int8Array([1, 2, 3]))).toBe("d6" + "74" + "00" + "010203") // fixext 4
    expect(encodeHex(new Int16Array([1]))).toBe("c703" + "74" + "03" + "0100")
    expect(encodeHex(new Uint8ClampedArray([9]))).toBe("d5" + "74" + "02" + "09")
    expect(encodeHex(new Float32Array([1]))).toBe("c705" + "74" + "07" + "0000803f")
    expect(encodeHex(new BigUint64Array([1n]))).toBe("c709" + "74" + "0a" + "0100000000000000")
    expect(encodeHex(new ArrayBuffer(3))).toBe("d6" + "74" + "10" + "000000")
    if (typeof Float16Array === "function") expect(encodeHex(new Float16Array([1]))).toBe("c703" + "74" + "0b" + "003c")
  })

  it("decodes what other MessagePack encoders write", () => {
    expect(msgpack.decodeSync(frames("d7ff003d090000000000"))).toStrictEqual(new Date(1))
    expect(msgpack.decodeSync(frames("c70cff3b8b87c0ffffffffffffffff"))).toStrictEqual(new Date(-1))
    expect(msgpack.decodeSync(frames("ca3fc00000"))).toBe(1.5) // float 32
    expect(msgpack.decodeSync(frames("d9036162 63"))).toBe("abc") // str 8
    expect(msgpack.decodeSync(frames("dc0002 01 02"))).toStrictEqual([1, 2]) // array 16
  })

  it("decodes integers to numbers when they fit a safe number, whatever their format, and to bigints beyond", () => {
    expect(msgpack.decodeSync(frames("cf0000000000000005"))).toBe(5)
    expect(msgpack.decodeSync(frames("d3fffffffffffffffb"))).toBe(-5)
    expect(msgpack.decodeSync(frames("d3ffffffff7fffffff"))).toBe(-(2 ** 31) - 1) // int64 below -2^31
    expect(msgpack.decodeSync(frames("cf001fffffffffffff"))).toBe(2 ** 53 - 1)
    expect(msgpack.decodeSync(frames("cf0020000000000000"))).toBe(2n ** 53n)
    expect(msgpack.decodeSync(frames("d3ffe0000000000001"))).toBe(-(2 ** 53) + 1)
    expect(msgpack.decodeSync(frames("d3ffe0000000000000"))).toBe(-(2n ** 53n))
    expect(msgpack.decodeSync(frames("cfffffffffffffffff"))).toBe(2n ** 64n - 1n)
    expect(msgpack.decodeSync(frames("ceffffffff"))).toBe(4294967295)
  })

  it("decodes a map whose keys are not all strings to a Map with the keys' own types, never losing an entry", () => {
    expect(msgpack.decodeSync(frames("8201020304"))).toStrictEqual(new Map([[1, 2], [3, 4]]))
    expect(msgpack.decodeSync(frames("82 01 a3696e74 a131 a3737472"))).toStrictEqual(new Map<unknown, unknown>([[1, "int"], ["1", "str"]])) // Python's {1: "int", "1": "str"}
    expect(msgpack.decodeSync(frames("83 c3 a178 c0 a179 cb3ff8000000000000 a17a"))).toStrictEqual(new Map<unknown, unknown>([[true, "x"], [null, "y"], [1.5, "z"]]))
    expect(msgpack.decodeSync(frames("81cf000000010000000001"))).toStrictEqual(new Map([[4294967296, 1]]))
    const bytesKey = msgpack.decodeSync(frames("81 c4020102 01")) as Map<unknown, unknown>
    expect([...bytesKey]).toStrictEqual([[new Uint8Array([1, 2]), 1]])
    expect(msgpack.decodeSync(frames("81 a161 81 01 02"))).toStrictEqual({ a: new Map([[1, 2]]) }) // the choice is per map
    const proto = msgpack.decodeSync(frames("81a95f5f70726f746f5f5f01")) as object // an own property, as JSON.parse makes it
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype)
    expect(Object.getOwnPropertyDescriptor(proto, "__proto__")?.value).toBe(1)
  })

  it("refuses a map with a repeated key instead of keeping one of the two values", () => {
    expect(decodeFailure("82 a161 01 a161 02").message).toBe('msgpack: malformed input at byte 0: the map has the key "a" twice (a decoded map never drops an entry)')
    expect(decodeFailure("91 82 01 01 cb3ff0000000000000 02").message).toMatch(/at byte 1: the map has the key 1 twice/)
  })

  it("decodes an extension type it does not know as ExtData, and encodes ExtData as itself", () => {
    const ext = msgpack.decodeSync(frames("d40501"))
    expect(ext).toBeInstanceOf(ExtData)
    expect(ext).toMatchObject({ type: 5, data: new Uint8Array([1]) })
    expect(encodeHex(ext)).toBe("d40501") // and writes it back as it came
  })

  it("hands out headers that later encodes never overwrite", () => {
    const first = msgpack.encodeSync({ keep: "me", n: [1, 2, 3] }).header
    const snapshot = hex(first)
    for (let i = 0; i < 2000; i++) msgpack.encodeSync({ i, filler: "x".repeat(i % 300) })
    msgpack.encodeSync(new Float64Array(100000))
    expect(hex(first)).toBe(snapshot)
  })
})

describe("msgpack: what round-trips and what does not", () => {
  it("round-trips null, booleans, numbers, NaN, ±Infinity, strings, arrays and objects", () => {
    const value = { n: null, t: true, f: false, i: -7, x: 2 ** 53 - 1, y: -(2 ** 40), d: 1.62, nan: NaN, inf: -Infinity, s: "mpi4py é 😀", a: [1, [2, {}]] }
    expect(roundTrip(value)).toStrictEqual(value)
  })

  it("round-trips bigints beyond ±(2^53 - 1) within int64 and uint64 as bigints, smaller ones as numbers", () => {
    for (const b of [2n ** 53n, -(2n ** 53n), 2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n - 1n]) expect(roundTrip(b)).toBe(b)
    for (const b of [0n, 1n, -1n, 2n ** 53n - 1n]) expect(roundTrip(b)).toBe(Number(b))
  })

  it("round-trips Maps with keys of any type, -0, and lone surrogates (as WTF-8, which strict peers refuse)", () => {
    for (const s of ["a\ud800b", "x".repeat(300) + "\udc00"]) expect(roundTrip(s)).toBe(s)
    const map = new Map<unknown, unknown>([[1, "int"], ["1", "str"], [true, [null]], [2n ** 60n, { a: 1 }], [null, new Map([[2.5, "x"]])]])
    expect(roundTrip({ m: map })).toStrictEqual({ m: map })
    expect(Object.is(roundTrip(-0), -0)).toBe(true)
  })

  it("round-trips Dates exactly, Uint8Array, ArrayBuffer, DataView and every typed array class", () => {
    const value = {
      d: [new Date(0), new Date(-1), new Date(8.64e15), new Date(-8.64e15), new Date(Date.UTC(2024, 1, 29, 12, 0, 0, 123))],
      b: new Uint8Array([0, 255]),
      ab: new Uint8Array([1, 2, 3]).buffer,
      arrays: [new Int8Array([-1]), new Uint8ClampedArray([3]), new Int16Array([-300]), new Uint16Array([60000]),
        new Int32Array([-1e9]), new Uint32Array([4e9]), new Float32Array([0.5]), new Float64Array([Math.PI]),
        new BigInt64Array([-(2n ** 62n)]), new BigUint64Array([2n ** 63n])]
    }
    expect(roundTrip(value)).toStrictEqual(value)
    const view = roundTrip(new DataView(new Uint8Array([1, 2, 3]).buffer, 1, 2)) as DataView
    expect(view).toBeInstanceOf(DataView)
    expect([view.byteLength, view.getUint8(0), view.getUint8(1)]).toEqual([2, 2, 3])
    if (typeof Float16Array === "function") expect(roundTrip(new Float16Array([0.5, -2]))).toStrictEqual(new Float16Array([0.5, -2]))
  })

  it("is lossy where MessagePack is, as documented", () => {
    expect(roundTrip(undefined)).toBe(null) // MessagePack has nil only
    expect(roundTrip({ u: undefined, a: [undefined] })).toStrictEqual({ u: null, a: [null] })
    expect(roundTrip([1, , 3])).toStrictEqual([1, null, 3])
    expect(roundTrip(new Map([["a", 1]]))).toStrictEqual({ a: 1 }) // a Map with string keys only is a map like any object's
    class Point {
      x = 1
      y = 2
    }
    expect(roundTrip(new Point())).toStrictEqual({ x: 1, y: 2 })
    expect(roundTrip(Buffer.from([1]))).toStrictEqual(new Uint8Array([1]))
  })
})

describe("msgpack: encoding fails with an EncodeError naming the path", () => {
  it("for Set, RegExp, Error and the like, rather than writing an empty map", () => {
    expect(encodeFailure({ a: [new Set([1])] }).message).toBe("msgpack: cannot encode $.a[0]: a Set has no MessagePack form (convert it, or use the cbor or pickle codec)")
    expect(encodeFailure({ m: new Map([[1, new Set()]]) }).path).toBe("$.m.get(1)")
    expect(encodeFailure([/x/]).path).toBe("$[0]")
    expect(encodeFailure({ e: new RangeError("x") }).path).toBe("$.e")
    expect(encodeFailure({ w: new WeakMap() }).path).toBe("$.w")
    expect(encodeFailure({ p: Promise.resolve(1) }).path).toBe("$.p")
  })

  it("for a bigint outside int64 and uint64, which has no MessagePack form", () => {
    expect(encodeFailure({ big: [1n, 2n ** 64n] }).message).toBe("msgpack: cannot encode $.big[1]: the bigint 18446744073709551616 is outside MessagePack's 64-bit integers (int64 and uint64)")
    expect(encodeFailure(-(2n ** 63n) - 1n).path).toBe("$")
  })

  it("for an invalid Date, which has no timestamp", () => {
    expect(encodeFailure({ when: new Date(NaN) }).message).toMatch(/\$\.when: an invalid Date has no MessagePack timestamp/)
  })

  it("for a function, a symbol, a cycle, or nesting 100,000 deep", () => {
    expect(encodeFailure({ f: [() => 0] }).path).toBe("$.f[0]")
    expect(encodeFailure({ s: Symbol("x") }).path).toBe("$.s")
    const a: Record<string, unknown> = {}
    a.self = { again: a }
    expect(encodeFailure(a).path).toBe("$.self.again")
    let deep: unknown = 0
    for (let i = 0; i < 100_000; i++) deep = [deep]
    expect(encodeFailure(deep).message).toMatch(new RegExp(`nested deeper than ${MAX_DEPTH} levels`))
    let ok: unknown = 0
    for (let i = 0; i < MAX_DEPTH; i++) ok = [ok]
    expect(roundTrip(ok)).toStrictEqual(ok)
  })

  it.effect("as a failure in the error channel of encode", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(msgpack.encode({ m: new Set() }))
      expect(error).toBeInstanceOf(EncodeError)
      expect(error.path).toBe("$.m")
    }))
})

describe("msgpack: decoding is total", () => {
  it("refuses the largest length prefixes (2^32-1) before allocating", () => {
    expect(decodeFailure("c6ffffffff").message).toBe("msgpack: malformed input at byte 0: a value of 4294967295 bytes but only 0 left")
    expect(decodeFailure("dbffffffff").message).toMatch(/a value of 4294967295 bytes/)
    expect(decodeFailure("c9ffffffff74").message).toMatch(/a value of 4294967296 bytes but only 1 left/)
    expect(decodeFailure("ddffffffff").message).toBe("msgpack: malformed input at byte 0: 4294967295 more items declared than the 5 bytes of input can hold")
    expect(decodeFailure("dfffffffff").message).toMatch(/8589934590 more items declared/)
    expect(decodeFailure("c6ff").message).toMatch(/unexpected end of input in a length/)
  })

  it("refuses nested array heads whose counts add up past the input before allocating anything", () => {
    // 2,000 nested `array 32` heads of 99,999 items: 10 KB of input that made @msgpack/msgpack
    // allocate 1.6 GB (new Array(99999) per head) and die of heap exhaustion.
    const unit = [0xdd, 0x00, 0x01, 0x86, 0x9f]
    const header = new Uint8Array(unit.length * 2000)
    for (let i = 0; i < 2000; i++) header.set(unit, i * unit.length)
    expect(decodeFailure(header).message).toMatch(/99999 more items declared than the 10000 bytes of input can hold/)
    const small = new Uint8Array([0x92, 0x92, 0x92, 0x01, 0x02, 0x03, 0x04]) // [[[1, 2], 3], 4]: 7 items, 7 bytes
    expect(msgpack.decodeSync({ header: small, buffers: [] })).toStrictEqual([[[1, 2], 3], 4])
  })

  it("decodes nesting 100,000 deep without recursion", () => {
    const header = new Uint8Array(100_001).fill(0x91)
    header[100_000] = 0x07
    let value = msgpack.decodeSync({ header, buffers: [] })
    let depth = 0
    while (Array.isArray(value)) {
      value = value[0]
      depth++
    }
    expect([depth, value]).toEqual([100_000, 7])
  })

  it("refuses truncated input at the offset where it ends", () => {
    const whole = msgpack.encodeSync({ a: [1, 2, "three"], b: new Float64Array([1, 2]), d: new Date(5) }).header
    for (let n = 0; n < whole.length; n++) {
      const e = decodeFailure(whole.subarray(0, n))
      expect(e.offset).toBeLessThanOrEqual(n)
    }
  })

  it("refuses bytes after a complete value", () => {
    expect(decodeFailure("0102").message).toBe("msgpack: malformed input at byte 1: 1 trailing bytes after the value")
  })

  it("refuses the never-used byte 0xc1 and malformed extensions", () => {
    expect(decodeFailure("c1").message).toBe("msgpack: malformed input at byte 0: the byte 0xc1 is never used in MessagePack")
    expect(decodeFailure("d47463").message).toMatch(/ext 0x74 \(typed array\) with unknown class byte 99/)
    expect(decodeFailure("c70474080102 03").message).toMatch(/holds Float64Array \(8-byte elements\) but has 3 bytes/)
    expect(decodeFailure("c70074").message).toMatch(/without its class byte/)
    expect(decodeFailure("d5ff0000").message).toMatch(/Unrecognized data size for timestamp/)
    expect(decodeFailure("").message).toMatch(/empty input/)
  })

  it("refuses out-of-band buffers, which this codec never writes", () => {
    expect(thrown(() => msgpack.decodeSync({ header: new Uint8Array([1]), buffers: [new Uint8Array(1)] }))).toBeInstanceOf(DecodeError)
  })

  it.effect("as a failure in the error channel of decode", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(msgpack.decode(frames("c1")))
      expect(error).toBeInstanceOf(DecodeError)
    }))
})
