/**
 * Bundles: several encoded values in one message, so that gather, scatter
 * and allgather move values between ranks without decoding or re-encoding
 * them on the way (each value is encoded once where it starts and decoded
 * once where it ends, as mpi4py's pickled collectives do).
 *
 * Layout: the bundle's header lists, per item, its codec id, its header
 * frame (inline: headers are small) and the lengths of its out-of-band
 * buffers. With one out-of-band buffer in all, it travels as is (a raw
 * block: no copy); with several, they are copied into one blob, each at an
 * 8-byte aligned offset, so that the message moves as one buffer. Why: on
 * shm every large buffer of a message is a rendezvous of its own, and with
 * more ranks than cores each rendezvous costs thread wake-ups (measured:
 * a Bruck allgather of 1 MiB per rank on 8 ranks took ~150–280 ms with one
 * buffer per item); a memory copy is far cheaper.
 */
import type { Frames } from "../../codecs/Codec.ts"
import { Reader } from "../../codecs/bytes/Reader.ts"
import { Writer } from "../../codecs/bytes/Writer.ts"
import { decodeError } from "../../codecs/errors.ts"
import { align8 } from "../../transports/Slab.ts"
import type { Encoded } from "../messaging/Message.ts"

/** The codec id a bundle carries in its envelope (no registered codec uses it). */
export const BUNDLE = 255

const writer = new Writer()

/** Packs encoded items into one message. */
export const pack = (items: ReadonlyArray<Encoded>): Encoded => {
  writer.begin()
  writer.varuint(items.length)
  let count = 0
  let blobBytes = 0
  let only: Uint8Array | undefined
  for (const item of items) {
    writer.u8(item.codec)
    writer.varuint(item.frames.header.byteLength)
    writer.bytes(item.frames.header)
    writer.varuint(item.frames.buffers.length)
    for (const b of item.frames.buffers) {
      writer.varuint(b.byteLength)
      blobBytes = align8(blobBytes) + b.byteLength
      only = b
      count++
    }
  }
  const header = writer.finish()
  if (count <= 1) return { codec: BUNDLE, frames: { header, buffers: only === undefined ? [] : [only] } }
  const blob = new Uint8Array(blobBytes)
  let at = 0
  for (const item of items) {
    for (const b of item.frames.buffers) {
      at = align8(at)
      blob.set(b, at)
      at += b.byteLength
    }
  }
  return { codec: BUNDLE, frames: { header, buffers: [blob] } }
}

/** The items of a received bundle (views of its header and buffers); throws `DecodeError` for a malformed one. */
export const unpack = (message: Encoded): Array<Encoded> => {
  if (message.codec !== BUNDLE) throw decodeError("bundle", 0, `expected a bundle of values, got a message of codec ${message.codec}`)
  const reader = new Reader("bundle", message.frames.header)
  const n = reader.varuint()
  // Each item takes at least 3 header bytes: bound n before allocating.
  if (n > reader.remaining) throw reader.fail(`${n} items in a header of ${reader.remaining} bytes`)
  const heads = new Array<{ codec: number; header: Uint8Array; lengths: Array<number> }>(n)
  let count = 0
  for (let i = 0; i < n; i++) {
    const codec = reader.u8()
    const header = reader.bytes(reader.varuint())
    const k = reader.varuint()
    if (k > reader.remaining) throw reader.fail(`item ${i} claims ${k} buffers`)
    const lengths = new Array<number>(k)
    for (let j = 0; j < k; j++) lengths[j] = reader.varuint()
    heads[i] = { codec, header, lengths }
    count += k
  }
  if (reader.remaining !== 0) throw reader.fail("trailing bytes after the last item")
  const buffers = message.frames.buffers
  if (buffers.length !== Math.min(count, 1)) throw reader.fail(`expected ${Math.min(count, 1)} buffers, got ${buffers.length}`)
  const blob = buffers[0]
  let at = 0
  const items = new Array<Encoded>(n)
  for (let i = 0; i < n; i++) {
    const { codec, header, lengths } = heads[i]!
    const frames: Array<Uint8Array> = new Array(lengths.length)
    for (let j = 0; j < lengths.length; j++) {
      const len = lengths[j]!
      if (count === 1) {
        if (len !== blob!.byteLength) throw reader.fail(`buffer of ${len} bytes announced, ${blob!.byteLength} received`)
        frames[j] = blob!
        continue
      }
      at = align8(at)
      if (at + len > blob!.byteLength) throw reader.fail(`buffers reach byte ${at + len} of a blob of ${blob!.byteLength}`)
      frames[j] = blob!.subarray(at, at + len)
      at += len
    }
    items[i] = { codec, frames: { header, buffers: frames } satisfies Frames }
  }
  return items
}
