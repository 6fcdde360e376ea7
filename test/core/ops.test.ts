/**
 * Reduction ops on their own (no ranks): mpi4py's object semantics for every
 * built-in op, the elementwise kernels on every typed array class against a
 * reference computed element by element, and user ops.
 */
import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { readFileSync } from "node:fs"
import * as Datatype from "../../codecs/Datatype.ts"
import type { TypedArray } from "../../codecs/Datatype.ts"
import { InvalidArgument } from "../../core/errors.ts"
import * as Op from "../../core/op/Op.ts"
import { generate } from "../../core/op/generate-kernels.ts"
import { thrown } from "../support/thrown.ts"

describe("ops on values (mpi4py's semantics)", () => {
  it("SUM and PROD take numbers or bigints", () => {
    expect(Op.SUM.combine(2, 3)).toBe(5)
    expect(Op.SUM.combine(2n ** 63n - 1n, 1n)).toBe(2n ** 63n)
    expect(Op.PROD.combine(-2.5, 4)).toBe(-10)
    expect(Op.PROD.combine(3n, -7n)).toBe(-21n)
  })

  it("SUM and PROD refuse anything else, pointing to Op.make", () => {
    for (const [a, b] of [["a", "b"], [1, 2n], [true, true], [null, 1], [[1], [2]], [{}, {}]] as const) {
      const e = thrown(() => Op.SUM.combine(a as never, b as never))
      expect(e).toBeInstanceOf(InvalidArgument)
      expect((e as InvalidArgument).message).toContain("Op.make")
    }
    expect(thrown(() => Op.PROD.combine("x" as never, 2))).toBeInstanceOf(InvalidArgument)
  })

  it("MAX and MIN keep the first on ties", () => {
    expect(Op.MAX.combine(3, 7)).toBe(7)
    expect(Op.MAX.combine(7, 3)).toBe(7)
    expect(Object.is(Op.MAX.combine(0, -0), 0)).toBe(true)
    expect(Object.is(Op.MAX.combine(-0, 0), -0)).toBe(true)
    expect(Object.is(Op.MIN.combine(-0, 0), -0)).toBe(true)
    expect(Object.is(Op.MIN.combine(0, -0), 0)).toBe(true)
    expect(Op.MIN.combine("pear", "apple")).toBe("apple")
    expect(Op.MAX.combine(2n, 3)).toBe(3)
    expect(thrown(() => Op.MAX.combine({} as never, {} as never))).toBeInstanceOf(InvalidArgument)
  })

  it("logical ops give booleans from the values' truthiness", () => {
    expect(Op.LAND.combine(1, "x")).toBe(true)
    expect(Op.LAND.combine(0, true)).toBe(false)
    expect(Op.LOR.combine(0, "")).toBe(false)
    expect(Op.LOR.combine(null, [])).toBe(true)
    expect(Op.LXOR.combine(1, 0)).toBe(true)
    expect(Op.LXOR.combine(1, 2)).toBe(false)
  })

  it("bitwise ops take integers: numbers beyond 32 bits, bigints and booleans", () => {
    expect(Op.BAND.combine(0b1100, 0b1010)).toBe(0b1000)
    expect(Op.BOR.combine(0b1100, 0b1010)).toBe(0b1110)
    expect(Op.BXOR.combine(0b1100, 0b1010)).toBe(0b0110)
    expect(Op.BOR.combine(2 ** 40, 1)).toBe(2 ** 40 + 1)
    expect(Op.BAND.combine(-1, 2 ** 50)).toBe(2 ** 50)
    expect(Op.BXOR.combine(2n ** 70n, 1n)).toBe(2n ** 70n + 1n)
    expect(Op.BAND.combine(true, false)).toBe(false)
    expect(thrown(() => Op.BAND.combine(1.5, 1))).toBeInstanceOf(InvalidArgument)
  })

  it("MAXLOC and MINLOC take [value, index] pairs and break ties to the lower index", () => {
    expect(Op.MAXLOC.combine([3, 0], [5, 1])).toEqual([5, 1])
    expect(Op.MAXLOC.combine([5, 4], [5, 2])).toEqual([5, 2])
    expect(Op.MAXLOC.combine([5, 2], [5, 4])).toEqual([5, 2])
    expect(Op.MINLOC.combine([3, 7], [5, 1])).toEqual([3, 7])
    expect(Op.MINLOC.combine([3, 7], [3, 1])).toEqual([3, 1])
    expect(thrown(() => Op.MAXLOC.combine(3 as never, 4 as never))).toBeInstanceOf(InvalidArgument)
  })

  it("REPLACE gives the later value and NO_OP the earlier; neither commutes", () => {
    expect(Op.REPLACE.combine("early", "late")).toBe("late")
    expect(Op.NO_OP.combine("early", "late")).toBe("early")
    expect(Op.REPLACE.commutative).toBe(false)
    expect(Op.NO_OP.commutative).toBe(false)
    expect(Op.SUM.commutative).toBe(true)
  })

  it("built-in ops on two typed arrays of one class combine them elementwise", () => {
    expect(Op.SUM.combine(new Int32Array([1, 2]) as never, new Int32Array([10, 20]) as never)).toEqual(new Int32Array([11, 22]))
    expect(Op.MAX.combine(new Float64Array([1, 5]) as never, new Float64Array([3, 2]) as never)).toEqual(new Float64Array([3, 5]))
  })
})

