import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { decodeInto, describe as describeSpec, peek, raw } from "../../codecs/buffer.ts"
import * as Datatype from "../../codecs/Datatype.ts"
import { EncodeError } from "../../codecs/errors.ts"
import { thrown } from "../support/thrown.ts"

const blocks = (t: Datatype.DerivedDatatype) => Array.from(t.offsets, (o, i) => [o, t.lengths[i]])
const bounds = (t: Datatype.DerivedDatatype) => ({ size: t.size, extent: t.extent, lowerBound: t.lowerBound })

describe("derived datatypes: sizes, extents and layouts as MPI defines them", () => {
  it("contiguous, vector, indexed and indexedBlock", () => {
    expect(bounds(Datatype.contiguous(3, "float64"))).toStrictEqual({ size: 24, extent: 24, lowerBound: 0 })
    expect(blocks(Datatype.contiguous(3, "float64"))).toStrictEqual([[0, 24]]) // one merged block
    const column = Datatype.vector(3, 1, 4, "float64") // a column of a 3×4 row-major matrix
    expect(bounds(column)).toStrictEqual({ size: 24, extent: 72, lowerBound: 0 })
    expect(blocks(column)).toStrictEqual([[0, 8], [32, 8], [64, 8]])
    expect(blocks(Datatype.vector(2, 2, 3, "int32"))).toStrictEqual([[0, 8], [12, 8]])
    expect(bounds(Datatype.vector(2, 2, 3, "int32"))).toStrictEqual({ size: 16, extent: 20, lowerBound: 0 })
    const upper = Datatype.indexed([3, 2, 1], [0, 4, 8], "float64") // the upper triangle of a 3×3 matrix
    expect(blocks(upper)).toStrictEqual([[0, 24], [32, 16], [64, 8]])
    expect(bounds(upper)).toStrictEqual({ size: 48, extent: 72, lowerBound: 0 })
    expect(blocks(Datatype.indexedBlock(2, [0, 6, 10], "int32"))).toStrictEqual([[0, 8], [24, 8], [40, 8]])
    expect(Datatype.vector(3, 1, 4, "float64").base?.name).toBe("float64")
  })

  it("subarray in C and Fortran order, with the whole array's extent", () => {
    const inner = Datatype.subarray([4, 4], [2, 2], [1, 1], "float64")
    expect(blocks(inner)).toStrictEqual([[40, 16], [72, 16]])
    expect(bounds(inner)).toStrictEqual({ size: 32, extent: 128, lowerBound: 0 })
    expect(blocks(Datatype.subarray([2, 3], [1, 3], [1, 0], "float64"))).toStrictEqual([[24, 24]]) // row 1
    expect(blocks(Datatype.subarray([2, 3], [1, 3], [1, 0], "float64", "F"))).toStrictEqual([[8, 8], [24, 8], [40, 8]])
    const face = Datatype.subarray([4, 4, 4], [1, 4, 4], [3, 0, 0], "int16") // the last x-face of a 4³ block
    expect(blocks(face)).toStrictEqual([[96, 32]])
    expect(blocks(Datatype.subarray([4, 4, 4], [4, 4, 1], [0, 0, 3], "int16")).length).toBe(16) // a z-face: 16 separate elements
  })

  it("struct pads its extent to its largest element, resized moves the bounds, and types nest", () => {
    const particle = Datatype.struct([1, 1], [0, 8], ["int32", "float64"])
    expect(bounds(particle)).toStrictEqual({ size: 12, extent: 16, lowerBound: 0 })
    expect(particle.base).toBeUndefined()
    expect(Datatype.struct([1, 1], [0, 4], ["int8", "int32"]).extent).toBe(8)
    expect(Datatype.struct([2], [0], ["float32"]).base?.name).toBe("float32")
    expect(bounds(Datatype.resized("float64", 0, 32))).toStrictEqual({ size: 8, extent: 32, lowerBound: 0 })
    const pairs = Datatype.vector(2, 1, 2, Datatype.contiguous(2, "int16"))
    expect(blocks(pairs)).toStrictEqual([[0, 4], [8, 4]])
    expect(bounds(pairs)).toStrictEqual({ size: 8, extent: 12, lowerBound: 0 })
  })

  it("refuses what cannot be built with InvalidDatatype", () => {
    const invalid = (f: () => unknown) => {
      const e = thrown(f)
      expect(e).toBeInstanceOf(Datatype.InvalidDatatype)
      return (e as Datatype.InvalidDatatype).message
    }
    expect(invalid(() => Datatype.vector(-1, 1, 2, "float64"))).toBe("Datatype.vector: count must be a non-negative integer, got -1")
    expect(invalid(() => Datatype.contiguous(2, "float63" as never))).toMatch(/unknown datatype "float63"/)
    expect(invalid(() => Datatype.indexed([1, 2], [0], "int8"))).toMatch(/same length/)
    expect(invalid(() => Datatype.subarray([4], [2], [3], "int8"))).toMatch(/dimension 0: a block of 2 from 3 does not fit in 4/)
    expect(invalid(() => Datatype.subarray([4, 4], [2, 2], [0, 0], "int8", "X" as never))).toMatch(/order must be "C" or "F"/)
  })
})

