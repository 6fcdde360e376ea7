/**
 * The standard codecs against Python's own libraries: bytes that cbor2 and
 * msgpack wrote (checked in, `interop/python/codec_cases.py fixtures`) decode
 * to the values below, and what rankflow writes for those values decodes in
 * Python, run live, to what Python started with — with the same types.
 */
import { describe, expect, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { cbor } from "../../codecs/cbor.ts"
import { msgpack } from "../../codecs/msgpack.ts"
import { pythonWithCodecs } from "../support/python.ts"

const fixtures = JSON.parse(readFileSync(new URL("../fixtures/python-codecs.json", import.meta.url), "utf8")) as Record<string, { cbor: string; msgpack?: string }>
const bytes = (hex: string) => Uint8Array.from(Buffer.from(hex, "hex"))

/** What each case of codec_cases.py is in JS. */
const expected: Record<string, unknown> = {
  "int and str keys": new Map<unknown, unknown>([[1, "int"], ["1", "str"]]),
  "bool, null and float keys": new Map<unknown, unknown>([[true, "x"], [null, "y"], [1.5, "z"]]),
  "bytes key": new Map([[new Uint8Array([1, 2]), 1]]),
  "tuple key": new Map([[[1, 2], "pair"]]),
  "string keys": { a: [1, 2.5, "s", null, true], b: { c: new TextEncoder().encode("bytes") }, "": 0 },
  "proto key": JSON.parse('{"__proto__": 1, "x": 2}'),
  "empty map": {},
  ints: [0, -1, 23, 24, 255, 256, 2 ** 31 - 1, -(2 ** 31), -(2 ** 31) - 1, 2 ** 32 - 1, 2 ** 32, 2 ** 40, 2 ** 53 - 1, -(2 ** 53 - 1)],
  "big ints": [2n ** 53n, -(2n ** 53n), 2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n - 1n],
  floats: [1.5, -0, 1e300, Infinity, -Infinity],
  strings: ["", "ascii", "é", "😀 mpi4py", "x".repeat(300)],
  nested: [[], [[1], { k: [{ deep: null }] }]],
  "mixed keys, string first": new Map<unknown, unknown>([["b", 1], ["1", 2], [3, 4]]),
  "huge ints": [2n ** 64n, -(2n ** 64n) - 1n, 2n ** 100n, -(3n ** 80n)],
  set: new Set([1, 2, 3])
}

const codecs = { cbor, msgpack } as const

describe("the standard codecs read what Python's cbor2 and msgpack write, with nothing dropped or retyped", () => {
  it("has a JS value for every fixture", () => {
    expect(Object.keys(fixtures).sort()).toStrictEqual(Object.keys(expected).sort())
  })

  for (const [name, encodings] of Object.entries(fixtures)) {
    for (const codecName of ["cbor", "msgpack"] as const) {
      const hex = encodings[codecName]
      if (hex === undefined) continue
      it(`${codecName}: ${name}`, () => {
        const codec = codecs[codecName]
        const value = codec.decodeSync({ header: bytes(hex), buffers: [] })
        expect(value).toStrictEqual(expected[name])
        // and what we write for it decodes to the same again
        expect(codec.decodeSync(codec.encodeSync(value))).toStrictEqual(expected[name])
      })
    }
  }
})

describe("Python's cbor2 and msgpack read what the standard codecs write, with nothing dropped or retyped", () => {
  it("decodes every case to the value Python started with (run live)", () => {
    const given: Record<string, Record<string, string>> = {}
    for (const [name, encodings] of Object.entries(fixtures)) {
      given[name] = { cbor: Buffer.from(cbor.encodeSync(expected[name]).header).toString("hex") }
      if (encodings.msgpack !== undefined) given[name].msgpack = Buffer.from(msgpack.encodeSync(expected[name]).header).toString("hex")
    }
    const script = new URL("../../interop/python/codec_cases.py", import.meta.url).pathname
    const out = execFileSync(pythonWithCodecs(), [script, "check"], { input: JSON.stringify(given), encoding: "utf8" })
    const report = JSON.parse(out) as { checked: number; failures: Array<unknown> }
    expect(report.failures).toStrictEqual([])
    expect(report.checked).toBe(Object.values(given).reduce((n, e) => n + Object.keys(e).length, 0))
  })
})