describe("Op.make", () => {
  it("is not commutative unless told, and keeps its function", () => {
    const concat = Op.make((a: string, b: string) => a + b)
    expect(concat.commutative).toBe(false)
    expect(concat.combine("ab", "cd")).toBe("abcd")
    expect(Op.make((a: number, b: number) => a + b, { commutative: true }).commutative).toBe(true)
    expect(Op.isOp(concat)).toBe(true)
    expect(Op.isOp({ combine: () => 1 })).toBe(false)
  })

  it("applies its function element by element to buffers", () => {
    const hypot = Op.make((a: number, b: number) => Math.hypot(a, b), { commutative: true })
    expect(Op.reduceLocal(hypot, new Float64Array([3, 5]), new Float64Array([4, 12]))).toEqual(new Float64Array([5, 13]))
  })

  it("uses its buffer function on whole buffers when given one", () => {
    const reversed = Op.make((a: number, _b: number) => a, {
      buffer: (left, right, out) => {
        for (let i = 0; i < out.length; i++) (out as Float64Array)[i] = (left as Float64Array)[i]! - (right as Float64Array)[right.length - 1 - i]!
      }
    })
    expect(Op.reduceLocal(reversed, new Float64Array([10, 20, 30]), new Float64Array([1, 2, 3]))).toEqual(new Float64Array([7, 18, 29]))
  })
})

// ---------------------------------------------------------------------------
// Kernels against a reference

const integerBits: Partial<Record<string, [bits: number, signed: boolean]>> = {
  int8: [8, true],
  uint8: [8, false],
  int16: [16, true],
  uint16: [16, false],
  int32: [32, true],
  uint32: [32, false],
  int64: [64, true],
  uint64: [64, false]
}

/** `x op y` for one element, as C computes it for the datatype (wrap-around for integers, clamping for uint8clamped). */
const reference = (op: string, d: Datatype.Datatype, x: number | bigint, y: number | bigint): number | bigint => {
  const big = d.name === "int64" || d.name === "uint64"
  const bits = integerBits[d.name]
  const truthy = (v: number | bigint) => v !== 0 && v !== 0n
  const bool = (b: boolean) => (big ? (b ? 1n : 0n) : b ? 1 : 0)
  const store = (v: number | bigint) => {
    const one = new d.ctor(1) as TypedArray
    one[0] = v as never
    return one[0]!
  }
  const exact = (f: (a: bigint, b: bigint) => bigint): number | bigint => {
    const r = f(BigInt(x), BigInt(y))
    if (d.name === "uint8clamped") return store(Number(r))
    const [n, signed] = bits!
    const wrapped = signed ? BigInt.asIntN(n, r) : BigInt.asUintN(n, r)
    return big ? wrapped : Number(wrapped)
  }
  const integer = bits !== undefined || d.name === "uint8clamped"
  switch (op) {
    case "SUM":
      return integer ? exact((a, b) => a + b) : store((x as number) + (y as number))
    case "PROD":
      return integer ? exact((a, b) => a * b) : store((x as number) * (y as number))
    case "MAX":
      return y > x ? y : x
    case "MIN":
      return y < x ? y : x
    case "LAND":
      return bool(truthy(x) && truthy(y))
    case "LOR":
      return bool(truthy(x) || truthy(y))
    case "LXOR":
      return bool(truthy(x) !== truthy(y))
    case "BAND":
      return exact((a, b) => a & b)
    case "BOR":
      return exact((a, b) => a | b)
    case "BXOR":
      return exact((a, b) => a ^ b)
    case "REPLACE":
      return y
    default:
      return x
  }
}

const elementwiseOps = ["SUM", "PROD", "MAX", "MIN", "LAND", "LOR", "LXOR", "BAND", "BOR", "BXOR", "REPLACE", "NO_OP"] as const
const isFloat = (d: Datatype.Datatype) => d.name.startsWith("float")

