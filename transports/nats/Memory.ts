/**
 * Allocation for the hot paths. Profiles of a 64-byte stream showed a fresh
 * Uint8Array per frame among the top costs, and a 4 MiB stream spent more
 * time in the garbage collector and in first-touch page faults of fresh 1 MiB
 * frames than in copying: small pieces are carved out of shared slabs, and
 * full-size frames are reused once acknowledged (small pieces: ../Slab.ts).
 */
/**
 * Reuses large frame buffers. `take` hands out a view of a pooled buffer
 * (its bytes are stale: the caller writes every byte); `give` returns one
 * once nothing refers to it any more (the frame was acknowledged).
 */
export class FramePool {
  private readonly free = new Map<number, Array<ArrayBuffer>>()
  private keptBytes = 0
  /** Frames this large or larger are pooled. */
  readonly minBytes: number
  /** Bytes of idle buffers kept at most. */
  readonly maxKeptBytes: number

  constructor(minBytes = 64 * 1024, maxKeptBytes = 8 * 1024 * 1024) {
    this.minBytes = minBytes
    this.maxKeptBytes = maxKeptBytes
  }

  /** A frame of `length` bytes in a buffer of `capacity` bytes (pooled when large). */
  take(length: number, capacity: number): Uint8Array {
    if (length < this.minBytes) return new Uint8Array(length)
    const buffer = this.free.get(capacity)?.pop()
    if (buffer === undefined) return new Uint8Array(new ArrayBuffer(capacity), 0, length)
    this.keptBytes -= capacity
    return new Uint8Array(buffer, 0, length)
  }

  /** Returns a frame from `take`; frames not pooled are left to the garbage collector. */
  give(frame: Uint8Array): void {
    const buffer = frame.buffer
    if (frame.byteOffset !== 0 || !(buffer instanceof ArrayBuffer) || frame.length < this.minBytes) return
    if (this.keptBytes + buffer.byteLength > this.maxKeptBytes) return
    let list = this.free.get(buffer.byteLength)
    if (list === undefined) this.free.set(buffer.byteLength, (list = []))
    list.push(buffer)
    this.keptBytes += buffer.byteLength
  }
}
