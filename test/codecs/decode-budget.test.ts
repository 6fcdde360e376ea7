/**
 * Decoders against hostile input: nothing an attacker sends makes a decoder
 * allocate more than a small constant times the input plus the per-object
 * costs it charges, and a valid message that would decode to more than its
 * allowance is a DecodeError naming the limit. Peak memory is measured from
 * the operating system, in a process of its own for each input.
 */
import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { cbor, marshal, msgpack, pickle } from "../../codecs/index.ts"
import type { Codec } from "../../codecs/Codec.ts"
import { allowance, DEFAULT_MAX_DECODED_BYTES } from "../../codecs/DecodeBudget.ts"
import { DecodeError } from "../../codecs/errors.ts"
import { type CodecName, emptyMaps, nestedClaims, structured } from "../support/hostileInputs.ts"
import { decodeInChild } from "../support/peakMemory.ts"
import { thrown } from "../support/thrown.ts"

const MiB = 1024 * 1024
const codecs: ReadonlyArray<readonly [CodecName, Codec]> = [["pickle", pickle], ["marshal", marshal], ["cbor", cbor], ["msgpack", msgpack]]

describe("nested containers that each claim every byte left", () => {
  // The probe that killed a process before: 1,000 levels around ~1 MB, and a ~94 KB input.
  for (const [name] of codecs) {
    for (const [levels, filler] of [[1000, 1_000_000], [1000, 90_000], [200, 200_000]] as const) {
      it(`${name}: ${levels} levels around ${filler} bytes are a DecodeError, and the peak memory stays within a small multiple of the input`, async () => {
        const report = await decodeInChild(name, ["nestedClaims", name, levels, filler])
        expect(report.crashed).toBeUndefined()
        expect(report.error?.tag).toBe("DecodeError")
        // Array slots are 8 bytes for a 1-byte item; growing arrays copy: 32x the input plus the process's noise.
        expect(report.peakGrowth).toBeLessThanOrEqual(32 * report.inputBytes + 16 * MiB)
      }, 120_000)
    }
  }

  it("the inputs are what they claim: every level declares exactly the bytes after its head", () => {
    for (const [name, codec] of codecs) {
      const input = nestedClaims(name, 3, 10)
      const error = thrown(() => codec.decodeSync({ header: input, buffers: [] }))
      expect(error).toBeInstanceOf(DecodeError)
    }
  })
})

describe("many small containers: the per-object overhead is charged", () => {
  it("pickle: 5 million empty Maps in 10 MB stop at the default limit with a DecodeError naming it, well before a GiB", async () => {
    const report = await decodeInChild("pickle", ["emptyMaps", "pickle", 5_000_000])
    expect(report.crashed).toBeUndefined()
    expect(report.error?.tag).toBe("DecodeError")
    expect(report.error?.message).toContain("maxDecodedBytes (256 MiB)")
    expect(report.peakGrowth).toBeLessThanOrEqual(2 * allowance(report.inputBytes, undefined) + 32 * MiB)
  }, 120_000)

  for (const [name] of codecs) {
    it(`${name}: 2 million empty maps under a 16 MiB limit are a DecodeError; peak memory follows the limit, not the count`, async () => {
      const report = await decodeInChild(name, ["emptyMaps", name, 2_000_000], { maxDecodedBytes: 16 * MiB })
      expect(report.crashed).toBeUndefined()
      expect(report.error?.tag).toBe("DecodeError")
      expect(report.error?.message).toContain("maxDecodedBytes (16 MiB)")
      expect(report.peakGrowth).toBeLessThanOrEqual(2 * allowance(report.inputBytes, { maxDecodedBytes: 16 * MiB }) + 8 * report.inputBytes + 32 * MiB)
    }, 120_000)
  }
})

