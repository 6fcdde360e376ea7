import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { CodecIds } from "../../codecs/Codec.ts"
import type { Frames } from "../../codecs/Codec.ts"
import * as Datatype from "../../codecs/Datatype.ts"
import type { TypedArray } from "../../codecs/Datatype.ts"
import { decodeInto, describe as describeSpec, isBufferSpec, peek, raw } from "../../codecs/buffer.ts"
import { DatatypeMismatch, DecodeError, EncodeError, Truncated } from "../../codecs/errors.ts"
import * as Registry from "../../codecs/registry.ts"
import { thrown } from "../support/thrown.ts"


/** An array of `d` with `n` elements, sitting at element offset 3 of a larger buffer. */
const offsetView = (d: Datatype.Datatype, n: number): TypedArray => {
  const backing = new d.ctor(n + 7)
  const view = new d.ctor(backing.buffer, 3 * d.size, n)
  for (let i = 0; i < n; i++) {
    if (d.name === "int64" || d.name === "uint64") (view as BigInt64Array)[i] = BigInt(i * 1000 + 7)
    else (view as Float64Array)[i] = (i * 37 + 5) % 120
  }
  return view
}

/** Frames whose data buffer is a copy of `frames`' at byte offset `offset` of a fresh buffer. */
const movedTo = (frames: Frames, offset: number): Frames => {
  const data = frames.buffers[0]!
  const backing = new Uint8Array(offset + data.byteLength)
  backing.set(data, offset)
  return { header: frames.header.slice(), buffers: [backing.subarray(offset)] }
}

const plain = (a: TypedArray): Array<unknown> => Array.from(a as ArrayLike<unknown>)

describe("Datatype", () => {
  it("has a stable one-byte id for each datatype", () => {
    const ids = Object.fromEntries(Datatype.all.map((d) => [d.name, d.id]))
    expect(ids).toMatchObject({
      int8: 1, uint8: 2, uint8clamped: 3, int16: 4, uint16: 5, int32: 6, uint32: 7,
      float32: 9, float64: 10, int64: 11, uint64: 12
    })
    expect(Datatype.byName("float16")?.id).toBe(typeof Float16Array === "function" ? 8 : undefined)
  })

  it("discovers the datatype of every typed array class, subclasses and Buffers included", () => {
    expect(Datatype.of(new Float64Array(1)).name).toBe("float64")
    expect(Datatype.of(new Uint8ClampedArray(1)).name).toBe("uint8clamped")
    expect(Datatype.of(new BigUint64Array(1)).name).toBe("uint64")
    expect(Datatype.of(Buffer.alloc(2)).name).toBe("uint8")
    class Vector extends Float32Array {}
    expect(Datatype.of(new Vector(2)).name).toBe("float32")
    for (const d of Datatype.all) {
      expect(Datatype.of(new d.ctor(1))).toBe(d)
      expect(Datatype.byName(d.name)).toBe(d)
      expect(Datatype.byId(d.id)).toBe(d)
      expect(d.size).toBe(d.ctor.BYTES_PER_ELEMENT)
    }
    expect(Datatype.byName("int33")).toBeUndefined()
    expect(Datatype.byId(0)).toBeUndefined()
  })

  it("isTypedArray is true for typed arrays only: not DataView, ArrayBuffer or plain arrays", () => {
    expect(Datatype.isTypedArray(new Int16Array(2))).toBe(true)
    expect(Datatype.isTypedArray(Buffer.alloc(1))).toBe(true)
    for (const x of [new DataView(new ArrayBuffer(4)), new ArrayBuffer(4), [1, 2], { length: 1 }, null, undefined, 3, "s"]) {
      expect(Datatype.isTypedArray(x)).toBe(false)
    }
  })

  it("float16 exists exactly where the runtime has Float16Array", () => {
    const has = typeof (globalThis as { Float16Array?: unknown }).Float16Array === "function"
    expect(Datatype.all.some((d) => d.name === "float16")).toBe(has)
  })
})

