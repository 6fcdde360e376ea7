/**
 * Private copies of small things out of the rings.
 *
 * Allocating a fresh ArrayBuffer costs ~0.5 µs here even for 200 bytes, and
 * taking `.buffer` of a small typed array moves it off the heap (~0.3 µs),
 * while a view of an existing ArrayBuffer costs ~50 ns. Envelopes and headers
 * are read and dropped soon after, so they share 64 KiB slabs (a view pins
 * its whole slab, which is why buffers the caller may keep get memory of
 * their own).
 */
const SLAB_BYTES = 64 * 1024
/** Larger copies get their own memory. */
const SLAB_MAX = 4096
/** Up to this size element stores beat `set` (measured: ~64 B). */
const SMALL = 64

export class Slab {
  private buffer = new ArrayBuffer(SLAB_BYTES)
  private bytes = new Uint8Array(this.buffer)
  private pos = 0

  /** A copy of `src[start, start + len)` for bytes that are dropped soon (envelopes, headers). */
  copy(src: Uint8Array, start: number, len: number): Uint8Array {
    if (len > SLAB_MAX) return src.slice(start, start + len)
    if (this.pos + len > SLAB_BYTES) {
      this.buffer = new ArrayBuffer(SLAB_BYTES)
      this.bytes = new Uint8Array(this.buffer)
      this.pos = 0
    }
    const at = this.pos
    this.pos = (at + len + 7) & ~7
    const bytes = this.bytes
    if (len <= SMALL) for (let i = 0; i < len; i++) bytes[at + i] = src[start + i]!
    else bytes.set(src.subarray(start, start + len), at)
    return new Uint8Array(this.buffer, at, len)
  }
}

/** A copy of `src[start, start + len)` in memory of its own, for buffers the caller may keep. */
export const ownCopy = (src: Uint8Array, start: number, len: number): Uint8Array => {
  if (len > SMALL) return src.slice(start, start + len)
  const b = new Uint8Array(len)
  for (let i = 0; i < len; i++) b[i] = src[start + i]!
  return b
}
