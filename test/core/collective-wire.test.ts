/**
 * The byte stream collectives move through a board's slots (wire.ts): a
 * typed array written straight into a slot (`RawOutgoing`) is the same
 * stream as its raw message through `Outgoing`, and `takeRawInto` copies
 * such a stream into a receive array only when it fits that array.
 */
import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { raw } from "../../codecs/buffer.ts"
import * as Datatypes from "../../codecs/Datatype.ts"
import type { TypedArray } from "../../codecs/Datatype.ts"
import { Incoming, Outgoing, RawOutgoing, takeRawInto } from "../../core/collectives/shared/wire.ts"
import type { Encoded } from "../../core/messaging/Message.ts"

const streamOf = (s: { length: number; copy: (from: number, into: Uint8Array, at: number, n: number, view?: DataView) => void }, at = 40): Uint8Array => {
  const slot = new Uint8Array(at + s.length + 64)
  s.copy(0, slot, at, s.length, new DataView(slot.buffer))
  return slot.subarray(at, at + s.length)
}

const arrays = fc.oneof(
  fc.float64Array({ maxLength: 300 }),
  fc.int32Array({ maxLength: 300 }),
  fc.uint8Array({ maxLength: 300 }),
  fc.float32Array({ maxLength: 300 })
)

describe("a buffer's stream written in place", () => {
  it("is the stream of its raw message byte for byte, and parses back to the array", () => {
    fc.assert(fc.property(arrays, (array: TypedArray) => {
      const fast = streamOf(new RawOutgoing(array, Datatypes.of(array)))
      const slow = streamOf(new Outgoing({ codec: raw.id, frames: raw.encodeSync(array) }))
      expect(fast).toEqual(slow)
      const incoming = new Incoming(fast.length)
      incoming.put(0, fast, 0, fast.length)
      const m = incoming.message()
      expect(m.codec).toBe(raw.id)
      expect(Array.from(raw.decodeSync(m.frames) as Float64Array)).toEqual(Array.from(array as Float64Array))
    }))
  })

  it("pieces of it (a stream of several phases) are the same bytes too", () => {
    const array = Float64Array.from({ length: 1000 }, (_, i) => i / 3)
    const fast = new RawOutgoing(array, Datatypes.of(array))
    const whole = streamOf(new Outgoing({ codec: raw.id, frames: raw.encodeSync(array) }))
    const pieces = new Uint8Array(fast.length)
    for (let from = 0; from < fast.length; from += 1000) fast.copy(from, pieces, from, Math.min(1000, fast.length - from))
    expect(pieces).toEqual(whole)
  })
})

describe("takeRawInto", () => {
  const stream = (array: TypedArray) => {
    const bytes = streamOf(new RawOutgoing(array, Datatypes.of(array)), 0)
    return { bytes, view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength) }
  }

  it("copies the elements into an array of the datatype that holds them (the rest left as it was)", () => {
    fc.assert(fc.property(fc.float64Array({ minLength: 0, maxLength: 200, noNaN: true }), fc.nat(5), (array, extra) => {
      const { bytes, view } = stream(array)
      const into = new Float64Array(array.length + extra).fill(-1)
      expect(takeRawInto(bytes, view, 0, bytes.length, into, Datatypes.of(into))).toBe(true)
      expect(Array.from(into.subarray(0, array.length))).toEqual(Array.from(array))
      expect(Array.from(into.subarray(array.length))).toEqual(new Array(extra).fill(-1))
    }))
  })

  it("leaves anything else to the message path: another datatype, too many elements, a value, a cut stream", () => {
    const { bytes, view } = stream(Int32Array.of(1, 2, 3))
    const untouched = (into: TypedArray) => {
      const before = Array.from(into as ArrayLike<number>)
      return takeRawInto(bytes, view, 0, bytes.length, into, Datatypes.of(into)) === false && Array.from(into as ArrayLike<number>).every((x, i) => Object.is(x, before[i]))
    }
    expect(untouched(new Float32Array(3))).toBe(true)
    expect(untouched(new Int32Array(2))).toBe(true)
    expect(takeRawInto(bytes, view, 0, 40, new Int32Array(3), Datatypes.of(new Int32Array(3)))).toBe(false)
    const value = streamOf(new Outgoing({ codec: 1, frames: { header: new Uint8Array([1, 2, 3]), buffers: [] } }), 0)
    expect(takeRawInto(value, new DataView(value.buffer, value.byteOffset), 0, value.length, new Int32Array(3), Datatypes.of(new Int32Array(3)))).toBe(false)
  })
})

describe("a stream assembled on a receiving rank (Incoming)", () => {
  const received = (message: Encoded) => {
    const bytes = streamOf(new Outgoing(message))
    const incoming = new Incoming(bytes.length)
    incoming.put(0, bytes, 0, bytes.length)
    return incoming.message()
  }

  it("gives buffers that are memory of their own, whatever the stream's size: writing one changes nothing else", () => {
    for (const length of [1, 8, 100, 2000, 20_000]) {
      const array = Float64Array.from({ length }, (_, i) => i)
      const first = raw.decodeSync(received({ codec: raw.id, frames: raw.encodeSync(array) }).frames) as Float64Array
      const second = raw.decodeSync(received({ codec: raw.id, frames: raw.encodeSync(array) }).frames) as Float64Array
      expect(first.buffer).not.toBe(second.buffer)
      // A small stream is assembled in a shared slab, but its buffer comes out on its own.
      if (length <= 100) expect(first.buffer.byteLength).toBe(first.byteLength)
      first.fill(-1)
      expect(Array.from(second)).toEqual(Array.from(array))
    }
  })

  it("gives back the header and every buffer of a message, small or large, with or without buffers", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.uint8Array({ maxLength: 3000 }), { maxLength: 3 }), (header, buffers) => {
      const m = received({ codec: 7, frames: { header, buffers } })
      expect(m.codec).toBe(7)
      expect(Array.from(m.frames.header)).toEqual(Array.from(header))
      expect(m.frames.buffers.map((b) => Array.from(b))).toEqual(buffers.map((b) => Array.from(b)))
    }))
  })
})