describe("the raw buffer path", () => {
  it("is registered as codec 0, named raw", () => {
    expect(raw.id).toBe(CodecIds.raw)
    expect(Registry.getById(0)).toBe(raw)
    expect(Registry.getByName("raw")).toBe(raw)
  })

  it("round-trips every typed array class, including views at an offset into a larger buffer", () => {
    for (const d of Datatype.all) {
      for (const n of [0, 1, 5, 1000]) {
        const sent = offsetView(d, n)
        const received = raw.decodeSync(raw.encodeSync(sent)) as TypedArray
        expect(received.constructor).toBe(d.ctor)
        expect(received.length).toBe(n)
        expect(plain(received)).toEqual(plain(sent))
      }
    }
  })

  it("writes a header of the datatype id and the count as a varuint", () => {
    expect([...raw.encodeSync(new Float64Array(3)).header]).toEqual([10, 3])
    expect([...raw.encodeSync(new Int8Array(300)).header]).toEqual([1, 0xac, 0x02])
  })

  it("sends the caller's memory itself: the data buffer is a view, never a copy", () => {
    const backing = new Float64Array(100)
    const sent = backing.subarray(10, 20)
    const frames = raw.encodeSync(sent)
    const data = frames.buffers[0]!
    expect(data.buffer).toBe(backing.buffer)
    expect(data.byteOffset).toBe(80)
    expect(data.byteLength).toBe(80)
    sent[0] = 42 // a later write shows through: proof that nothing was copied
    expect(new Float64Array(data.buffer, data.byteOffset, 1)[0]).toBe(42)
  })

  it("decodes to a view of the received bytes when they are aligned for the element size", () => {
    const frames = movedTo(raw.encodeSync(new Float64Array([1.5, -2, 3])), 16)
    const received = raw.decodeSync(frames) as Float64Array
    expect(received.buffer).toBe(frames.buffers[0]!.buffer)
    expect(received.byteOffset).toBe(16)
    expect([...received]).toEqual([1.5, -2, 3])
  })

  it("decodes to a correct copy when the received bytes are not aligned", () => {
    for (const d of Datatype.all.filter((d) => d.size > 1)) {
      const sent = offsetView(d, 9)
      const frames = movedTo(raw.encodeSync(sent), 3)
      const received = raw.decodeSync(frames) as TypedArray
      expect(received.buffer).not.toBe(frames.buffers[0]!.buffer)
      expect(received.constructor).toBe(d.ctor)
      expect(plain(received)).toEqual(plain(sent))
    }
  })

  it("sends [data, datatype, count]: count elements of that datatype from data's bytes", () => {
    const ints = new Int32Array([1, -2, 3, 4])
    const bytes = new Uint8Array(ints.buffer)
    const frames = raw.encodeSync([bytes, "int32", 3])
    expect(frames.buffers[0]!.buffer).toBe(ints.buffer)
    const received = raw.decodeSync(frames)
    expect(received).toBeInstanceOf(Int32Array)
    expect([...(received as Int32Array)]).toEqual([1, -2, 3])
  })

  it("without a count sends as many whole elements as fit", () => {
    const bytes = new Uint8Array(10)
    expect(describeSpec([bytes, "int32"]).count).toBe(2)
    expect(describeSpec([bytes.buffer, "float64"]).count).toBe(1)
    expect(describeSpec([new DataView(bytes.buffer, 1, 9), "int16"]).count).toBe(4)
    expect(describeSpec([bytes, "uint8", 0]).count).toBe(0)
    const { bytes: view } = describeSpec([new Float32Array(4).subarray(1), "uint8"])
    expect([view.byteOffset, view.byteLength]).toEqual([4, 12])
  })

  it("refuses bad specs with an EncodeError that says what is wrong", () => {
    const cases: Array<[unknown, RegExp]> = [
      [[new Uint8Array(8), "int33"], /unknown datatype "int33"; known: int8, uint8/],
      [[new Uint8Array(8), "int32", 3], /count 3 int32 needs 12 bytes but the data has 8/],
      [[new Uint8Array(8), "int32", -1], /count must be a non-negative integer, got -1/],
      [[new Uint8Array(8), "int32", 1.5], /count must be a non-negative integer, got 1.5/],
      [[[1, 2, 3], "int32"], /data must be a typed array, DataView or ArrayBuffer, got Array/],
      [["abc", "uint8"], /data must be a typed array, DataView or ArrayBuffer, got string/],
      [{ length: 3 }, /expected a typed array or \[data, datatype, count\?\], got Object/],
      [[new Uint8Array(1)], /expected a typed array or \[data, datatype, count\?\]/],
      [42, /expected a typed array or \[data, datatype, count\?\], got number/]
    ]
    for (const [spec, message] of cases) {
      const e = thrown(() => raw.encodeSync(spec))
      expect(e).toBeInstanceOf(EncodeError)
      expect((e as EncodeError).message).toMatch(message)
      expect((e as EncodeError).path).toBe("$")
    }
  })

  it("isBufferSpec accepts typed arrays and [buffer, datatype, count?] only, never an ordinary tuple", () => {
    expect(isBufferSpec(new Float32Array(1))).toBe(true)
    expect(isBufferSpec([new Uint8Array(4), "int32"])).toBe(true)
    expect(isBufferSpec([new ArrayBuffer(4), "int32", 1])).toBe(true)
    expect(isBufferSpec([new Uint8Array(4), "hello"])).toBe(false)
    expect(isBufferSpec([new Uint8Array(4), "int32", 1, 2])).toBe(false)
    expect(isBufferSpec([1, "int32"])).toBe(false)
    expect(isBufferSpec(new DataView(new ArrayBuffer(1)))).toBe(false)
    expect(isBufferSpec("int32")).toBe(false)
  })

  it("peek reads the datatype and count without decoding", () => {
    const { count, datatype } = peek(raw.encodeSync(new Uint16Array(70000)))
    expect(datatype.name).toBe("uint16")
    expect(count).toBe(70000)
  })

  it("refuses malformed frames with a DecodeError that says what is wrong", () => {
    const good = raw.encodeSync(new Int32Array([1, 2]))
    const cases: Array<[Frames, RegExp]> = [
      [{ header: new Uint8Array([]), buffers: good.buffers }, /byte 0: unexpected end of input/],
      [{ header: new Uint8Array([99, 2]), buffers: good.buffers }, /unknown datatype id 99/],
      [{ header: new Uint8Array([6]), buffers: good.buffers }, /unexpected end of input in a varint/],
      [{ header: new Uint8Array([6, 2, 0]), buffers: good.buffers }, /byte 2: 1 unexpected bytes after the header/],
      [{ header: good.header, buffers: [] }, /expected 1 data buffer, got 0/],
      [{ header: good.header, buffers: [good.buffers[0]!, good.buffers[0]!] }, /expected 1 data buffer, got 2/],
      [{ header: good.header, buffers: [new Uint8Array(7)] }, /declares 2 int32 \(8 bytes\) but the data buffer has 7 bytes/],
      // a count of 2^40 elements against a few bytes: refused before anything is allocated
      [{ header: new Uint8Array([10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20]), buffers: [new Uint8Array(8)] },
        /declares 1099511627776 float64 .* but the data buffer has 8 bytes/]
    ]
    for (const [frames, message] of cases) {
      const e = thrown(() => raw.decodeSync(frames))
      expect(e).toBeInstanceOf(DecodeError)
      expect((e as DecodeError).message).toMatch(message)
      if (frames.buffers.length === 1) expect(thrown(() => decodeInto(frames, new Int32Array(4)))).toBeInstanceOf(DecodeError)
    }
  })

  it.effect("encode and decode fail in the error channel with the typed errors", () =>
    Effect.gen(function* () {
      const bad = yield* Effect.exit(raw.encode([new Uint8Array(2), "nope"]))
      expect(Exit.isFailure(bad)).toBe(true)
      const error = yield* Effect.flip(raw.decode({ header: new Uint8Array([0]), buffers: [] }))
      expect(error).toBeInstanceOf(DecodeError)
      const value = yield* raw.decode(yield* raw.encode(new Uint8Array([7])))
      expect([...(value as Uint8Array)]).toEqual([7])
    }))
})

