/**
 * An actor's mailbox: the batches its producers sent, waiting to be handled.
 * It never holds more than the credit windows allow (a producer sends only
 * with credit, and credit comes back only once a batch was handled), so it
 * needs no bound of its own: its bound is `window × producer replicas`.
 *
 * Batches from the replicas of an `ordered` stage are merged back into
 * position order first: each such producer also says how far it got (its
 * watermark, the position of the last item it took in), and items are
 * released up to the least watermark of the producers still running.
 */
import { Effect } from "effect"
import type { MessageSchema } from "../messaging/Message.ts"
import type { ActorStats } from "./Stats.ts"

/** A batch to handle, and whom to credit once it was handled. */
export interface Entry {
  readonly items: ReadonlyArray<unknown>
  readonly positions: ArrayLike<number>
  /** The schema the items were encoded with (the producing stage's), to decode and validate them here. */
  readonly schema: MessageSchema | undefined
  /** Producer actor ids to give one credit each (one per batch this entry was made from). */
  readonly credits: ReadonlyArray<number>
}

interface Held {
  items: ReadonlyArray<unknown>
  positions: ArrayLike<number>
  next: number
}

interface OrderedInput {
  readonly held: Array<Held>
  watermark: number
  readonly schema: MessageSchema | undefined
}

export class Mailbox {
  private readonly queue: Array<Entry> = []
  private head = 0
  private open: number
  private wake: (() => void) | undefined
  private readonly ordered = new Map<number, OrderedInput>()
  private readonly stats: ActorStats

  /**
   * `producers`: how many producer actors feed it (it ends when each has sent
   * end-of-stream); `orderedProducers`: those whose batches are merged back
   * into position order, with their schemas.
   */
  constructor(producers: number, orderedProducers: ReadonlyMap<number, MessageSchema | undefined>, stats: ActorStats) {
    this.stats = stats
    this.open = producers
    for (const [id, schema] of orderedProducers) this.ordered.set(id, { held: [], watermark: -Infinity, schema })
  }

  get depth(): number {
    return this.queue.length - this.head
  }

  get ended(): boolean {
    return this.open === 0 && this.depth === 0
  }

  /** A batch from producer `from`; `upTo` is its watermark (ordered producers). */
  push(from: number, items: ReadonlyArray<unknown>, positions: ArrayLike<number>, upTo: number, schema: MessageSchema | undefined): void {
    const o = this.ordered.get(from)
    if (o === undefined) {
      this.enqueue({ items, positions, schema, credits: [from] })
      return
    }
    o.held.push({ items, positions, next: 0 })
    if (upTo > o.watermark) o.watermark = upTo
    this.release()
  }

  /** A watermark alone from an ordered producer (it sent nothing here lately). */
  watermark(from: number, upTo: number): void {
    const o = this.ordered.get(from)
    if (o === undefined || upTo <= o.watermark) return
    o.watermark = upTo
    this.release()
  }

  /** End of stream from producer `from`. */
  end(from: number): void {
    const o = this.ordered.get(from)
    if (o !== undefined) {
      o.watermark = Infinity
      this.release()
    }
    this.open--
    this.signal()
  }

  /** The next entry; `undefined` once every producer ended and everything was taken. */
  take(): Effect.Effect<Entry | undefined> {
    return Effect.suspend(() => {
      const e = this.poll()
      if (e !== undefined || this.open === 0) return Effect.succeed(e)
      return Effect.callback<Entry | undefined>((resume) => {
        this.wake = () => resume(Effect.sync(() => this.poll()))
        return Effect.sync(() => {
          this.wake = undefined
        })
      }).pipe(Effect.flatMap((entry) => entry !== undefined || this.open === 0 ? Effect.succeed(entry) : this.take()))
    })
  }

  /** Like `take`, but gives `"tick"` if nothing came within `millis`. */
  takeWithin(millis: number): Effect.Effect<Entry | undefined | "tick"> {
    return Effect.suspend(() => {
      const e = this.poll()
      if (e !== undefined || this.open === 0) return Effect.succeed(e)
      return this.take().pipe(Effect.timeoutOption(millis), Effect.map((o) => o._tag === "Some" ? o.value : "tick" as const))
    })
  }

  private poll(): Entry | undefined {
    if (this.head === this.queue.length) return undefined
    const e = this.queue[this.head]!
    this.queue[this.head++] = undefined as unknown as Entry
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head)
      this.head = 0
    }
    this.stats.mailboxDepth = this.depth
    return e
  }

  private enqueue(e: Entry): void {
    this.queue.push(e)
    const depth = this.depth
    this.stats.mailboxDepth = depth
    if (depth > this.stats.mailboxPeak) this.stats.mailboxPeak = depth
    this.signal()
  }

  private signal(): void {
    const w = this.wake
    if (w !== undefined) {
      this.wake = undefined
      w()
    }
  }

  /** Moves every held item at or below the least watermark into one entry, in position order. */
  private release(): void {
    let frontier = Infinity
    for (const o of this.ordered.values()) if (o.watermark < frontier) frontier = o.watermark
    // One run per ordered input of items ≤ frontier (each input is in order), merged.
    const runs: Array<{ items: Array<unknown>; positions: Array<number>; schema: MessageSchema | undefined }> = []
    const credits: Array<number> = []
    for (const [from, o] of this.ordered) {
      const items: Array<unknown> = []
      const positions: Array<number> = []
      while (o.held.length > 0) {
        const h = o.held[0]!
        while (h.next < h.items.length && h.positions[h.next]! <= frontier) {
          items.push(h.items[h.next])
          positions.push(h.positions[h.next]!)
          h.next++
        }
        if (h.next < h.items.length) break
        o.held.shift()
        credits.push(from)
      }
      if (items.length > 0) runs.push({ items, positions, schema: o.schema })
    }
    if (runs.length === 0) {
      // Batches fully released earlier: only their credits are left to give back.
      if (credits.length > 0) this.enqueue({ items: [], positions: [], schema: undefined, credits })
      return
    }
    // Schemas differ only between stages; a merged entry needs one, so merge per schema.
    const bySchema = new Map<MessageSchema | undefined, typeof runs>()
    for (const r of runs) {
      const group = bySchema.get(r.schema)
      if (group === undefined) bySchema.set(r.schema, [r])
      else group.push(r)
    }
    let first = true
    for (const [schema, group] of bySchema) {
      const merged = mergeRuns(group)
      this.enqueue({ items: merged.items, positions: merged.positions, schema, credits: first ? credits : [] })
      first = false
    }
  }
}

/** Merges runs that are each in increasing position into one. */
const mergeRuns = (runs: ReadonlyArray<{ items: Array<unknown>; positions: Array<number> }>) => {
  if (runs.length === 1) return runs[0]!
  const at = runs.map(() => 0)
  const items: Array<unknown> = []
  const positions: Array<number> = []
  for (;;) {
    let best = -1
    for (let r = 0; r < runs.length; r++) {
      if (at[r]! < runs[r]!.positions.length && (best < 0 || runs[r]!.positions[at[r]!]! < runs[best]!.positions[at[best]!]!)) best = r
    }
    if (best < 0) return { items, positions }
    items.push(runs[best]!.items[at[best]!])
    positions.push(runs[best]!.positions[at[best]!]!)
    at[best] = at[best]! + 1
  }
}
