/**
 * An actor's outputs: the items it emits, gathered into micro-batches per
 * consumer edge and sent when a batch is full, when the actor has nothing
 * else to do, or when the latency bound passed. Each (producer, consumer)
 * pair has a credit window: a batch is sent only with a credit, and the
 * consumer gives it back once it handled the batch, so a slow consumer stops
 * its producers, and they stop theirs, back to the source.
 *
 * Partitioning: `balance` sends each batch to a consumer replica that has
 * credit (round-robin among them), `broadcast` to every replica, `keyed` to
 * the replica that owns the item's key group.
 */
import { Effect, Schema } from "effect"
import type { Emit } from "./Graph.ts"
import { DEFAULT_KEY_GROUPS, keyGroupOf, replicaOfGroup } from "./Keys.ts"
import type { Actor, Edge } from "./Placement.ts"
import type { ActorStats } from "./Stats.ts"

/** How an actor reaches other actors (local ones directly, remote ones through the communicator). */
export interface Link<E> {
  data(to: Actor, from: Actor, items: ReadonlyArray<unknown>, positions: Float64Array, upTo: number): Effect.Effect<void, E>
  watermark(to: Actor, from: Actor, upTo: number): Effect.Effect<void, E>
  end(to: Actor, from: Actor): Effect.Effect<void, E>
}

export interface Batching {
  /** Items per batch. */
  readonly batchSize: number
  /** Milliseconds an item may wait in a partial batch. */
  readonly maxDelayMillis: number
  /** Batches in flight per (producer, consumer) pair. */
  readonly window: number
}

class Box {
  items: Array<unknown> = []
  positions: Array<number> = []
  since = 0
}

class OutEdge {
  readonly consumers: ReadonlyArray<Actor>
  readonly boxes: Array<Box>
  readonly sentUpTo: Array<number>
  readonly keyOf: ((item: unknown) => unknown) | undefined
  readonly groups: number
  readonly edge: Edge
  next = 0
  constructor(edge: Edge) {
    this.edge = edge
    this.consumers = edge.consumer.actors
    const logic = edge.consumer.stage.logic
    this.keyOf = logic._tag === "Transform" ? logic.keyOf : undefined
    this.groups = logic._tag === "Transform" ? logic.maxKeyGroups ?? DEFAULT_KEY_GROUPS : DEFAULT_KEY_GROUPS
    this.boxes = edge.partition === "keyed" ? this.consumers.map(() => new Box()) : [new Box()]
    this.sentUpTo = this.consumers.map(() => -Infinity)
  }
  get ordered() {
    return this.edge.producer.stage.ordered
  }
}

