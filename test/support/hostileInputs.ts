/**
 * Inputs crafted as an attacker would, for the decoders: nested containers
 * that each claim every byte left (so that naive preallocation multiplies by
 * the depth), and long runs of the smallest container (so that per-object
 * overhead multiplies the input). Built byte by byte, so that making them
 * costs no more memory than their length.
 */
import * as PickleFormat from "../../codecs/pickle/format.ts"
import { Tag as MarshalTag } from "../../codecs/marshal/format.ts"

export type CodecName = "pickle" | "marshal" | "cbor" | "msgpack"

const varuint = (n: number): Array<number> => {
  const out: Array<number> = []
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80)
    n = Math.floor(n / 0x80)
  }
  out.push(n)
  return out
}

const u32be = (n: number): Array<number> => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]

/** The head of an array of `n` items in each codec. */
const arrayHead = (codec: CodecName, n: number): Array<number> => {
  switch (codec) {
    case "pickle":
      return [PickleFormat.ARRAY, ...varuint(n)]
    case "marshal":
      return [MarshalTag.Array, ...varuint(n)]
    case "msgpack":
      return [0xdd, ...u32be(n)]
    case "cbor":
      return [0x9a, ...u32be(n)]
  }
}

/** Bytes a message of the codec starts with before its value. */
const prologue = (codec: CodecName): Array<number> => (codec === "pickle" ? [PickleFormat.VERSION] : [])

/**
 * `levels` nested arrays, each declaring as many items as there are bytes
 * after its head, around `filler` bytes of zeros (small integers in every
 * codec). Malformed: the items are never all there.
 */
export const nestedClaims = (codec: CodecName, levels: number, filler: number): Uint8Array => {
  const headSize = arrayHead(codec, 2 ** 24).length
  const total = prologue(codec).length + levels * headSize + filler
  const out = new Uint8Array(total)
  let at = 0
  for (const b of prologue(codec)) out[at++] = b
  for (let i = 0; i < levels; i++) {
    const left = total - at - headSize
    const head = arrayHead(codec, left)
    // Pad varuints to a fixed size so that every level's claim is exact.
    const padded = codec === "pickle" || codec === "marshal" ? padVaruint(head, headSize) : head
    out.set(padded, at)
    at += headSize
  }
  return out
}

/** A varuint head re-encoded in exactly `size` bytes (continuation bits on zero groups). */
const padVaruint = (head: Array<number>, size: number): Array<number> => {
  const [tag, ...digits] = head
  const groups = digits.map((d) => d & 0x7f)
  while (groups.length < size - 1) groups.push(0)
  return [tag!, ...groups.map((g, i) => (i < groups.length - 1 ? g | 0x80 : g))]
}

/** One array of `count` empty maps (a JS Map in pickle, an empty object elsewhere): valid input. */
export const emptyMaps = (codec: CodecName, count: number): Uint8Array => {
  const head = [...prologue(codec), ...arrayHead(codec, count)]
  const item = codec === "pickle" ? [PickleFormat.MAP, 0] : codec === "marshal" ? [0xb0] : codec === "msgpack" ? [0x80] : [0xa0]
  // marshal's first empty object defines the empty shape (ShapeNew, 0 keys); later ones refer to shape 0.
  const first = codec === "marshal" ? [MarshalTag.ShapeNew, 0] : item
  const out = new Uint8Array(head.length + first.length + (count - 1) * item.length)
  out.set(head, 0)
  out.set(first, head.length)
  for (let i = 0, at = head.length + first.length; i < count - 1; i++, at += item.length) out.set(item, at)
  return out
}

/** The head of a map (pickle: a Map; msgpack and cbor: a map; marshal: an object of that many keys, as a large object). */
const mapHead = (codec: CodecName, n: number): Array<number> => {
  switch (codec) {
    case "pickle":
      return [PickleFormat.MAP, ...varuint(n)]
    case "marshal":
      return [MarshalTag.LargeObject, ...varuint(n)]
    case "msgpack":
      return [0xdf, ...u32be(n)]
    case "cbor":
      return [0xba, ...u32be(n)]
  }
}

/** The head of a plain object/dictionary of `n` entries (pickle: a dictionary; others as their maps). */
const objectHead = (codec: CodecName, n: number): Array<number> =>
  codec === "pickle" ? [PickleFormat.OBJECT_DICT, ...varuint(n)] : mapHead(codec, n)

export interface Piece {
  readonly kind: "array" | "map" | "object"
  readonly count: number
  /** Heads nested one in the other. */
  readonly depth: number
  /** The nest written this many times in a row. */
  readonly repeat: number
}

/**
 * A message made of `pieces`: each a nest of `depth` container heads claiming
 * `count` items, repeated; then `filler` bytes of zeros; at most `maxBytes`
 * in all. Mostly malformed, on purpose: it exercises every count check and
 * budget at every depth.
 */
export const structured = (codec: CodecName, pieces: ReadonlyArray<Piece>, filler: number, maxBytes = 64 * 1024): Uint8Array => {
  const out = new Uint8Array(maxBytes)
  let at = 0
  const put = (bytes: ReadonlyArray<number>): boolean => {
    if (at + bytes.length > maxBytes) return false
    out.set(bytes, at)
    at += bytes.length
    return true
  }
  put(prologue(codec))
  for (const p of pieces) {
    const head = p.kind === "array" ? arrayHead(codec, p.count) : p.kind === "map" ? mapHead(codec, p.count) : objectHead(codec, p.count)
    let room = true
    for (let r = 0; r < p.repeat && room; r++) for (let d = 0; d < p.depth && room; d++) room = put(head)
  }
  at = Math.min(maxBytes, at + filler) // zeros
  return out.slice(0, at)
}
