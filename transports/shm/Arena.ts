/**
 * The shared arena: one SharedArrayBuffer visible to every rank, carved into
 * 64-byte aligned, reference-counted blocks.
 *
 * Allocation is rare (a zero-copy buffer, a rendezvous destination), so a
 * plain first-fit allocator with boundary tags behind one futex-style lock is
 * enough. Each block starts with a 64-byte header inside the arena:
 *
 *   i32 state (FREE/USED magic) | i32 refcount | f64 size (header included)
 *   | f64 size of the physically previous block | f64 next free | f64 previous free
 *
 * Freed blocks merge with free neighbours and go to the front of the free
 * list, so warm pages are reused first (a fresh SharedArrayBuffer page costs
 * ~0.36 GB/s to touch here, a warm one runs at memcpy speed).
 *
 * Lifetimes. Arrays handed out (by `alloc`, or received as views of the arena)
 * must keep their block alive for as long as any view derived from them lives:
 * a decoder that builds `new Float64Array(frame.buffer, …)` over a received
 * frame drops the frame and keeps only its own view. So every hand-out gets a
 * SharedArrayBuffer object of its own over the same memory (a
 * `structuredClone` of the arena's, ~2 µs): every view
 * derived from it shares that object, and a FinalizationRegistry on it drops
 * the block's reference once the last such view is collected. `release` drops
 * it early. A hand-out's SharedArrayBuffer also tells which block a view
 * belongs to, whatever its offset.
 */
import type { SharedAllocator, SharedArrayConstructor, SharedArrayLike } from "../Transport.ts"
import { ARENA_FREE_HEAD_F64, ARENA_HIGH_WATER_F64, ARENA_LOCK, ARENA_USED_F64, LINE, type SharedRegions } from "./Layout.ts"

const FREE = 0x46524545
const USED = 0x55534544
const HEADER = LINE
/** A free remainder smaller than this stays with the allocated block. */
const MIN_SPLIT = 2 * LINE
const NONE = -1

/** Writes the initial state: one free block spanning the arena. Called once, by the launcher. */
export const initialize = (regions: SharedRegions): void => {
  const i32 = new Int32Array(regions.arena, 0, HEADER / 4)
  const f64 = new Float64Array(regions.arena, 0, HEADER / 8)
  i32[0] = FREE
  i32[1] = 0
  f64[1] = regions.arena.byteLength
  f64[2] = 0
  f64[3] = NONE
  f64[4] = NONE
  const meta = new Float64Array(regions.control)
  meta[ARENA_FREE_HEAD_F64] = 0
  meta[ARENA_HIGH_WATER_F64] = HEADER
  meta[ARENA_USED_F64] = 0
}

/** One hand-out: a SharedArrayBuffer object of its own that holds one reference to `block`. */
interface Handle {
  readonly block: number
  released: boolean
}

/** A rank's view of the arena: the `SharedAllocator` plus what the transport needs. */
export class Arena implements SharedAllocator {
  readonly bytes: number
  /** Views over the arena's own buffer object (never handed out). */
  readonly u8: Uint8Array
  private readonly i32: Int32Array
  private readonly f64: Float64Array
  private readonly ctl: Int32Array
  private readonly meta: Float64Array
  private readonly master: SharedArrayBuffer
  private readonly handles = new WeakMap<SharedArrayBuffer, Handle>()
  private readonly finalizer = new FinalizationRegistry<Handle>((h) => this.drop(h))

  /** Bytes in use (read without the lock: a reading for a dashboard, not for decisions). */
  usage(): { readonly used: number; readonly size: number } {
    return { used: this.meta[ARENA_USED_F64]!, size: this.bytes }
  }

  constructor(regions: SharedRegions) {
    this.master = regions.arena
    this.bytes = regions.arena.byteLength
    this.u8 = new Uint8Array(regions.arena)
    this.i32 = new Int32Array(regions.arena)
    this.f64 = new Float64Array(regions.arena)
    this.ctl = new Int32Array(regions.control)
    this.meta = new Float64Array(regions.control)
  }

