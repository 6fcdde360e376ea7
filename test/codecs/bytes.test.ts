import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { DecodeError } from "../../codecs/errors.ts"
import { Reader } from "../../codecs/bytes/Reader.ts"
import { Writer } from "../../codecs/bytes/Writer.ts"

const roundTripString = (s: string): string => {
  const w = new Writer()
  w.begin()
  w.string(s)
  return new Reader("test", w.finish()).string()
}

describe("byte writer and reader", () => {
  it("every JS string round-trips, lone surrogates included", () => {
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 300 }), (s) => {
      expect(roundTripString(s)).toBe(s)
    }), { numRuns: 2000 })
    for (const s of ["\ud800", "a\udc00b", "😀", "x".repeat(70) + "\ud83d", "é".repeat(100), "\ud83d\ude00".repeat(40)]) {
      expect(roundTripString(s)).toBe(s)
    }
  })

  it("varuints round-trip up to 2^53-1 and reject longer encodings", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: -1e15, max: 1e15 }), (u, s) => {
      const w = new Writer()
      w.begin()
      w.varuint(u)
      w.varint(s)
      const r = new Reader("test", w.finish())
      expect(r.varuint()).toBe(u)
      expect(r.varint()).toBe(s)
    }))
    const r = new Reader("test", new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))
    expect(() => r.varuint()).toThrow(DecodeError)
  })

  it("views handed out by finish() stay valid while later messages are written", () => {
    const w = new Writer(1024)
    const views: Array<[Uint8Array, number]> = []
    for (let i = 0; i < 500; i++) {
      w.begin()
      for (let j = 0; j < i % 37; j++) w.u8(i & 0xff)
      views.push([w.finish(), i])
    }
    for (const [v, i] of views) {
      expect(v.length).toBe(i % 37)
      expect(v.every((b) => b === (i & 0xff))).toBe(true)
    }
  })

  it("a length beyond the input fails before allocating", () => {
    const w = new Writer()
    w.begin()
    w.varuint(2 ** 40)
    const r = new Reader("test", w.finish())
    expect(() => r.string()).toThrow(DecodeError)
  })
})