describe("the allowance: maxDecodedBytes plus twice the input", () => {
  for (const [name, codec] of codecs) {
    it(`${name}: 100,000 empty maps decode under the default limit and fail under a 1 MiB one, naming it; a failed decode leaves the decoder usable`, () => {
      const input = emptyMaps(name, 100_000)
      const value = codec.decodeSync({ header: input, buffers: [] }) as Array<unknown>
      expect(value).toHaveLength(100_000)
      const error = thrown(() => codec.decodeSync({ header: input, buffers: [] }, { maxDecodedBytes: MiB }))
      expect(error).toBeInstanceOf(DecodeError)
      expect((error as DecodeError).message).toContain("maxDecodedBytes (1.0 MiB)")
      expect((error as DecodeError).message).toContain("raise the limit")
      expect((error as DecodeError).offset).toBeGreaterThan(0)
      expect(codec.decodeSync(codec.encodeSync({ after: [1, "two"] }))).toEqual({ after: [1, "two"] })
    })

    it(`${name}: a string as large as the whole allowance decodes even with maxDecodedBytes 0 (its own bytes justify it)`, () => {
      const big = "x".repeat(4 * MiB)
      const frames = codec.encodeSync([big, 1, 2])
      expect((codec.decodeSync(frames, { maxDecodedBytes: 0 }) as Array<unknown>)[0]).toBe(big)
    })
  }

  it("the default is 256 MiB", () => {
    expect(DEFAULT_MAX_DECODED_BYTES).toBe(256 * MiB)
    expect(allowance(1000, undefined)).toBe(256 * MiB + 2000)
    expect(allowance(1000, { maxDecodedBytes: 0 })).toBe(2000)
  })

  it("pickle: a Map of 200,000 entries, a Set, 50,000 records and 8 MiB of floats decode within the default; under a tight limit the objects fail, the floats alone do not", () => {
    const objects = {
      map: new Map(Array.from({ length: 200_000 }, (_, i) => [i, `v${i}`])),
      set: new Set(Array.from({ length: 100_000 }, (_, i) => i)),
      rows: Array.from({ length: 50_000 }, (_, i) => ({ id: i, name: `n${i}`, tags: ["a", "b"] }))
    }
    const floats = new Float64Array(1 << 20)
    const frames = pickle.encodeSync({ ...objects, floats })
    expect(pickle.decodeSync(frames)).toEqual({ ...objects, floats })
    expect(thrown(() => pickle.decodeSync(pickle.encodeSync(objects), { maxDecodedBytes: 4 * MiB }))).toBeInstanceOf(DecodeError)
    expect(pickle.decodeSync(pickle.encodeSync([floats]), { maxDecodedBytes: 0 })).toEqual([floats])
  })
})

describe("structure-aware fuzzing: container heads with made-up counts, nested and repeated", () => {
  // Each case: a run of container heads (arrays, maps, objects) of any claimed count, then filler bytes,
  // repeated; decoded under a 1 MiB limit. Every outcome is a value or a DecodeError, and a run of
  // thousands of such cases stays within the budget (an unbounded decoder would exhaust the heap here).
  const piece = fc.record({
    kind: fc.constantFrom("array", "map", "object" as const),
    count: fc.oneof(fc.integer({ min: 0, max: 16 }), fc.integer({ min: 0, max: 70_000 }), fc.constant(2 ** 32 - 1), fc.integer({ min: 0, max: 2 ** 31 })),
    depth: fc.integer({ min: 1, max: 300 }),
    repeat: fc.integer({ min: 1, max: 200 })
  })
  for (const [name, codec] of codecs) {
    it(`${name}: 2,000 structured inputs of up to 64 KiB decode to a value or a DecodeError within a 1 MiB limit`, () => {
      fc.assert(fc.property(fc.array(piece, { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 4096 }), (pieces, filler) => {
        const input = structured(name, pieces, filler)
        try {
          codec.decodeSync({ header: input, buffers: [] }, { maxDecodedBytes: 1 << 20 })
        } catch (e) {
          if (!(e instanceof DecodeError)) throw e
        }
      }), { numRuns: 2000 })
    }, 120_000)
  }
})