  // ---- SharedAllocator ----------------------------------------------------

  /** A zeroed array of `length` elements in the arena, or `undefined` when the arena cannot hold it. */
  alloc<T extends SharedArrayLike>(ctor: SharedArrayConstructor<T>, length: number): T | undefined {
    const size = ctor.BYTES_PER_ELEMENT
    if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`alloc: length must be a non-negative integer, got ${length}`)
    if (!(Number.isInteger(size) && size > 0)) throw new TypeError("alloc: the constructor must be a typed array constructor")
    const bytes = length * size
    const block = this.allocBlock(bytes, true)
    if (block === NONE) return undefined
    return new ctor(this.handOut(block), block + HEADER, length)
  }

  /** Drops this rank's reference to the block behind `array` (from `alloc` or received); false if it holds none. */
  release(array: ArrayBufferView): boolean {
    const h = this.handles.get(array.buffer as SharedArrayBuffer)
    if (h === undefined || h.released) return false
    this.finalizer.unregister(h)
    this.drop(h)
    return true
  }

  /** Whether `array` lives in the arena. */
  owns(array: ArrayBufferView): boolean {
    const b = array.buffer
    return b instanceof SharedArrayBuffer && (b === this.master || this.handles.has(b))
  }

  // ---- for the transport --------------------------------------------------

  /**
   * The block that `view` lies in, when this rank holds a live reference to it
   * and the view is inside the block's payload; otherwise -1 (send by copy).
   */
  blockOf(view: Uint8Array): number {
    const b = view.buffer
    if (!(b instanceof SharedArrayBuffer)) return NONE
    const h = this.handles.get(b)
    if (h === undefined || h.released) return NONE
    const start = h.block + HEADER
    const end = h.block + this.f64[(h.block / 8) + 1]!
    return view.byteOffset >= start && view.byteOffset + view.byteLength <= end ? h.block : NONE
  }

  /** Adds a reference to `block` (for a receiver that will adopt it). */
  retain(block: number): void {
    Atomics.add(this.i32, (block / 4) + 1, 1)
  }

  /** Drops a reference to `block`; the last one frees it. */
  releaseBlock(block: number): void {
    if (this.i32[block / 4] !== USED) return
    if (Atomics.sub(this.i32, (block / 4) + 1, 1) === 1) this.free(block)
  }

  /**
   * A view of `length` bytes at `byteOffset` in the arena that owns one
   * (already counted) reference to `block`: it is released with `release` or
   * when every view derived from it is collected.
   */
  adopt(block: number, byteOffset: number, length: number): Uint8Array {
    return new Uint8Array(this.handOut(block), byteOffset, length)
  }

  /** Byte offset of a block's payload. */
  payload(block: number): number {
    return block + HEADER
  }

  /**
   * Allocates a block of at least `bytes` payload bytes with one reference;
   * -1 when no free block is large enough. `zero` clears reused memory
   * (memory above the high-water mark was never written and is zero already).
   */
  allocBlock(bytes: number, zero: boolean, maxUsedFraction = 1): number {
    const need = HEADER + Math.ceil(bytes / LINE) * LINE
    const f64 = this.f64
    this.lock()
    if (this.meta[ARENA_USED_F64]! + need > this.bytes * maxUsedFraction) {
      this.unlock()
      return NONE
    }
    let o = this.meta[ARENA_FREE_HEAD_F64]!
    while (o !== NONE && f64[(o / 8) + 1]! < need) o = f64[(o / 8) + 3]!
    if (o === NONE) {
      this.unlock()
      return NONE
    }
    const size = f64[(o / 8) + 1]!
    this.unlink(o)
    if (size - need >= MIN_SPLIT) {
      const rest = o + need
      this.i32[rest / 4] = FREE
      f64[(rest / 8) + 1] = size - need
      f64[(rest / 8) + 2] = need
      this.pushFront(rest)
      const after = o + size
      if (after < this.bytes) f64[(after / 8) + 2] = size - need
      f64[(o / 8) + 1] = need
    }
    this.i32[o / 4] = USED
    this.i32[(o / 4) + 1] = 1
    this.meta[ARENA_USED_F64] = this.meta[ARENA_USED_F64]! + f64[(o / 8) + 1]!
    // The split remainder's header right after the block was written too.
    const end = o + f64[(o / 8) + 1]! + HEADER
    const highWater = this.meta[ARENA_HIGH_WATER_F64]!
    if (end > highWater) this.meta[ARENA_HIGH_WATER_F64] = end
    this.unlock()
    if (zero && o + HEADER < highWater) this.u8.fill(0, o + HEADER, Math.min(o + HEADER + bytes, highWater))
    return o
  }

  // ---- internals ----------------------------------------------------------

  private handOut(block: number): SharedArrayBuffer {
    // A new object over the same memory (~2 µs). Never clone several in one
    // call: structured cloning keeps identity within one value.
    const sab = structuredClone(this.master)
    const h: Handle = { block, released: false }
    this.handles.set(sab, h)
    this.finalizer.register(sab, h, h)
    return sab
  }

  private drop(h: Handle): void {
    if (h.released) return
    h.released = true
    this.releaseBlock(h.block)
  }

  private free(block: number): void {
    const f64 = this.f64
    const i32 = this.i32
    this.lock()
    let o = block
    let size = f64[(o / 8) + 1]!
    this.meta[ARENA_USED_F64] = this.meta[ARENA_USED_F64]! - size
    i32[o / 4] = FREE
    const next = o + size
    if (next < this.bytes && i32[next / 4] === FREE) {
      this.unlink(next)
      size += f64[(next / 8) + 1]!
    }
    const prevSize = f64[(o / 8) + 2]!
    if (prevSize > 0 && i32[(o - prevSize) / 4] === FREE) {
      o -= prevSize
      this.unlink(o)
      size += f64[(o / 8) + 1]!
      i32[block / 4] = 0
    }
    f64[(o / 8) + 1] = size
    const after = o + size
    if (after < this.bytes) f64[(after / 8) + 2] = size
    this.pushFront(o)
    this.unlock()
  }

  private unlink(o: number): void {
    const f64 = this.f64
    const next = f64[(o / 8) + 3]!
    const prev = f64[(o / 8) + 4]!
    if (prev === NONE) this.meta[ARENA_FREE_HEAD_F64] = next
    else f64[(prev / 8) + 3] = next
    if (next !== NONE) f64[(next / 8) + 4] = prev
  }

  private pushFront(o: number): void {
    const f64 = this.f64
    const head = this.meta[ARENA_FREE_HEAD_F64]!
    f64[(o / 8) + 3] = head
    f64[(o / 8) + 4] = NONE
    if (head !== NONE) f64[(head / 8) + 4] = o
    this.meta[ARENA_FREE_HEAD_F64] = o
  }

  /** A futex-style mutex (0 free, 1 held, 2 held with waiters); critical sections are a few list operations. */
  private lock(): void {
    const ctl = this.ctl
    if (Atomics.compareExchange(ctl, ARENA_LOCK, 0, 1) === 0) return
    for (let i = 0; i < 64; i++) if (Atomics.compareExchange(ctl, ARENA_LOCK, 0, 1) === 0) return
    while (Atomics.exchange(ctl, ARENA_LOCK, 2) !== 0) Atomics.wait(ctl, ARENA_LOCK, 2, 5)
  }

  private unlock(): void {
    if (Atomics.exchange(this.ctl, ARENA_LOCK, 0) === 2) Atomics.notify(this.ctl, ARENA_LOCK, 1)
  }
}
