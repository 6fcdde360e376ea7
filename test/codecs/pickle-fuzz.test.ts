/**
 * The pickle decoder is total: over 200,000 truncated, bit-flipped, spliced
 * and random inputs (headers and out-of-band buffer lists), the only failure
 * is a DecodeError. Mutations of real encodings reach far deeper into the
 * decoder than uniform random bytes, so most inputs are mutations.
 */
import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import type { Frames } from "../../codecs/Codec.ts"
import { DecodeError } from "../../codecs/errors.ts"
import { Pickle } from "../../codecs/index.ts"
import * as F from "../../codecs/pickle/format.ts"
import { anyGraph, anyPicklable, GraphNode } from "./pickle-support.ts"

class Complex {
  re: number
  im: number
  constructor(re: number, im: number) {
    this.re = re
    this.im = im
  }
}
class Reduced {
  v: unknown = null
}

// Out of band from 64 bytes, so that buffers are fuzzed too.
const codec = Pickle.make({ outOfBandThreshold: 64 })
codec.registerClass(Complex, { name: "Complex" })
codec.registerClass(GraphNode, { name: "GraphNode" })
codec.registerClass(Reduced, {
  name: "Reduced",
  reduce: (r) => [r.v],
  construct: (state: unknown) => {
    if (!Array.isArray(state)) throw new TypeError("state must be an array")
    return Object.assign(new Reduced(), { v: state[0] })
  }
})

/** xorshift32: a seeded PRNG so that a failure can be replayed. */
const prng = (seed: number) => {
  let s = seed >>> 0 || 1
  return () => {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    return (s >>> 0) / 2 ** 32
  }
}

const corpus = (): Array<Frames> => {
  const shared = { n: 1 }
  const cyclic: Record<string, unknown> = { name: "c" }
  cyclic.self = cyclic
  const sparse: Array<unknown> = [1]
  sparse[1000] = 2
  const buf = new ArrayBuffer(128)
  const values: Array<unknown> = [
    { key1: [7, 2.72, new Complex(2, 3)], key2: ["abc", "xyz"] },
    [null, true, false, -7, 0, 7, -(2n ** 63n) + 1n, 2n ** 63n - 1n, -2.17, 0.0, 1.62, "mpi4py"],
    Array.from({ length: 20 }, (_, i) => ({ id: i, name: `n${i}`, x: i / 3, tags: ["a", "b"] })),
    { x: shared, y: shared, cyclic, sparse },
    new Map<unknown, unknown>([[shared, new Set([1, shared, "s"])], ["k", new Date(5)]]),
    [new TypeError("t", { cause: new RangeError("r") }), new AggregateError([1], "agg"), /re+/giu],
    [new Float64Array(20), new Int32Array(buf, 8, 4), new Uint8Array(buf), buf, new DataView(buf, 3, 9), new BigInt64Array([1n, -1n])],
    [new Uint8Array(10), new Float32Array(3).subarray(1), Object.assign(Object.create(null), { a: 1 }), [new Number(1), new String("s")]],
    Object.assign(new Reduced(), { v: { deep: [1, 2, 3] } }),
    { "\ud800": "lone", "😀": 2n ** 100n, __proto__x: -0, big: "x".repeat(100) }
  ]
  for (const v of fc.sample(anyPicklable, { seed: 42, numRuns: 150 })) values.push(v)
  for (const v of fc.sample(anyGraph, { seed: 7, numRuns: 50 })) values.push(v)
  return values.map((v) => codec.encodeSync(v))
}

let decodes = 0
let failures = 0
/** Decodes; anything but a value or a DecodeError fails the test. */
const survive = (f: Frames): void => {
  decodes++
  try {
    codec.decodeSync(f)
  } catch (e) {
    if (!(e instanceof DecodeError)) throw new Error(`not a DecodeError: ${String(e)}\nheader: ${Array.from(f.header).join(",")}`)
    failures++
  }
}

