/**
 * Small pieces of memory for the transports' hot paths. A fresh ArrayBuffer
 * costs ~0.5 µs even for 200 bytes (and a fresh Uint8Array per frame showed
 * among the top costs of a 64-byte NATS stream), while a view of an existing
 * buffer costs ~50 ns. So envelopes, headers and small frames are carved out
 * of shared 64 KiB slabs: each piece is 8-byte aligned, zeroed when taken
 * (slab memory is never reused), and a slab lives as long as any piece of it.
 * A piece pins its whole slab, which is why buffers a caller may keep get
 * memory of their own (`ownCopy`).
 *
 * @example
 * ```ts
 * const slab = new Slab()
 * const header = slab.copy(ring, at, 24)   // a private copy of 24 ring bytes
 * const frame = slab.take(40)              // 40 zeroed bytes
 * ```
 */

/** `n` rounded up to a multiple of 8, exact for any safe integer (bitwise where that is exact). */
export const align8 = (n: number): number => (n <= 0x7ffffff8 ? (n + 7) & ~7 : Math.ceil(n / 8) * 8)

/** Up to this size element stores beat `set` (measured: ~64 B). */
const SMALL = 64

export class Slab {
  private slab = new Uint8Array(0)
  private at = 0
  /** Bytes of each slab. */
  readonly slabBytes: number
  /** Larger pieces get memory of their own. */
  readonly maxPiece: number

  constructor(slabBytes = 64 * 1024, maxPiece = 4096) {
    this.slabBytes = slabBytes
    this.maxPiece = maxPiece
  }

  /** `n` zeroed bytes starting 8-byte aligned in their ArrayBuffer. */
  take(n: number): Uint8Array {
    if (n > this.maxPiece) return new Uint8Array(n)
    let start = align8(this.at)
    if (start + n > this.slab.length) {
      this.slab = new Uint8Array(this.slabBytes)
      start = 0
    }
    this.at = start + n
    return this.slab.subarray(start, start + n)
  }

  /** A copy of `src[start, start + len)` for bytes that are dropped soon (envelopes, headers). */
  copy(src: Uint8Array, start: number, len: number): Uint8Array {
    if (len > this.maxPiece) return src.slice(start, start + len)
    const piece = this.take(len)
    if (len <= SMALL) for (let i = 0; i < len; i++) piece[i] = src[start + i]!
    else piece.set(src.subarray(start, start + len))
    return piece
  }
}

/** One chunk of a `Recycler` and how many of its pieces are still held. */
interface Chunk {
  readonly bytes: Uint8Array
  live: number
}

/** Chunks with pieces still held that a `Recycler` keeps track of (older ones are left to the garbage collector). */
const TRACKED_CHUNKS = 8
/** Emptied chunks a `Recycler` keeps for later. */
const FREE_CHUNKS = 2

/**
 * Pieces for copies whose holder says when it is done with them (`release`):
 * buffers copied out of a ring and then, when the message is taken, copied
 * on into the caller's array or into memory of their own. Where `Slab`
 * never reuses memory (a piece may be kept anywhere), a chunk here is used
 * again once every piece of it was released: from its start whenever
 * nothing of the current chunk is held (a receive that takes each message
 * as it comes copies through the same few kilobytes, warm in the cache),
 * and emptied chunks are kept for later instead of a fresh ArrayBuffer per
 * 64 KiB of traffic (measured: a 2-rank 4 KiB ping-pong allocated one every
 * ~15 messages, and its mean half round trip fell from 5.0–5.6 to 4.6 µs
 * without them). A piece never released pins its chunk until the garbage
 * collector frees it, as a `Slab` piece does.
 *
 * @example
 * ```ts
 * const bounce = new Recycler()
 * const piece = bounce.copy(ring, at, 4096)   // a private copy of 4 KiB of ring bytes
 * target.set(piece)
 * bounce.release(piece)                       // its memory serves the next copy
 * ```
 */
export class Recycler {
  private current: Chunk
  private at = 0
  private readonly held: Array<Chunk> = []
  private readonly free: Array<Chunk> = []
  readonly chunkBytes: number
  /** Larger copies get memory of their own. */
  readonly maxPiece: number

  constructor(chunkBytes = 64 * 1024, maxPiece = 4096) {
    this.chunkBytes = chunkBytes
    this.maxPiece = maxPiece
    this.current = { bytes: new Uint8Array(0), live: 0 }
  }

  /** A copy of `src[start, start + len)`, a piece of a chunk up to `maxPiece` bytes; `release` it when done. */
  copy(src: Uint8Array, start: number, len: number): Uint8Array {
    if (len > this.maxPiece) return src.slice(start, start + len)
    let chunk = this.current
    // Nothing of the current chunk is held: start it over.
    if (chunk.live === 0) this.at = 0
    if (this.at + len > chunk.bytes.length) {
      if (chunk.live > 0) {
        if (this.held.length === TRACKED_CHUNKS) this.held.shift()
        this.held.push(chunk)
      }
      chunk = this.current = this.free.pop() ?? { bytes: new Uint8Array(this.chunkBytes), live: 0 }
      this.at = 0
    }
    const piece = chunk.bytes.subarray(this.at, this.at + len)
    this.at = align8(this.at + len)
    chunk.live++
    piece.set(src.subarray(start, start + len))
    return piece
  }

  /** Gives back a piece `copy` returned (once): its bytes may be overwritten from now on. */
  release(piece: Uint8Array): void {
    const buffer = piece.buffer
    if (buffer === this.current.bytes.buffer) {
      this.current.live--
      return
    }
    const held = this.held
    for (let i = 0; i < held.length; i++) {
      const chunk = held[i]!
      if (chunk.bytes.buffer !== buffer) continue
      if (--chunk.live === 0) {
        held.splice(i, 1)
        if (this.free.length < FREE_CHUNKS) this.free.push(chunk)
      }
      return
    }
  }
}

/**
 * Whether a copy of `len` bytes goes to `pool` as a piece for data that is
 * usually dropped soon (a buffer received into a caller's array), rather
 * than to memory of its own: above the sizes `ownCopy` keeps on the V8 heap,
 * up to the pool's largest piece. A caller that keeps such a copy takes
 * `ownCopy` of it.
 */
export const pooledCopy = (pool: { readonly maxPiece: number }, len: number): boolean => len > SMALL && len <= pool.maxPiece

/** A copy of `src[start, start + len)` in memory of its own, for buffers the caller may keep. */
export const ownCopy = (src: Uint8Array, start: number, len: number): Uint8Array => {
  if (len > SMALL) return src.slice(start, start + len)
  const b = new Uint8Array(len)
  for (let i = 0; i < len; i++) b[i] = src[start + i]!
  return b
}
