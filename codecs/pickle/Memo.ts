/**
 * The pickle encoder's memo: the objects a message has written so far, each
 * with its ordinal (the order its tag was written) and where that tag is, so
 * that a second reference writes the ordinal and patches the first tag.
 *
 * Identity is all JavaScript lets us hash on, through `Set` and `Map`. Their
 * tables are the cost (measured on the 2-core VM, 20,000 objects a message):
 * - a table that outgrows 4,096 entries (~100 KB) goes to V8's large-object
 *   space, and every such table is fresh memory: a message of 20,000 objects
 *   grew three of them (~1.1 MB) and spent ~230 ns an object in `Set.add`,
 *   against ~20 ns while a table stays small;
 * - so the memo keeps its tables small: shards of `SHARD` objects each, by
 *   ordinal (shard j holds ordinals j·SHARD … (j+1)·SHARD − 1). A new object
 *   is looked up in every full shard and added to the last;
 * - past `MAX_SHARDS` the lookups would cost more than one large table: the
 *   shards are merged into one table that takes every object after them.
 *
 * The modes, in the order a message goes through them:
 * - small: the first `SMALL` objects, searched linearly (a small message makes
 *   no hash table at all);
 * - set: membership only (a tree never needs an ordinal back), one `Set.add`
 *   per new object;
 * - map: object → ordinal, built from `byOrdinal` at the first object met twice.
 */

/** Objects searched linearly before any table is made. */
const SMALL = 16
/** Objects per shard: its table stays out of V8's large-object space. */
export const SHARD = 4096
/** Shards before they are merged into one table. */
export const MAX_SHARDS = 8
/** Ordinal tables larger than this are dropped after the message. */
const KEEP_ORDINALS = 1 << 18

const M_SMALL = 0
const M_SET = 1
const M_MAP = 2

/**
 * Objects numbered in one message, by identity.
 *
 * @example
 * ```ts
 * const memo = new Memo()
 * const a = {}
 * memo.admit(a, 1)      // -1: new, now ordinal 0, its tag at offset 1
 * memo.admit(a, 9)      // 0: written before
 * memo.offsetOf(0)      // 1
 * memo.clear()          // lets go of the message's objects
 * ```
 */
export class Memo {
  /** Ordinals given so far (the next object's ordinal). */
  size = 0
  private mode = M_SMALL
  private readonly byOrdinal: Array<object | undefined> = []
  private readonly offsets: Array<number> = []
  /** Full shards, then the one being filled (`sets` in set mode, `maps` in map mode). */
  private readonly sets: Array<Set<object>> = [new Set()]
  private readonly maps: Array<Map<object, number>> = [new Map()]
  /** The shard being filled: its index, and its table. */
  private last = 0
  private set: Set<object> = this.sets[0]!
  private map: Map<object, number> = this.maps[0]!
  /** Whether the shards were merged: `last` then takes every object, with no size bound. */
  private merged = false

  /** Where the tag of object `ordinal` is, from the message's start. */
  offsetOf(ordinal: number): number {
    return this.offsets[ordinal]!
  }

  /** The ordinal of `o` if this message already wrote it; else -1, and `o` gets the next ordinal, its tag at `offset`. */
  admit(o: object, offset: number): number {
    if (this.mode === M_SET) {
      const sets = this.sets
      for (let j = 0; j < this.last; j++) if (sets[j]!.has(o)) return this.toMapMode(o)
      // One Set.add answers both questions for the common new object.
      const set = this.set
      const before = set.size
      set.add(o)
      if (set.size === before) return this.toMapMode(o)
      this.filled(this.number(o, offset))
      return -1
    }
    const seen = this.seen(o)
    if (seen === -1) this.add(o, offset)
    return seen
  }