describe("receiving into the caller's buffer (decodeInto)", () => {
  it("copies the message into the buffer and returns the element count", () => {
    const frames = raw.encodeSync(new Float64Array([1, 2, 3]))
    const target = new Float64Array(5).fill(-1)
    expect(decodeInto(frames, target)).toBe(3)
    expect([...target]).toEqual([1, 2, 3, -1, -1])
  })

  it("accepts [buffer, datatype, count] as the receive buffer, count being its capacity", () => {
    const frames = raw.encodeSync(new Int32Array([7, 8]))
    const bytes = new Uint8Array(16)
    expect(decodeInto(frames, [bytes, "int32", 2])).toBe(2)
    expect([...new Int32Array(bytes.buffer, 0, 2)]).toEqual([7, 8])
    expect(thrown(() => decodeInto(frames, [bytes, "int32", 1]))).toBeInstanceOf(Truncated)
  })

  it("fails with DatatypeMismatch naming both datatypes when the buffer's datatype differs", () => {
    const frames = raw.encodeSync(new Float64Array(4))
    const e = thrown(() => decodeInto(frames, new Int32Array(8)))
    expect(e).toBeInstanceOf(DatatypeMismatch)
    expect((e as DatatypeMismatch).message).toBe("message holds float64 but the receive buffer is Int32Array")
    expect((e as DatatypeMismatch).expected).toBe("int32")
    expect((e as DatatypeMismatch).received).toBe("float64")
    const tuple = thrown(() => decodeInto(frames, [new Uint8Array(64), "int64"]))
    expect((tuple as DatatypeMismatch).message).toBe("message holds float64 but the receive buffer is int64 buffer")
  })

  it("fails with Truncated when the message has more elements than the buffer holds", () => {
    const frames = raw.encodeSync(new Int32Array(1000))
    const e = thrown(() => decodeInto(frames, new Int32Array(100)))
    expect(e).toBeInstanceOf(Truncated)
    expect((e as Truncated).message).toBe("message of 1000 int32 does not fit a receive buffer of 100")
    expect((e as Truncated).capacity).toBe(100)
    expect((e as Truncated).count).toBe(1000)
  })

  it("loses nothing on failure: the same frames decode afterwards", () => {
    const sent = new Int32Array([5, 6, 7])
    const frames = raw.encodeSync(sent)
    const before = { header: [...frames.header], data: [...frames.buffers[0]!] }
    const small = new Int32Array(2).fill(9)
    expect(thrown(() => decodeInto(frames, small))).toBeInstanceOf(Truncated)
    expect(thrown(() => decodeInto(frames, new Float32Array(3)))).toBeInstanceOf(DatatypeMismatch)
    expect([...small]).toEqual([9, 9]) // nothing partially written
    expect({ header: [...frames.header], data: [...frames.buffers[0]!] }).toEqual(before)
    const target = new Int32Array(3)
    expect(decodeInto(frames, target)).toBe(3)
    expect([...target]).toEqual([5, 6, 7])
    expect([...(raw.decodeSync(frames) as Int32Array)]).toEqual([5, 6, 7])
  })

  it("refuses a malformed receive buffer spec with an EncodeError", () => {
    const frames = raw.encodeSync(new Int32Array(1))
    expect(thrown(() => decodeInto(frames, [new Uint8Array(4), "int33" as "int32"]))).toBeInstanceOf(EncodeError)
  })
})
