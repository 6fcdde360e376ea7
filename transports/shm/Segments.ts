/**
 * Shared segments for collectives on shm: blocks of the job's arena that a
 * communicator's ranks all attach, with their words read and written through
 * `Atomics`, and the ranks' doorbells to signal with.
 *
 * A segment is an arena block counted once per member: the creator takes the
 * members' references at once, each member drops one with `detach`, and the
 * last frees the block. Segments take at most half the arena, so that
 * messages always have room.
 */
import type { SharedSegment, SharedSegments } from "../Transport.ts"
import type { Arena } from "./Arena.ts"
import type { Doorbells } from "./Doorbell.ts"
import { LINE } from "./Layout.ts"

/** The share of the arena that segments may use together with everything else allocated. */
const MAX_USED_FRACTION = 0.5

class Segment implements SharedSegment {
  readonly handle: number
  readonly bytes: Uint8Array
  private readonly words: Int32Array
  private readonly arena: Arena
  private readonly doorbells: Doorbells
  private detached = false

  constructor(handle: number, arena: Arena, doorbells: Doorbells, bytes: number) {
    this.handle = handle
    this.arena = arena
    this.doorbells = doorbells
    const payload = arena.payload(handle)
    this.bytes = new Uint8Array(arena.u8.buffer, payload, bytes)
    this.words = new Int32Array(arena.u8.buffer, payload, bytes >> 2)
  }

  load(word: number): number {
    return Atomics.load(this.words, word)
  }

  store(word: number, value: number): void {
    Atomics.store(this.words, word, value)
  }

  signal(rank: number): void {
    this.doorbells.nudge(rank)
  }

  detach(): void {
    if (this.detached) return
    this.detached = true
    this.arena.releaseBlock(this.handle)
  }
}

/** The shm transport's segments; `notify` lists the callbacks its progress engine calls on news. */
export class ShmSegments implements SharedSegments {
  private readonly watchers = new Set<() => void>()
  private readonly arena: Arena
  private readonly doorbells: Doorbells

  constructor(arena: Arena, doorbells: Doorbells) {
    this.arena = arena
    this.doorbells = doorbells
  }

  create(bytes: number, members: number): SharedSegment | undefined {
    if (!(Number.isInteger(bytes) && bytes > 0 && bytes % LINE === 0)) throw new RangeError(`a segment's size must be a positive multiple of ${LINE}, got ${bytes}`)
    const block = this.arena.allocBlock(bytes, true, MAX_USED_FRACTION)
    if (block < 0) return undefined
    for (let i = 1; i < members; i++) this.arena.retain(block)
    return new Segment(block, this.arena, this.doorbells, bytes)
  }

  attach(handle: number, bytes: number): SharedSegment {
    if (!(Number.isInteger(handle) && handle >= 0 && handle + bytes <= this.arena.bytes)) throw new RangeError(`no segment of ${bytes} bytes at ${handle}`)
    return new Segment(handle, this.arena, this.doorbells, bytes)
  }

  watch(news: () => void): () => void {
    this.watchers.add(news)
    return () => this.watchers.delete(news)
  }

  /** Tells the watchers that news was handled (called by the progress engine). */
  notify(): void {
    if (this.watchers.size === 0) return
    for (const w of this.watchers) w()
  }
}
