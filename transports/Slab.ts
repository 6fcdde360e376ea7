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

/**
 * Whether a copy of `len` bytes goes to `slab` as a piece for data that is
 * usually dropped soon (a buffer received into a caller's array), rather
 * than to memory of its own: above the sizes `ownCopy` keeps on the V8 heap,
 * up to the slab's largest piece. A caller that keeps such a copy takes
 * `ownCopy` of it.
 */
export const pooledCopy = (slab: Slab, len: number): boolean => len > SMALL && len <= slab.maxPiece

/** A copy of `src[start, start + len)` in memory of its own, for buffers the caller may keep. */
export const ownCopy = (src: Uint8Array, start: number, len: number): Uint8Array => {
  if (len > SMALL) return src.slice(start, start + len)
  const b = new Uint8Array(len)
  for (let i = 0; i < len; i++) b[i] = src[start + i]!
  return b
}