const interesting = [0x00, 0x01, 0x7f, 0x80, 0xff, F.REF, F.ARRAY, F.OBJECT, F.HOLES, F.VIEW, F.TYPED_OOB, F.ARRAYBUFFER_OOB, F.INSTANCE,
  F.INSTANCE_REDUCED, F.SHARED + F.ARRAY, F.FIXSHAPE, F.FIXARRAY + 15]

describe("pickle decoder fuzzing: the only failure is a DecodeError", () => {
  const inputs = corpus()

  it("every prefix of every encoding (truncation)", () => {
    for (const f of inputs) {
      for (let n = 0; n < f.header.length; n++) survive({ header: f.header.slice(0, n), buffers: f.buffers })
    }
  })

  it("bit flips, byte replacements and splices of real encodings", () => {
    const rand = prng(0x5eed)
    const pick = <T>(xs: ReadonlyArray<T>): T => xs[Math.floor(rand() * xs.length)]!
    for (let round = 0; round < 150_000; round++) {
      const f = pick(inputs)
      let h = f.header.slice()
      const op = rand()
      if (op < 0.45) {
        const flips = 1 + Math.floor(rand() * 3)
        for (let i = 0; i < flips; i++) h[Math.floor(rand() * h.length)]! ^= 1 << Math.floor(rand() * 8)
      } else if (op < 0.75) {
        h[Math.floor(rand() * h.length)] = rand() < 0.5 ? pick(interesting) : Math.floor(rand() * 256)
      } else if (op < 0.9) {
        // splice: delete or insert a few bytes
        const at = Math.floor(rand() * h.length)
        const n = 1 + Math.floor(rand() * 4)
        const insert = Array.from({ length: rand() < 0.5 ? n : 0 }, () => (rand() < 0.5 ? pick(interesting) : Math.floor(rand() * 256)))
        const cut = insert.length === 0 ? n : 0
        h = Uint8Array.from([...h.subarray(0, at), ...insert, ...h.subarray(at + cut)])
      } else {
        // a varuint somewhere becomes huge (2^40 or 2^32)
        const at = 1 + Math.floor(rand() * Math.max(1, h.length - 1))
        const big = rand() < 0.5 ? [0x80, 0x80, 0x80, 0x80, 0x80, 0x20] : [0xff, 0xff, 0xff, 0xff, 0x0f]
        h = Uint8Array.from([...h.subarray(0, at), ...big, ...h.subarray(at + 1)])
      }
      let buffers = f.buffers
      if (buffers.length > 0 && rand() < 0.3) {
        const r = rand()
        buffers = r < 0.25 ? [] : r < 0.5 ? [...buffers].reverse() : r < 0.75 ? buffers.map((b) => b.subarray(1)) : [...buffers, ...buffers]
      }
      survive({ header: h, buffers })
    }
  })

  it("random bytes, with and without the version byte", () => {
    const rand = prng(0xfeed)
    for (let round = 0; round < 30_000; round++) {
      const n = Math.floor(rand() * 48)
      const h = new Uint8Array(n)
      for (let i = 0; i < n; i++) h[i] = rand() < 0.3 ? interesting[Math.floor(rand() * interesting.length)]! : Math.floor(rand() * 256)
      if (round % 2 === 0 && n > 0) h[0] = F.VERSION
      const buffers = rand() < 0.2 ? [new Uint8Array(Math.floor(rand() * 40))] : []
      survive({ header: h, buffers })
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.array(fc.uint8Array({ maxLength: 32 }), { maxLength: 2 }), (bytes, buffers) => {
        survive({ header: Uint8Array.from([F.VERSION, ...bytes]), buffers })
      }),
      { numRuns: 10_000, seed: 1 }
    )
  })

  it("ran at least 200,000 inputs, most of them rejected", () => {
    expect(decodes).toBeGreaterThanOrEqual(200_000)
    expect(failures).toBeGreaterThan(decodes / 2)
  })
})