describe("derived datatypes on the raw path: packed on the wire, scattered into place", () => {
  const matrix = () => Float64Array.from({ length: 12 }, (_, i) => i) // 3×4, row-major

  it("sends a column of a row-major matrix as its elements, and receives it into a column elsewhere", () => {
    const col = Datatype.vector(3, 1, 4, "float64")
    const frames = raw.encodeSync([matrix().subarray(1), col, 1]) // column 1
    expect(raw.decodeSync(frames)).toStrictEqual(Float64Array.of(1, 5, 9))
    const target = new Float64Array(12).fill(-1)
    expect(decodeInto(frames, [target.subarray(2), col, 1])).toBe(3)
    expect(Array.from(target)).toStrictEqual([-1, -1, 1, -1, -1, -1, 5, -1, -1, -1, 9, -1]) // column 2; the rest untouched
  })

  it("sends several items, each an extent further, and a contiguous layout without copying", () => {
    const everyOther = Datatype.vector(2, 1, 2, "int32") // items of extent 12 bytes
    const data = Int32Array.from({ length: 8 }, (_, i) => i)
    expect(raw.decodeSync(raw.encodeSync([data, everyOther, 2]))).toStrictEqual(Int32Array.of(0, 2, 3, 5))
    const spec = [data, Datatype.contiguous(4, "int32"), 2] as const
    expect(describeSpec(spec).bytes.buffer).toBe(data.buffer) // a view of the caller's memory
    expect(describeSpec([data, everyOther]).count).toBe(4) // without a count: the items that fit (2)
  })

  it("a struct of mixed types travels as bytes and comes back into place", () => {
    const particle = Datatype.struct([1, 1], [0, 8], ["int32", "float64"])
    const memory = new ArrayBuffer(32)
    new Int32Array(memory)[0] = 7
    new Float64Array(memory)[1] = 2.5
    new Int32Array(memory)[4] = 8
    new Float64Array(memory)[3] = -1.5
    const frames = raw.encodeSync([memory, particle, 2])
    expect(peek(frames)).toMatchObject({ count: 24 }) // 2 × 12 bytes of data, as uint8
    const back = new ArrayBuffer(32)
    decodeInto(frames, [back, particle, 2])
    expect([new Int32Array(back)[0], new Float64Array(back)[1], new Int32Array(back)[4], new Float64Array(back)[3]]).toStrictEqual([7, 2.5, 8, -1.5])
  })

  it("a receive of fewer elements fills the first of the layout's places", () => {
    const frames = raw.encodeSync(Float64Array.of(10, 20))
    const target = new Float64Array(12)
    expect(decodeInto(frames, [target, Datatype.vector(3, 1, 4, "float64"), 1])).toBe(2)
    expect([target[0], target[4], target[8]]).toStrictEqual([10, 20, 0])
  })

  it("refuses a layout that overruns the buffer, for sending and for receiving", () => {
    const column = Datatype.vector(4, 1, 4, "float64")
    const e = thrown(() => raw.encodeSync([new Float64Array(10), column, 1]))
    expect(e).toBeInstanceOf(EncodeError)
    expect((e as EncodeError).message).toBe("raw: invalid buffer spec: the layout overruns the buffer: 1 × vector(4, 1, 4, float64) touches bytes 0..104 but the buffer has 80")
    expect(thrown(() => decodeInto(raw.encodeSync(new Float64Array(4)), [new Float64Array(10), column, 1]))).toBeInstanceOf(EncodeError)
    expect(thrown(() => raw.encodeSync([new Float64Array(16), column, 2]))).toBeInstanceOf(EncodeError) // the second item ends at 208
  })

  it("packs and scatters any vector layout exactly (property)", () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 3 }),
      (count, blocklength, extra, items) => {
        const type = Datatype.vector(count, blocklength, blocklength + extra - 1, "int16")
        const bytes = items * Math.max(type.extent, type.trueUpperBound) + 16
        const memory = Int16Array.from({ length: bytes / 2 }, (_, i) => i + 1)
        const packed = raw.decodeSync(raw.encodeSync([memory, type, items])) as Int16Array
        const expected: Array<number> = []
        for (let i = 0; i < items; i++) for (let c = 0; c < count; c++) for (let b = 0; b < blocklength; b++) {
          expected.push(memory[(i * type.extent) / 2 + c * (blocklength + extra - 1) + b]!)
        }
        expect(Array.from(packed)).toStrictEqual(expected)
        const target = new Int16Array(memory.length)
        decodeInto(raw.encodeSync(packed), [target, type, items])
        for (let k = 0; k < target.length; k++) if (target[k] !== 0) expect(target[k]).toBe(memory[k])
        expect(target.filter((x) => x !== 0).length).toBe(expected.length)
      }
    ))
  })
})
