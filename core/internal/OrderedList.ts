/**
 * An ordered list for the matching engine's queues: appending, and taking the
 * first entry, cost O(1) however long the list is; an entry taken from the
 * middle leaves a hole that later appends compact away. A plain array's
 * `splice(0, 1)` moves every entry behind it, which made a stream that ran
 * ahead of its receives quadratic (a queue of 100,000 unexpected messages
 * spent 80 % of the receiver's time in the move).
 *
 * Indices stay valid until the next `push` or `insertAt` (the only places
 * that compact), so a caller may remove entries while it walks the list.
 *
 * @example
 * ```ts
 * const list = new OrderedList<{ tag: number }>()
 * list.push({ tag: 1 })
 * for (let i = list.start; i < list.end; i++) {
 *   const x = list.at(i)
 *   if (x !== undefined && x.tag === 1) list.removeAt(i)
 * }
 * ```
 */
export class OrderedList<T extends object> {
  private items: Array<T | undefined> = []
  private head = 0
  private live = 0

  /** Entries in the list. */
  get length(): number {
    return this.live
  }

  /** The first index to look at. */
  get start(): number {
    return this.head
  }

  /** One past the last index. */
  get end(): number {
    return this.items.length
  }

  /** The entry at `i`, or undefined for a hole. */
  at(i: number): T | undefined {
    return this.items[i]
  }

  push(x: T): void {
    this.compact()
    this.items.push(x)
    this.live++
  }

  /** Removes the entry at `i` (an index from `start` to `end` holding an entry). */
  removeAt(i: number): void {
    this.items[i] = undefined
    this.live--
    if (i === this.head) {
      const items = this.items
      let h = this.head + 1
      while (h < items.length && items[h] === undefined) h++
      this.head = h
    }
  }

  /** Removes `x` if it is in the list; returns whether it was. */
  remove(x: T): boolean {
    const items = this.items
    for (let i = this.head; i < items.length; i++) {
      if (items[i] === x) {
        this.removeAt(i)
        return true
      }
    }
    return false
  }

  /** Inserts `x` behind the last entry that does not come after it (the list is ordered by what `comesAfter` tells). */
  insertBefore(x: T, comesAfter: (y: T) => boolean): void {
    this.compact(true)
    const items = this.items
    let i = items.length
    while (i > 0 && comesAfter(items[i - 1]!)) i--
    items.splice(i, 0, x)
    this.live++
  }

  /** Keeps the entries `keep` accepts, in order. */
  retain(keep: (x: T) => boolean): void {
    const kept: Array<T> = []
    for (let i = this.head; i < this.items.length; i++) {
      const x = this.items[i]
      if (x !== undefined && keep(x)) kept.push(x)
    }
    this.items = kept
    this.head = 0
    this.live = kept.length
  }

  *[Symbol.iterator](): Iterator<T> {
    for (let i = this.head; i < this.items.length; i++) {
      const x = this.items[i]
      if (x !== undefined) yield x
    }
  }

  /** Drops the holes once they outnumber the entries (always when `now`). */
  private compact(now = false): void {
    const holes = this.items.length - this.live
    if (holes === 0 || (!now && (holes < 32 || holes < this.live))) return
    this.retain(() => true)
  }
}
