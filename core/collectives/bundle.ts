/**
 * Bundles: several encoded values in one message, so that gather, scatter
 * and allgather move values between ranks without decoding or re-encoding
 * them on the way (each value is encoded once where it starts and decoded
 * once where it ends, as mpi4py's pickled collectives do).
 *
 * A bundle's header lists each item's codec id and number of frames; its
 * buffers are the items' frames one after another (header, then out-of-band
 * buffers). Packing copies no data: the buffers are the items' own.
 */
import type { Frames } from "../../codecs/Codec.ts"
import { Reader } from "../../codecs/bytes/Reader.ts"
import { Writer } from "../../codecs/bytes/Writer.ts"
import { decodeError } from "../../codecs/errors.ts"
import type { Encoded } from "../Message.ts"

/** The codec id a bundle carries in its envelope (no registered codec uses it). */
export const BUNDLE = 255

const writer = new Writer()

/** Packs encoded items into one message. */
export const pack = (items: ReadonlyArray<Encoded>): Encoded => {
  writer.begin()
  writer.varuint(items.length)
  const buffers: Array<Uint8Array> = []
  for (const item of items) {
    writer.u8(item.codec)
    writer.varuint(item.frames.buffers.length + 1)
    buffers.push(item.frames.header)
    for (const b of item.frames.buffers) buffers.push(b)
  }
  return { codec: BUNDLE, frames: { header: writer.finish(), buffers } }
}

/** The items of a received bundle (views of its buffers); throws `DecodeError` for a malformed one. */
export const unpack = (message: Encoded): Array<Encoded> => {
  if (message.codec !== BUNDLE) throw decodeError("bundle", 0, `expected a bundle of values, got a message of codec ${message.codec}`)
  const reader = new Reader("bundle", message.frames.header)
  const buffers = message.frames.buffers
  const n = reader.varuint()
  if (n > buffers.length) throw reader.fail(`${n} items but only ${buffers.length} buffers`)
  const items = new Array<Encoded>(n)
  let next = 0
  for (let i = 0; i < n; i++) {
    const codec = reader.u8()
    const count = reader.varuint()
    if (count < 1 || next + count > buffers.length) throw reader.fail(`item ${i} claims ${count} frames; the bundle has ${buffers.length - next} left`)
    const frames: Frames = { header: buffers[next]!, buffers: buffers.slice(next + 1, next + count) }
    items[i] = { codec, frames }
    next += count
  }
  if (next !== buffers.length || reader.remaining !== 0) throw reader.fail("trailing bytes or buffers after the last item")
  return items
}