/** Arbitrary element values for a datatype, edge values included. */
const elements = (d: Datatype.Datatype): fc.Arbitrary<number | bigint> => {
  const bits = integerBits[d.name]
  if (bits !== undefined && bits[0] === 64) {
    return bits[1] ? fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }) : fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })
  }
  if (bits !== undefined) {
    const [n, signed] = bits
    return signed ? fc.integer({ min: -(2 ** (n - 1)), max: 2 ** (n - 1) - 1 }) : fc.integer({ min: 0, max: 2 ** n - 1 })
  }
  if (d.name === "uint8clamped") return fc.integer({ min: 0, max: 255 })
  return fc.oneof(fc.constantFrom(0, -0, 1, -1, 0.5, 65504), fc.integer({ min: -1000, max: 1000 }).map((i) => i / 8))
}

describe("buffer kernels", () => {
  it("kernels.ts is what generate-kernels.ts writes", () => {
    expect(readFileSync(new URL("../../core/op/kernels.ts", import.meta.url), "utf8")).toBe(generate())
  })

  for (const d of Datatype.all) {
    it(`every op that applies to ${d.name} computes C's elementwise result`, () => {
      fc.assert(
        fc.property(fc.array(fc.tuple(elements(d), elements(d)), { minLength: 1, maxLength: 40 }), (pairs) => {
          const left = new d.ctor(pairs.length) as TypedArray
          const right = new d.ctor(pairs.length) as TypedArray
          pairs.forEach(([x, y], i) => {
            left[i] = x as never
            right[i] = y as never
          })
          for (const name of elementwiseOps) {
            const op = (Op as unknown as Record<string, Op.Op>)[name]!
            if (isFloat(d) && name.startsWith("B")) {
              expect(op.kernel(d)).toBeUndefined()
              continue
            }
            const out = Op.reduceLocal(op, left, right)
            for (let i = 0; i < pairs.length; i++) {
              expect([name, i, out[i]]).toEqual([name, i, reference(name, d, left[i]!, right[i]!)])
            }
          }
        }),
        { numRuns: 60 }
      )
    })
  }

  it("a kernel may write over either operand", () => {
    const left = new Int32Array([1, 2, 3])
    const right = new Int32Array([10, 20, 30])
    Op.reduceLocal(Op.SUM, left, right, right)
    expect(right).toEqual(new Int32Array([11, 22, 33]))
    Op.reduceLocal(Op.PROD, left, right, left)
    expect(left).toEqual(new Int32Array([11, 44, 99]))
  })

  it("MAXLOC and MINLOC read (value, index) pairs and break ties to the lower index", () => {
    const a = new Float64Array([1.5, 0, 7, 3, 2, 9])
    const b = new Float64Array([2.5, 1, 7, 1, 2, 4])
    expect(Op.reduceLocal(Op.MAXLOC, a, b)).toEqual(new Float64Array([2.5, 1, 7, 1, 2, 4]))
    expect(Op.reduceLocal(Op.MINLOC, a, b)).toEqual(new Float64Array([1.5, 0, 7, 1, 2, 4]))
    expect(Op.reduceLocal(Op.MAXLOC, new Int32Array([5, 3]), new Int32Array([4, 0]))).toEqual(new Int32Array([5, 3]))
    expect(Op.reduceLocal(Op.MINLOC, new BigInt64Array([5n, 3n]), new BigInt64Array([5n, 0n]))).toEqual(new BigInt64Array([5n, 0n]))
  })

  it("integer PROD wraps exactly where a double would lose bits", () => {
    expect(Op.reduceLocal(Op.PROD, new Int32Array([123456789]), new Int32Array([987654321]))[0]).toBe(Number(BigInt.asIntN(32, 123456789n * 987654321n)))
    expect(Op.reduceLocal(Op.PROD, new Uint32Array([4294967295]), new Uint32Array([4294967295]))[0]).toBe(1)
  })

  it("bitwise ops on float buffers fail with an error that says so", () => {
    const e = thrown(() => Op.reduceLocal(Op.BAND, new Float64Array(2), new Float64Array(2)))
    expect(e).toBeInstanceOf(InvalidArgument)
    expect((e as InvalidArgument).message).toContain("integer")
  })

  it("buffers of different classes or lengths do not combine", () => {
    expect(thrown(() => Op.reduceLocal(Op.SUM, new Int32Array(2), new Int32Array(3)))).toBeInstanceOf(InvalidArgument)
    expect(thrown(() => Op.reduceLocal(Op.SUM, new Int32Array(2), new Float64Array(2) as never))).toBeInstanceOf(InvalidArgument)
  })
})