/** A short rendering of an item for error messages. */
export const preview = (item: unknown): string => {
  let text: string
  try {
    text = typeof item === "string" ? JSON.stringify(item) : typeof item === "bigint" ? `${item}n` : JSON.stringify(item) ?? String(item)
  } catch {
    text = Object.prototype.toString.call(item)
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}

export class Emitter<E> {
  private readonly edges: Array<OutEdge>
  /** Credits per consumer actor id. */
  private readonly credits: Map<number, number> = new Map()
  private waiter: (() => void) | undefined
  private readonly encode: ((item: unknown) => unknown) | undefined
  /** The position of the last input item fully handled (the watermark of ordered outputs). */
  handled = -Infinity
  /** Some batch is full and should be sent before more items are emitted. */
  full = false
  /** Items waiting in partial batches, and since when the oldest waits. */
  private pending = 0

  private readonly self: Actor
  private readonly link: Link<E>
  private readonly batching: Batching
  private readonly stats: ActorStats

  constructor(self: Actor, link: Link<E>, batching: Batching, stats: ActorStats) {
    this.self = self
    this.link = link
    this.batching = batching
    this.stats = stats
    this.edges = self.stage.outputs.map((e) => new OutEdge(e))
    for (const e of this.edges) for (const c of e.consumers) this.credits.set(c.id, batching.window)
    const schema = self.stage.stage.schema
    this.encode = schema === undefined ? undefined : Schema.encodeUnknownSync(schema)
  }

  /** Emits one item (derived from the input at `position`). Synchronous: call `flushFull` when `full`. */
  readonly emit: Emit = (item, position) => {
    let value = item
    if (this.encode !== undefined) {
      try {
        value = this.encode(item)
      } catch (cause) {
        throw new Error(`the item does not match the schema of "${this.self.stage.stage.name}"'s output: ${cause instanceof Error ? cause.message : String(cause)} (the item: ${preview(item)})`)
      }
    }
    const size = this.batching.batchSize
    for (const e of this.edges) {
      let box: Box
      if (e.keyOf === undefined) box = e.boxes[0]!
      else {
        let key: unknown
        try {
          key = e.keyOf(item)
          box = e.boxes[replicaOfGroup(keyGroupOf(key, e.groups), e.groups, e.consumers.length)]!
        } catch (cause) {
          throw new Error(`the key function of stage "${e.edge.consumer.stage.name}" failed: ${cause instanceof Error ? cause.message : String(cause)}`)
        }
      }
      if (box.items.length === 0) box.since = performance.now()
      box.items.push(value)
      box.positions.push(position)
      this.pending++
      if (box.items.length >= size) this.full = true
    }
    this.stats.itemsOut++
  }

  /** Whether the oldest waiting item waited longer than the latency bound. */
  get overdue(): boolean {
    if (this.pending === 0) return false
    const now = performance.now()
    for (const e of this.edges) for (const b of e.boxes) if (b.items.length > 0 && now - b.since >= this.batching.maxDelayMillis) return true
    return false
  }

  get hasPending(): boolean {
    return this.pending > 0
  }

  /** Sends every full batch. */
  readonly flushFull: Effect.Effect<void, E> = Effect.suspend(() => {
    this.full = false
    return this.flush(this.batching.batchSize)
  })

  /** Sends every batch that has items (and watermarks where ordered outputs moved on). */
  readonly flushAll: Effect.Effect<void, E> = Effect.suspend(() => {
    this.full = false
    return this.flush(1)
  })

  /** Sends what is left and end-of-stream to every consumer (which also ends an ordered producer's watermark). */
  readonly end: Effect.Effect<void, E> = Effect.gen({ self: this }, function*() {
    yield* this.flushAll
    for (const e of this.edges) for (const c of e.consumers) yield* this.link.end(c, this.self)
  })

  /** A credit from consumer `consumer` (called by the runtime when it arrives). */
  credit(consumer: number, n: number): void {
    this.credits.set(consumer, (this.credits.get(consumer) ?? 0) + n)
    const w = this.waiter
    if (w !== undefined) {
      this.waiter = undefined
      w()
    }
  }

  private flush(atLeast: number): Effect.Effect<void, E> {
    return Effect.gen({ self: this }, function*() {
      for (const e of this.edges) {
        for (let b = 0; b < e.boxes.length; b++) {
          const box = e.boxes[b]!
          if (box.items.length < atLeast) continue
          const items = box.items
          const positions = Float64Array.from(box.positions)
          e.boxes[b] = new Box()
          this.pending -= items.length
          if (e.edge.partition === "keyed") yield* this.sendTo(e, b, items, positions)
          else if (e.edge.partition === "broadcast") for (let c = 0; c < e.consumers.length; c++) yield* this.sendTo(e, c, items, positions)
          else yield* this.sendTo(e, yield* this.balanceTarget(e), items, positions)
        }
        if (e.ordered && this.handled > -Infinity) {
          for (let c = 0; c < e.consumers.length; c++) {
            // Everything up to the watermark must have been sent to c: stop short of items still waiting for it.
            const waiting = e.boxes[e.boxes.length === 1 ? 0 : c]!.positions
            const upTo = waiting.length > 0 ? Math.min(this.handled, waiting[0]! - 1) : this.handled
            if (e.sentUpTo[c]! < upTo) {
              e.sentUpTo[c] = upTo
              yield* this.link.watermark(e.consumers[c]!, this.self, upTo)
            }
          }
        }
      }
    })
  }

  private sendTo(e: OutEdge, c: number, items: ReadonlyArray<unknown>, positions: Float64Array): Effect.Effect<void, E> {
    return Effect.gen({ self: this }, function*() {
      const consumer = e.consumers[c]!
      yield* this.waitFor(() => this.credits.get(consumer.id)! > 0)
      const left = this.credits.get(consumer.id)! - 1
      this.credits.set(consumer.id, left)
      const inFlight = this.batching.window - left
      if (inFlight > this.stats.inFlightPeak) this.stats.inFlightPeak = inFlight
      const upTo = e.ordered ? this.handled : 0
      if (e.ordered) e.sentUpTo[c] = upTo
      this.stats.batchesOut++
      yield* this.link.data(consumer, this.self, items, positions, upTo)
    })
  }

  /** The next consumer with credit, round-robin; waits for any credit when none has. */
  private balanceTarget(e: OutEdge): Effect.Effect<number> {
    return Effect.gen({ self: this }, function*() {
      const n = e.consumers.length
      const pick = () => {
        for (let i = 0; i < n; i++) {
          const c = (e.next + i) % n
          if (this.credits.get(e.consumers[c]!.id)! > 0) {
            e.next = (c + 1) % n
            return c
          }
        }
        return -1
      }
      let c = pick()
      while (c < 0) {
        yield* this.waitFor(() => e.consumers.some((k) => this.credits.get(k.id)! > 0))
        c = pick()
      }
      return c
    })
  }

  private waitFor(ready: () => boolean): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (ready()) return Effect.void
      this.stats.blockedWaits++
      const t0 = performance.now()
      const wait: Effect.Effect<void> = Effect.suspend(() =>
        ready() ? Effect.void : Effect.callback<void>((resume) => {
          this.waiter = () => resume(Effect.void)
          return Effect.sync(() => {
            this.waiter = undefined
          })
        }).pipe(Effect.andThen(wait))
      )
      return wait.pipe(Effect.ensuring(Effect.sync(() => {
        this.stats.blockedMillis += performance.now() - t0
      })))
    })
  }
}
