/**
 * The description of a pipeline, as the builders in `Pipeline.ts` make it:
 * stages (what each replica does, how many replicas, where), and the edges
 * between them. Nothing here runs; `Placement.ts` turns a graph into actors
 * on ranks and `Runtime.ts` runs them. A graph is built the same way on every
 * rank (SPMD), so stage functions never travel, only items.
 */
import type { Effect, Schedule, Stream } from "effect"
import type { MessageSchema } from "../messaging/Message.ts"

/** Hands an item to the stage's outputs, with the source position it derives from. */
export type Emit = (item: unknown, position: number) => void

/**
 * What one replica of a transforming stage does, item by item. A fresh one is
 * made for every replica and for every restart (its state starts over).
 */
export interface Transformer {
  step(item: unknown, position: number, emit: Emit): void
  /** The input ended: emit what is held back. */
  end?(emit: Emit): void
  /** Called every `everyMillis` while the replica runs (time windows, `batch`'s latency bound). */
  tick?(emit: Emit): void
  readonly everyMillis?: number | undefined
}

/** What one replica of a sink does with the items that reach it. */
export interface SinkState {
  /** Takes one item; may return an Effect (forEach's effectful function), which the replica waits for. */
  step(item: unknown, position: number): Effect.Effect<void, unknown> | void
  /** The sink's result at the end of the input (on its rank). */
  result(): unknown
}

/** A source replica's items: a Stream, or an iterable (read synchronously, a batch at a time). */
export type SourceItems = Stream.Stream<unknown, unknown> | Iterable<unknown>

export type Logic =
  | {
    readonly _tag: "Source"
    readonly produce: (replica: number, replicas: number) => SourceItems
    /** Whether running it again gives the same items (needed by `onRankFailure: "rerun"`). */
    readonly replayable: boolean
  }
  | {
    readonly _tag: "Transform"
    readonly make: () => Transformer
    /** Keyed stages: the key an item is routed by (a key always meets the same replica). */
    readonly keyOf?: ((item: unknown) => unknown) | undefined
    readonly maxKeyGroups?: number | undefined
  }
  | {
    readonly _tag: "Effectful"
    readonly f: (item: unknown) => Effect.Effect<unknown, unknown>
    readonly concurrency: number
  }
  | {
    readonly _tag: "Sink"
    readonly make: () => SinkState
    /** How the results of the replicas on one rank combine (forEach counts add up). */
    readonly combine?: ((a: unknown, b: unknown) => unknown) | undefined
  }

/**
 * What a stage does with an item its function fails on.
 *
 * @example
 * ```ts
 * const parsed = lines.pipe(Pipeline.map("parse", parse, { onError: "skip" }))                          // drop bad items
 * const fetched = urls.pipe(Pipeline.map("fetch", get, { onError: { retry: Schedule.recurs(3) } }))   // retry each item
 * ```
 */
export type ErrorPolicy =
  | "fail"
  | "skip"
  | { readonly retry: Schedule.Schedule<unknown, unknown> }

/** A stage of the graph. */
export interface Stage {
  readonly name: string
  readonly kind: string
  readonly logic: Logic
  readonly inputs: ReadonlyArray<Output>
  readonly replicas: number
  /** Ranks the replicas go to, in turn; undefined: placed round-robin (sources and one-rank sinks: rank 0). */
  readonly ranks: ReadonlyArray<number> | undefined
  /** The schema of the items this stage emits (validated where they arrive). */
  readonly schema: MessageSchema | undefined
  /** Replicas' outputs are merged back into source order at the next stage. */
  readonly ordered: boolean
  readonly onError: ErrorPolicy
  readonly restart: Schedule.Schedule<unknown, unknown> | undefined
}

/** One output of a stage as a later stage consumes it. */
export interface Output {
  readonly stage: Stage
  /** `balance`: each item to one replica of the consumer (the one with credit); `broadcast`: to every replica. */
  readonly partition: "balance" | "broadcast"
}

/**
 * Options every transforming stage takes.
 *
 * @example
 * ```ts
 * const counted = words.pipe(Pipeline.keyBy("count", (w: string) => w, Pipeline.count(), { replicas: 4, ranks: [1, 2, 3] }))
 * ```
 */
export interface StageOptions<B = unknown> {
  /** How many actors run this stage (default 1); more than the ranks is allowed. */
  readonly replicas?: number | undefined
  /** The ranks its replicas go to, in turn (default: round-robin over the communicator). */
  readonly ranks?: ReadonlyArray<number> | undefined
  /** The schema of the items it emits: encoded where sent, decoded and validated where they arrive. */
  readonly schema?: MessageSchema<B> | undefined
  /** What to do with an item the stage's function fails on (default `"fail"`). */
  readonly onError?: ErrorPolicy | undefined
  /** Restart the replica with fresh state when it fails, as long as this schedule goes on. */
  readonly restart?: Schedule.Schedule<unknown, unknown> | undefined
}

export const stage = (
  name: string,
  kind: string,
  logic: Logic,
  inputs: ReadonlyArray<Output>,
  options: StageOptions & { readonly ordered?: boolean | undefined } = {}
): Stage => ({
  name,
  kind,
  logic,
  inputs,
  replicas: options.replicas ?? 1,
  ranks: options.ranks,
  schema: options.schema,
  ordered: options.ordered ?? false,
  onError: options.onError ?? "fail",
  restart: options.restart
})