  /** The ordinal of `o` if this message already wrote it, else -1. */
  seen(o: object): number {
    const mode = this.mode
    if (mode === M_MAP) {
      const maps = this.maps
      for (let j = 0; j < this.last; j++) {
        const at = maps[j]!.get(o)
        if (at !== undefined) return at
      }
      const at = this.map.get(o)
      return at === undefined ? -1 : at
    }
    if (mode === M_SET) {
      const sets = this.sets
      for (let j = 0; j <= this.last; j++) if (sets[j]!.has(o)) return this.toMapMode(o)
      return -1
    }
    const byOrdinal = this.byOrdinal
    for (let i = 0; i < this.size; i++) if (byOrdinal[i] === o) return i
    return -1
  }

  /** Gives `o`, which this message has not written, the next ordinal, its tag at `offset`. */
  add(o: object, offset: number): void {
    const n = this.number(o, offset)
    const mode = this.mode
    if (mode === M_SET) this.set.add(o)
    else if (mode === M_MAP) this.map.set(o, n)
    else if (n + 1 === SMALL) {
      for (let i = 0; i <= n; i++) this.set.add(this.byOrdinal[i]!)
      this.mode = M_SET
      return
    } else return
    this.filled(n)
  }

  /** Lets go of the message's objects. */
  clear(): void {
    if (this.mode !== M_SMALL) {
      for (let j = 0; j <= this.last; j++) {
        // clear() makes a new table even for an empty Set or Map.
        if (this.sets[j]!.size !== 0) this.sets[j]!.clear()
        if (this.maps[j]!.size !== 0) this.maps[j]!.clear()
      }
      this.mode = M_SMALL
      this.firstShard(false)
    }
    const byOrdinal = this.byOrdinal
    for (let i = 0; i < this.size; i++) byOrdinal[i] = undefined
    this.size = 0
    if (byOrdinal.length > KEEP_ORDINALS) {
      byOrdinal.length = 0
      this.offsets.length = 0
    }
  }

  private number(o: object, offset: number): number {
    const n = this.size++
    if (n < this.offsets.length) {
      this.offsets[n] = offset
      this.byOrdinal[n] = o
    } else {
      this.offsets.push(offset)
      this.byOrdinal.push(o)
    }
    return n
  }

  /** Object `n` went into the shard being filled: if that filled it, the next one starts. */
  private filled(n: number): void {
    if (n % SHARD === SHARD - 1 && !this.merged) this.nextShard()
  }

  /** The shard being filled is full: start the next one, or merge them all once there are `MAX_SHARDS`. */
  private nextShard(): void {
    if (this.last + 1 === MAX_SHARDS) return this.merge()
    const j = ++this.last
    if (j === this.sets.length) {
      this.sets.push(new Set())
      this.maps.push(new Map())
    }
    this.set = this.sets[j]!
    this.map = this.maps[j]!
  }

  /** Moves every shard's objects into shard 0, which from now on takes every object. */
  private merge(): void {
    const mode = this.mode
    for (let j = 1; j <= this.last; j++) {
      if (mode === M_SET) {
        for (const o of this.sets[j]!) this.sets[0]!.add(o)
        this.sets[j]!.clear()
      } else {
        for (const [o, n] of this.maps[j]!) this.maps[0]!.set(o, n)
        this.maps[j]!.clear()
      }
    }
    this.firstShard(true)
  }

  /** Shard 0 is the one being filled again; `merged`: it takes every object from now on. */
  private firstShard(merged: boolean): void {
    this.last = 0
    this.set = this.sets[0]!
    this.map = this.maps[0]!
    this.merged = merged
  }

  /** At the first object met twice: from now on the memo maps objects to ordinals. Returns `o`'s. */
  private toMapMode(o: object): number {
    for (let j = 0; j <= this.last; j++) this.sets[j]!.clear()
    this.mode = M_MAP
    this.firstShard(false)
    // The shards fill again in ordinal order, as `add` would have filled them.
    const byOrdinal = this.byOrdinal
    for (let i = 0; i < this.size; i++) {
      this.map.set(byOrdinal[i]!, i)
      this.filled(i)
    }
    return this.seen(o)
  }
}
