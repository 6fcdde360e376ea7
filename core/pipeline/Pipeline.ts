/**
 * Pipelines of actors: typed dataflow stages placed on the ranks of a
 * communicator. Every rank builds the same graph (the program is SPMD, so
 * stage functions never travel; only items do) and runs it collectively; each
 * replica of each stage is an actor (a fiber with a mailbox) on some rank.
 * Items cross ranks in micro-batches through the communicator's codecs, each
 * edge has a credit window (a slow stage slows its producers, back to the
 * source), keyed stages partition by key, and a failing stage fails the run
 * on every rank with its name. See docs/pipelines.md.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Pipeline, Rank } from "rankflow"
 *
 * Rank.main(Effect.gen(function*() {
 *   const counts = Pipeline.source("lines", ["a b", "b c"]).pipe(
 *     Pipeline.flatMap("split", (line: string) => line.split(" "), { replicas: 2 }),
 *     Pipeline.keyBy("count", (word: string) => word, Pipeline.count(), { replicas: 4 }),
 *     Pipeline.collect("result")
 *   )
 *   const result = yield* Pipeline.run(counts)          // Option<Map<string, number>>: Some on rank 0
 *   if (Option.isSome(result)) yield* Effect.log(result.value)
 * }))
 * ```
 */
import { Cause, Duration, Effect, Option, Queue, Stream } from "effect"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import type { Comm } from "../comm/Comm.ts"
import { World } from "../comm/Comm.ts"
import type { CreateError } from "../comm/communicators.ts"
import { type DeviceArray, type StageArray, type StageDevice, StageDevices } from "../comm/DeviceArray.ts"
import { InvalidArgument, PipelineInvalid, RankFailed, type StageFailed, type TransportError } from "../errors.ts"
import type { CodecChoice, MessageSchema } from "../messaging/Message.ts"
import type { Output, SinkState, Stage, StageOptions, Transformer } from "./Graph.ts"
import { stage } from "./Graph.ts"
import { keyId } from "./Keys.ts"
import * as Agreement from "./Agreement.ts"
import * as Placement from "./Placement.ts"
import * as Runtime from "./Runtime.ts"
import { type ActorStats, PIPELINE_PROGRESS_ENV } from "./Stats.ts"

export type { ErrorPolicy, StageOptions } from "./Graph.ts"
export type { ActorStats } from "./Stats.ts"
export { PipelineInvalid, StageFailed } from "../errors.ts"

const FlowTypeId: unique symbol = Symbol.for("rankflow/Pipeline/Flow") as never
const KeyedTypeId: unique symbol = Symbol.for("rankflow/Pipeline/Keyed") as never
const SinkTypeId: unique symbol = Symbol.for("rankflow/Pipeline/Sink") as never
const StreamSinkTypeId: unique symbol = Symbol.for("rankflow/Pipeline/StreamSink") as never

/**
 * A stream of items of type `A` flowing out of one or more stages (not yet
 * consumed): what sources and transforms return, and what `pipe` passes on.
 *
 * @example
 * ```ts
 * const words: Pipeline.Flow<string> = Pipeline.source("lines", lines).pipe(Pipeline.flatMap("split", (l: string) => l.split(" ")))
 * ```
 */
export interface Flow<out A> extends Pipeable {
  readonly [FlowTypeId]: (_: never) => A
  /** The stage outputs this flow reads from. */
  readonly outputs: ReadonlyArray<Output>
}

/**
 * The output of a `keyBy` stage: one `[key, state]` per key; `collect` makes it a `Map`.
 *
 * @example
 * ```ts
 * const counts: Pipeline.Keyed<string, number> = words.pipe(Pipeline.keyBy("count", (w: string) => w, Pipeline.count()))
 * ```
 */
export interface Keyed<out K, out V> extends Flow<readonly [K, V]> {
  readonly [KeyedTypeId]: (_: never) => [K, V]
}

/**
 * The end of a graph: a stage whose result `run` returns at the rank(s) it was placed on.
 *
 * @example
 * ```ts
 * const total: Pipeline.Sink<number> = numbers.pipe(Pipeline.foldTo("total", 0, (s, n: number) => s + n))
 * ```
 */
export interface Sink<out R> extends Pipeable {
  readonly [SinkTypeId]: (_: never) => R
  readonly stage: Stage
}

/**
 * A sink whose items come out of `runStream` as a Stream, at its rank.
 *
 * @example
 * ```ts
 * const out: Pipeline.StreamSink<number> = numbers.pipe(Pipeline.toStream("out"))
 * ```
 */
export interface StreamSink<out A> extends Pipeable {
  readonly [StreamSinkTypeId]: (_: never) => A
  readonly stage: Stage
}

class FlowImpl {
  declare readonly [FlowTypeId]: (_: never) => unknown
  readonly outputs: ReadonlyArray<Output>
  readonly keyed: boolean
  constructor(outputs: ReadonlyArray<Output>, keyed: boolean) {
    this.outputs = outputs
    this.keyed = keyed
  }
  pipe() {
    return pipeArguments(this, arguments)
  }
}

class SinkImpl {
  declare readonly [SinkTypeId]: (_: never) => unknown
  declare readonly [StreamSinkTypeId]: (_: never) => unknown
  readonly stage: Stage
  readonly queueSlot: QueueSlot | undefined
  constructor(stage: Stage, queueSlot?: QueueSlot) {
    this.stage = stage
    this.queueSlot = queueSlot
  }
  pipe() {
    return pipeArguments(this, arguments)
  }
}

const flowOf = <A>(s: Stage, keyed = false): Flow<A> => new FlowImpl([{ stage: s, partition: "balance" }], keyed) as unknown as Flow<A>

// ---------------------------------------------------------------------------
// Sources

/**
 * Where a one-replica source or sink runs.
 *
 * @example
 * ```ts
 * Pipeline.collect("result", { rank: 3 })
 * ```
 */
export interface RankOption {
  /** The rank (default 0). */
  readonly rank?: number | undefined
}

const replayable = (items: unknown): boolean =>
  Stream.isStream(items) || (typeof items === "object" && items !== null && typeof (items as Iterator<unknown>).next !== "function")

/**
 * A source on one rank: the items of a Stream or an iterable (an array, a
 * Set, a generator function's result…). An iterable is read synchronously a
 * batch at a time; a Stream runs as its own fiber.
 *
 * @example
 * ```ts
 * const lines = Pipeline.source("lines", Stream.fromIterable(corpus()), { schema: Schema.String })
 * const numbers = Pipeline.source("numbers", Array.from({ length: 1000 }, (_, i) => i), { rank: 1 })
 * ```
 */
export const source = <A>(
  name: string,
  items: Stream.Stream<A, unknown> | Iterable<A>,
  options: RankOption & { readonly schema?: MessageSchema<A> | undefined } = {}
): Flow<A> =>
  flowOf(stage(name, "source", { _tag: "Source", produce: () => items as Iterable<unknown>, replayable: replayable(items) }, [], {
    ranks: options.rank === undefined ? undefined : [options.rank],
    schema: options.schema
  }))

/**
 * A partitioned source: `replicas` actors, each producing its own share
 * (`produce(replica, replicas)`), e.g. a file split by byte ranges.
 *
 * @example
 * ```ts
 * const shards = Pipeline.partitioned("ids", (replica, replicas) =>
 *   Array.from({ length: 1000 }, (_, i) => i).filter((i) => i % replicas === replica), { replicas: 4 })
 * ```
 */
export const partitioned = <A>(
  name: string,
  produce: (replica: number, replicas: number) => Stream.Stream<A, unknown> | Iterable<A>,
  options: Pick<StageOptions<A>, "replicas" | "ranks" | "schema"> = {}
): Flow<A> =>
  flowOf(stage(name, "partitioned source", { _tag: "Source", produce: produce as never, replayable: true }, [], options))

// ---------------------------------------------------------------------------
// Transforms

/**
 * Options of stages that may restore source order across their replicas.
 *
 * @example
 * ```ts
 * Pipeline.map("parse", parse, { replicas: 4, ordered: true, onError: "skip" })
 * ```
 */
export interface OrderedOptions<B> extends StageOptions<B> {
  /**
   * Merge the replicas' outputs back into source order at the next stage
   * (default false: items from one replica stay in order, replicas interleave).
   */
  readonly ordered?: boolean | undefined
}

const transform = <A, B>(name: string, kind: string, make: () => Transformer, options: OrderedOptions<B> = {}) => (self: Flow<A>): Flow<B> =>
  flowOf(stage(name, kind, { _tag: "Transform", make }, self.outputs, options))

/**
 * Options of a map stage that runs on each rank's GPU.
 *
 * @example
 * ```ts
 * const scaled = frames.pipe(Pipeline.map("scale", (x: GpuArray.GpuArray, gpu) => Kernels.map("a * 2.0", [x]), { gpu: true }))
 * ```
 */
export interface GpuMapOptions<B> extends OrderedOptions<B> {
  /**
   * Run the stage on the device of the rank that hosts each replica: every
   * item (a Float32Array, Int32Array, Uint32Array or Float16Array) arrives
   * as a GPU array, `f` gets it and the device and returns an Effect; a GPU
   * array it returns is downloaded and sent on as a typed array. GPU arrays
   * made for one item are released after it. Needs `Gpu.layer()` provided to
   * the rank program (from `rankflow/gpu`).
   */
  readonly gpu: true
}

/**
 * What a GPU stage sends on: typed arrays for GPU arrays.
 *
 * @example
 * ```ts
 * type Sent = Pipeline.FromDevice<GpuArray.GpuArray>   // Float32Array | Int32Array | Uint32Array | Float16Array
 * ```
 */
export type FromDevice<B> = B extends DeviceArray ? Float32Array | Int32Array | Uint32Array | Float16Array : B

/**
 * Applies `f` to every item. With `{ gpu: true }`, `f` runs on the GPU of
 * the rank that hosts the replica (see `GpuMapOptions`).
 *
 * @example
 * ```ts
 * source.pipe(Pipeline.map("square", (x: number) => x * x, { replicas: 4, ordered: true }))
 * tiles.pipe(Pipeline.map("blur", (tile, gpu) => Kernels.map("a * 0.5", [tile]), { gpu: true, replicas: 2 }))
 * ```
 */
export function map<B, E = never>(
  name: string,
  f: (item: StageArray, device: StageDevice) => Effect.Effect<B, E>,
  options: GpuMapOptions<FromDevice<B>>
): (self: Flow<Float32Array | Int32Array | Uint32Array | Float16Array>) => Flow<FromDevice<B>>
export function map<A, B>(name: string, f: (a: A) => B, options?: OrderedOptions<B>): (self: Flow<A>) => Flow<B>
export function map(name: string, f: (...args: Array<any>) => any, options?: OrderedOptions<any> & { readonly gpu?: boolean }): (self: Flow<any>) => Flow<any> {
  if (options?.gpu === true) return mapEffect(name, onDevice(name, f), { ...options, concurrency: 1 })
  return transform(name, "map", () => ({ step: (item, position, emit) => emit(f(item), position) }), options)
}

/** `f` run on this rank's device for each item (through the StageDevices service that `Gpu.layer()` provides). */
const onDevice = (name: string, f: (x: any, device: any) => Effect.Effect<unknown, unknown>) => (item: unknown) =>
  Effect.flatMap(Effect.serviceOption(StageDevices), (runner) =>
    Option.isSome(runner)
      ? runner.value.run(item, f)
      : Effect.fail(new InvalidArgument({
        argument: "gpu",
        message: `stage ${name} runs on the GPU (gpu: true) but this rank has no device: provide Gpu.layer() from rankflow/gpu to the rank program`
      })))

/**
 * Runs an Effect for every item, up to `concurrency` at once per replica
 * (default 1); results keep their input order. A failed Effect follows the
 * stage's `onError` (retry it with `{ retry: Schedule }`).
 *
 * @example
 * ```ts
 * urls.pipe(Pipeline.mapEffect("fetch", (url: string) => fetchJson(url), { concurrency: 8, onError: { retry: Schedule.recurs(3) } }))
 * ```
 */
export const mapEffect = <A, B, E>(
  name: string,
  f: (a: A) => Effect.Effect<B, E>,
  options: OrderedOptions<B> & { readonly concurrency?: number | undefined } = {}
) =>
(self: Flow<A>): Flow<B> =>
  flowOf(stage(name, "mapEffect", { _tag: "Effectful", f: f as never, concurrency: options.concurrency ?? 1 }, self.outputs, options))

/**
 * Turns every item into any number of items.
 *
 * @example
 * ```ts
 * lines.pipe(Pipeline.flatMap("split", (line: string) => line.split(/\W+/).filter(Boolean), { replicas: 2 }))
 * ```
 */
export const flatMap = <A, B>(name: string, f: (a: A) => Iterable<B>, options?: OrderedOptions<B>): (self: Flow<A>) => Flow<B> =>
  transform(name, "flatMap", () => ({
    step: (item, position, emit) => {
      for (const b of f(item as A)) emit(b, position)
    }
  }), options)

/**
 * Keeps the items for which `predicate` holds.
 *
 * @example
 * ```ts
 * numbers.pipe(Pipeline.filter("even", (n: number) => n % 2 === 0))
 * ```
 */
export const filter: {
  <A, B extends A>(name: string, refinement: (a: A) => a is B, options?: OrderedOptions<B>): (self: Flow<A>) => Flow<B>
  <A>(name: string, predicate: (a: A) => boolean, options?: OrderedOptions<A>): (self: Flow<A>) => Flow<A>
} = <A>(name: string, predicate: (a: A) => boolean, options?: OrderedOptions<A>) =>
  transform<A, A>(name, "filter", () => ({
    step: (item, position, emit) => {
      if (predicate(item as A)) emit(item, position)
    }
  }), options)

/**
 * Groups items into arrays of up to `size`, emitted when full or when the
 * oldest item waited `within` (Stream's `groupedWithin`), per replica.
 *
 * @example
 * ```ts
 * events.pipe(Pipeline.batch("rows", 500, "100 millis"), Pipeline.mapEffect("insert", insertRows))
 * ```
 */
export const batch = <A>(name: string, size: number, within: Duration.Input, options: StageOptions<Array<A>> = {}) =>
(self: Flow<A>): Flow<Array<A>> => {
  const millis = Duration.toMillis(Duration.fromInputUnsafe(within))
  return transform<A, Array<A>>(name, "batch", () => {
    let items: Array<A> = []
    let first = 0
    let since = 0
    const flush = (emit: (item: unknown, position: number) => void) => {
      if (items.length === 0) return
      const out = items
      items = []
      emit(out, first)
    }
    return {
      everyMillis: Math.max(1, millis),
      step: (item, position, emit) => {
        if (items.length === 0) {
          first = position
          since = performance.now()
        }
        items.push(item as A)
        if (items.length >= size) flush(emit)
      },
      tick: (emit) => {
        if (items.length > 0 && performance.now() - since >= millis) flush(emit)
      },
      end: flush
    }
  }, options)(self)
}

/**
 * Sends every item to every replica of the next stage (instead of each item
 * to one of them).
 *
 * @example
 * ```ts
 * config.pipe(Pipeline.broadcast, Pipeline.forEach("apply", applyConfig, { replicas: 4 }))
 * ```
 */
export const broadcast = <A>(self: Flow<A>): Flow<A> =>
  new FlowImpl(self.outputs.map((o) => ({ stage: o.stage, partition: "broadcast" as const })), false) as unknown as Flow<A>

/**
 * Several flows as one: the next stage reads from all of them.
 *
 * @example
 * ```ts
 * Pipeline.merge(clicks, views).pipe(Pipeline.collect("events"))
 * ```
 */
export const merge = <Flows extends ReadonlyArray<Flow<any>>>(...flows: Flows): Flow<Flows[number] extends Flow<infer A> ? A : never> =>
  new FlowImpl(flows.flatMap((f) => f.outputs), false) as never

// ---------------------------------------------------------------------------
// Keyed stages

/**
 * How a keyed stage folds the items of one key (`count`, `sum` and `fold` make them).
 *
 * @example
 * ```ts
 * const longest: Pipeline.Reducer<string, string> = { initial: () => "", step: (best, w) => (w.length > best.length ? w : best) }
 * ```
 */
export interface Reducer<in A, S> {
  readonly initial: () => S
  readonly step: (state: S, item: A) => S
}

/**
 * Counts the items of each key.
 *
 * @example
 * ```ts
 * words.pipe(Pipeline.keyBy("count", (w: string) => w, Pipeline.count()))
 * ```
 */
export const count = (): Reducer<unknown, number> => ({ initial: () => 0, step: (n) => n + 1 })

/**
 * Adds up the items of each key (numbers, or what `f` makes of them).
 *
 * @example
 * ```ts
 * sales.pipe(Pipeline.keyBy("revenue", (s: Sale) => s.city, Pipeline.sum((s: Sale) => s.amount)))
 * ```
 */
export const sum: {
  (): Reducer<number, number>
  <A>(f: (a: A) => number): Reducer<A, number>
} = <A>(f?: (a: A) => number): Reducer<A, number> => ({
  initial: () => 0,
  step: f === undefined ? (s, a) => s + (a as number) : (s, a) => s + f(a)
})

/**
 * Folds the items of each key from `initial` with `f` (which returns the new
 * state; `initial` is shared by every key, so `f` must not change it).
 *
 * @example
 * ```ts
 * events.pipe(Pipeline.keyBy("latest", (e: Event) => e.user, Pipeline.fold(0, (t, e: Event) => Math.max(t, e.time))))
 * ```
 */
export const fold = <A, S>(initial: S, f: (state: S, item: A) => S): Reducer<A, S> => ({ initial: () => initial, step: f })

/**
 * A window of a keyed stage: emit a key's state every `items` items of that
 * key, or every key's state every `every`; then the key starts over.
 *
 * @example
 * ```ts
 * clicks.pipe(Pipeline.keyBy("perMinute", (c: Click) => c.page, Pipeline.count(), { window: { every: "1 minute" } }))
 * ```
 */
export type Window = { readonly items: number } | { readonly every: Duration.Input }

/**
 * Options of `keyBy`: a stage's options, a window, and the number of key groups.
 *
 * @example
 * ```ts
 * Pipeline.keyBy("count", (w: string) => w, Pipeline.count(), { replicas: 4, keyGroups: 256 })
 * ```
 */
export interface KeyByOptions<S> extends StageOptions<S> {
  /** Emit per window (then start the key over) instead of once at the end. */
  readonly window?: Window | undefined
  /** Key groups keys hash into (default 128); replicas own whole groups. At least the replicas. */
  readonly keyGroups?: number | undefined
}

/**
 * Routes each item to the replica that owns its key (a key always meets the
 * same replica) and folds each key's items with `reducer`; emits `[key,
 * state]` once per key at the end of the input, or per `window`.
 *
 * @example
 * ```ts
 * words.pipe(
 *   Pipeline.keyBy("count", (word: string) => word, Pipeline.count(), { replicas: 4 }),
 *   Pipeline.collect("result")                    // Map<string, number>
 * )
 * ```
 */
export const keyBy: {
  <A, K, S>(name: string, keyOf: (a: A) => K, reducer: Reducer<A, S>, options: KeyByOptions<S> & { readonly window: Window }): (self: Flow<A>) => Flow<readonly [K, S]>
  <A, K, S>(name: string, keyOf: (a: A) => K, reducer: Reducer<A, S>, options?: KeyByOptions<S>): (self: Flow<A>) => Keyed<K, S>
} = <A, K, S>(name: string, keyOf: (a: A) => K, reducer: Reducer<A, S>, options: KeyByOptions<S> = {}) => (self: Flow<A>): never => {
  const window = options.window
  const everyItems = window !== undefined && "items" in window ? window.items : undefined
  const everyMillis = window !== undefined && "every" in window ? Duration.toMillis(Duration.fromInputUnsafe(window.every)) : undefined
  const make = (): Transformer => {
    const states = new Map<unknown, { key: unknown; state: S; position: number; n: number }>()
    const emitAll = (emit: (item: unknown, position: number) => void) => {
      for (const e of states.values()) emit([e.key, e.state], e.position)
      states.clear()
    }
    return {
      everyMillis,
      step: (item, position, emit) => {
        const key = keyOf(item as A)
        const id = keyId(key)
        let e = states.get(id)
        if (e === undefined) {
          e = { key, state: reducer.initial(), position, n: 0 }
          states.set(id, e)
        }
        e.state = reducer.step(e.state, item as A)
        if (everyItems !== undefined && ++e.n >= everyItems) {
          emit([e.key, e.state], e.position)
          states.delete(id)
        }
      },
      tick: everyMillis === undefined ? undefined : emitAll,
      end: emitAll
    }
  }
  return new FlowImpl(
    [{
      stage: stage(name, "keyBy", { _tag: "Transform", make, keyOf: keyOf as never, maxKeyGroups: options.keyGroups }, self.outputs, options),
      partition: "balance"
    }],
    window === undefined
  ) as never
}

// ---------------------------------------------------------------------------
// Sinks

const sinkOf = <R>(name: string, kind: string, make: () => SinkState, inputs: ReadonlyArray<Output>, options: StageOptions & { readonly combine?: (a: unknown, b: unknown) => unknown }) =>
  new SinkImpl(stage(name, kind, { _tag: "Sink", make, combine: options.combine }, inputs, options)) as unknown as Sink<R>

/**
 * What `collect` gathers a flow into: a `Map` after `keyBy`, an array otherwise.
 *
 * @example
 * ```ts
 * type Counts = Pipeline.Collected<Pipeline.Keyed<string, number>>   // Map<string, number>
 * ```
 */
export type Collected<F> = F extends Keyed<infer K, infer V> ? Map<K, V> : F extends Flow<infer A> ? Array<A> : never

/**
 * Gathers every item at one rank (rank 0 unless `rank` says otherwise): an
 * array in arrival order, or a `Map` after `keyBy`.
 *
 * @example
 * ```ts
 * const sink = words.pipe(Pipeline.keyBy("count", (w: string) => w, Pipeline.count()), Pipeline.collect("result"))
 * const counts = yield* Pipeline.run(sink)        // Option<Map<string, number>>
 * ```
 */
export const collect = (name: string, options: RankOption = {}) => <F extends Flow<any>>(self: F): Sink<Collected<F>> => {
  const keyed = (self as unknown as FlowImpl).keyed
  const make = (): SinkState => {
    if (keyed) {
      const m = new Map<unknown, unknown>()
      return { step: (item) => void m.set((item as [unknown, unknown])[0], (item as [unknown, unknown])[1]), result: () => m }
    }
    const items: Array<unknown> = []
    return { step: (item) => void items.push(item), result: () => items }
  }
  return sinkOf(name, "collect", make, self.outputs, { ranks: options.rank === undefined ? undefined : [options.rank] }) as never
}

/**
 * Folds every item into one value at one rank.
 *
 * @example
 * ```ts
 * const total = numbers.pipe(Pipeline.foldTo("total", 0, (sum, n: number) => sum + n))
 * ```
 */
export const foldTo = <A, S>(name: string, initial: S, f: (state: S, item: A) => S, options: RankOption & Pick<StageOptions, "onError" | "restart"> = {}) =>
(self: Flow<A>): Sink<S> =>
  sinkOf(name, "fold", () => {
    let state = initial
    return { step: (item) => void (state = f(state, item as A)), result: () => state }
  }, self.outputs, { ...options, ranks: options.rank === undefined ? undefined : [options.rank] })

/**
 * Runs `f` on every item, for its side effects, in `replicas` actors (a
 * function or one returning an Effect). Its result on a rank is how many
 * items its replicas there handled.
 *
 * @example
 * ```ts
 * rows.pipe(Pipeline.forEach("print", (row: Row) => Effect.log(row), { replicas: 2 }))
 * ```
 */
export const forEach = <A, E = never>(
  name: string,
  f: (a: A) => Effect.Effect<void, E> | void,
  options: Omit<StageOptions, "schema"> = {}
) =>
(self: Flow<A>): Sink<number> =>
  sinkOf(name, "forEach", () => {
    let n = 0
    return {
      step: (item) => {
        n++
        const r = f(item as A)
        return Effect.isEffect(r) ? r : undefined
      },
      result: () => n
    }
  }, self.outputs, { ...options, combine: (a, b) => (a as number) + (b as number) })

interface QueueSlot {
  current: Queue.Queue<unknown, unknown> | undefined
}

/**
 * A sink that hands its items, as they arrive, to `runStream`'s Stream on its
 * rank (for composing a pipeline with Effect code). Backpressure reaches
 * into the pipeline: a slow consumer of the Stream slows the sources.
 *
 * @example
 * ```ts
 * const out = numbers.pipe(Pipeline.map("double", (n: number) => n * 2), Pipeline.toStream("out"))
 * yield* Pipeline.runStream(out).pipe(Stream.runForEach((n) => Effect.log(n)))
 * ```
 */
export const toStream = (name: string, options: RankOption = {}) => <A>(self: Flow<A>): StreamSink<A> => {
  const slot: QueueSlot = { current: undefined }
  const make = (): SinkState => {
    const q = slot.current
    return {
      step: (item) => q === undefined ? undefined : Effect.asVoid(Queue.offer(q, item)),
      result: () => undefined
    }
  }
  return new SinkImpl(stage(name, "toStream", { _tag: "Sink", make }, self.outputs, { ranks: options.rank === undefined ? undefined : [options.rank] }), slot) as unknown as StreamSink<A>
}

// ---------------------------------------------------------------------------
// Running

/**
 * Options of a run.
 *
 * @example
 * ```ts
 * yield* Pipeline.run(sink, { batchSize: 1024, window: 8, maxDelay: "2 millis", progress: true, onRankFailure: "rerun" })
 * ```
 */
export interface RunOptions {
  /** The communicator whose ranks run the pipeline (default `Comm.World`); every member calls `run`. */
  readonly comm?: Comm | undefined
  /** Items per micro-batch between actors (default 512). */
  readonly batchSize?: number | undefined
  /** How long an item may wait in a partial batch (default 5 ms). */
  readonly maxDelay?: Duration.Input | undefined
  /** Batches in flight per producer–consumer pair: the credit window (default 4). */
  readonly window?: number | undefined
  /** The codec items travel in (default the communicator's). */
  readonly codec?: CodecChoice | undefined
  /** Print a progress line every second on rank 0 (or hand it to this function). */
  readonly progress?: boolean | ((line: string) => Effect.Effect<void>) | undefined
  /**
   * What a rank's death does to the run: `"fail"` (default) fails it with
   * `RankFailed` naming the rank and the stages it ran; `"rerun"` places the
   * graph again over the ranks left and runs it again from its sources (which
   * must be replayable), so the result is that of a clean run.
   */
  readonly onRankFailure?: "fail" | "rerun" | undefined
}

/**
 * Every error `run` may fail with.
 *
 * @example
 * ```ts
 * Pipeline.run(sink).pipe(Effect.catchTag("StageFailed", (e) => Effect.log(`${e.stage} failed on ${e.position?.index}`)))
 * ```
 */
export type PipelineError = StageFailed | PipelineInvalid | RankFailed | TransportError | CreateError

type AnySink = Sink<any>

/**
 * What `run` returns for a sink, or for a record of sinks: each sink's result where it was placed, `None` elsewhere.
 *
 * @example
 * ```ts
 * type R = Pipeline.Results<{ total: Pipeline.Sink<number> }>   // { readonly total: Option<number> }
 * ```
 */
export type Results<S> = S extends Sink<infer R> ? Option.Option<R>
  : { readonly [K in keyof S]: S[K] extends Sink<infer R> ? Option.Option<R> : never }

const isSink = (u: unknown): u is SinkImpl => u instanceof SinkImpl

const settingsOf = (options: RunOptions, gatherStats: boolean): PipelineInvalid | Runtime.Settings => {
  const batchSize = options.batchSize ?? 512
  const window = options.window ?? 4
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1 << 20) {
    return new PipelineInvalid({ message: `batchSize must be an integer from 1 to ${1 << 20}; got ${batchSize}` })
  }
  if (!Number.isInteger(window) || window < 1 || window > 1024) return new PipelineInvalid({ message: `window must be an integer from 1 to 1024; got ${window}` })
  const delay = Option.getOrUndefined(Duration.fromInput(options.maxDelay ?? "5 millis"))
  if (delay === undefined) return new PipelineInvalid({ message: `maxDelay is not a duration: ${String(options.maxDelay)}` })
  const progress = options.progress ?? (process.env[PIPELINE_PROGRESS_ENV] === "1" ? true : undefined)
  return {
    batchSize,
    window,
    maxDelayMillis: Math.max(0, Duration.toMillis(delay)),
    codec: options.codec,
    progress: progress === true ? (line) => Effect.log(line) : typeof progress === "function" ? progress : undefined,
    gatherStats: gatherStats || progress !== undefined
  }
}

const sinksOf = (p: AnySink | Record<string, AnySink>): PipelineInvalid | ReadonlyArray<readonly [string | undefined, SinkImpl]> => {
  if (isSink(p)) return [[undefined, p]]
  const entries = Object.entries(p)
  const bad = entries.find(([, s]) => !isSink(s))
  if (bad !== undefined) return new PipelineInvalid({ message: `run takes a sink or a record of sinks; "${bad[0]}" is not a sink (end the flow with collect, foldTo, forEach or toStream)` })
  return entries as never
}

const runWith = (p: AnySink | Record<string, AnySink>, options: RunOptions, gatherStats: boolean, streams?: Queue.Queue<unknown, unknown>) =>
  Effect.gen(function*() {
    const settings = settingsOf(options, gatherStats)
    if (settings instanceof PipelineInvalid) return yield* settings
    const sinks = sinksOf(p)
    if (sinks instanceof PipelineInvalid) return yield* sinks
    const comm = options.comm ?? (yield* World)
    const placement = Placement.place(sinks.map(([, s]) => s.stage), comm.size)
    if (placement instanceof PipelineInvalid) return yield* placement
    for (const [, s] of sinks) if (s.queueSlot !== undefined) s.queueSlot.current = streams
    const rerun = options.onRankFailure === "rerun"
    if (rerun) {
      const streamed = sinks.find(([, s]) => s.queueSlot !== undefined)
      if (streamed !== undefined) {
        return yield* new PipelineInvalid({
          stage: streamed[1].stage.name,
          message: `onRankFailure: "rerun" runs the graph again from its sources, so a toStream sink ("${streamed[1].stage.name}") would hand out items twice; collect, fold or forEach instead`
        })
      }
      const once = placement.origins.find((a) => a.stage.stage.logic._tag === "Source" && !a.stage.stage.logic.replayable)
      if (once !== undefined) {
        return yield* new PipelineInvalid({
          stage: once.stage.stage.name,
          message: `onRankFailure: "rerun" reads the sources again after a rank fails, but source "${once.stage.stage.name}" is an iterator that can be read once (a generator's result?); pass an array, an iterable object ({ [Symbol.iterator]: () => … }) or a Stream`
        })
      }
    }
    const own = yield* comm.dup()
    const ran = yield* Effect.gen(function*() {
      let placed = placement
      for (let attempt = 0;; attempt++) {
        const dead = new Set<number>()
        const exit = yield* Effect.exit(Runtime.execute(own, placed, settings, attempt, dead))
        if (exit._tag === "Success") return { ran: exit.value, placed }
        const error = Cause.squash(exit.cause) as Runtime.RunFailure
        if (!rerun || Cause.hasInterrupts(exit.cause)) return yield* Effect.failCause(exit.cause)
        // Agree with the other survivors on who is gone and whether a stage failed on its own.
        const failures = new Map<number, Runtime.Failure>()
        if (!(error instanceof RankFailed)) failures.set(own.rank, Runtime.toFailure(error))
        const view = yield* Agreement.agree(own, placed.ranks, attempt, { dead, failures })
        const decisive = Agreement.decisive(view)
        if (decisive !== undefined) return yield* Effect.fail(Runtime.fromFailure(decisive))
        if (view.dead.size === 0) return yield* Effect.failCause(exit.cause)
        const alive = placed.ranks.filter((r) => !view.dead.has(r))
        const next = Placement.place(sinks.map(([, s]) => s.stage), comm.size, alive)
        if (next instanceof PipelineInvalid) return yield* next
        yield* Effect.logWarning(
          `pipeline: rank${view.dead.size === 1 ? "" : "s"} ${[...view.dead].sort((a, b) => a - b).join(", ")} failed (${error.message}); running it again from its sources on ranks ${alive.join(", ")}`
        )
        placed = next
      }
    }).pipe(Effect.ensuring(Effect.ignore(own.free())))
    const resultOf = (s: SinkImpl) => {
      const index = ran.placed.stages.findIndex((st) => st.stage === s.stage)
      return ran.ran.results.has(index) ? Option.some(ran.ran.results.get(index)) : Option.none()
    }
    const results = sinks.length === 1 && sinks[0]![0] === undefined
      ? resultOf(sinks[0]![1])
      : Object.fromEntries(sinks.map(([k, s]) => [k, resultOf(s)]))
    return { results, stats: ran.ran.stats }
  })

/**
 * Runs a pipeline on every rank of the communicator (collective: every
 * member calls it with the same graph). Returns, on each rank, each sink's
 * result where the sink was placed and `None` elsewhere: for one sink an
 * `Option`, for a record of sinks a record of `Option`s.
 *
 * @example
 * ```ts
 * const result = yield* Pipeline.run(counts)                       // Option<Map<string, number>>
 * const { total, rows } = yield* Pipeline.run({ total: totalSink, rows: rowSink }, { batchSize: 1024 })
 * ```
 */
export const run = <S extends AnySink | Record<string, AnySink>>(p: S, options: RunOptions = {}): Effect.Effect<Results<S>, PipelineError, World> =>
  Effect.map(runWith(p, options, false), (r) => r.results as Results<S>)

/**
 * Like `run`, and also every actor's counts from every rank (items in and
 * out, busy and blocked time, mailbox peaks against their bounds).
 *
 * @example
 * ```ts
 * const { result, stats } = yield* Pipeline.runWithStats(sink)
 * for (const s of stats) yield* Effect.log(`${s.stage}#${s.replica}: ${s.itemsIn} in, peak mailbox ${s.mailboxPeak}/${s.mailboxBound}`)
 * ```
 */
export const runWithStats = <S extends AnySink | Record<string, AnySink>>(
  p: S,
  options: RunOptions = {}
): Effect.Effect<{ readonly result: Results<S>; readonly stats: ReadonlyArray<ActorStats> }, PipelineError, World> =>
  Effect.map(runWith(p, options, true), (r) => ({ result: r.results as Results<S>, stats: r.stats }))

/**
 * Runs a pipeline that ends in `toStream` and gives its items as a Stream on
 * the sink's rank (an empty Stream elsewhere, which ends when the run does).
 * Collective, like `run`: every rank runs the Stream.
 *
 * @example
 * ```ts
 * const doubled = yield* Stream.runCollect(Pipeline.runStream(numbers.pipe(Pipeline.map("double", (n: number) => n * 2), Pipeline.toStream("out"))))
 * ```
 */
export const runStream = <A>(p: StreamSink<A>, options: RunOptions = {}): Stream.Stream<A, PipelineError, World> =>
  Stream.unwrap(Effect.gen(function*() {
    const queue = yield* Queue.bounded<unknown, PipelineError | Cause.Done>(Math.max(1, (options.batchSize ?? 512) * (options.window ?? 4)))
    yield* runWith(p as unknown as AnySink, options, false, queue as never).pipe(
      Effect.matchCauseEffect({
        onSuccess: () => Queue.end(queue),
        onFailure: (cause) => Queue.failCause(queue, cause)
      }),
      Effect.forkScoped
    )
    return Stream.fromQueue(queue) as Stream.Stream<A, PipelineError>
  }))

/**
 * The graph placed on `size` ranks, in words: each stage, its replicas'
 * ranks, and where its items go. (Fails with the same `PipelineInvalid` as `run`.)
 *
 * @example
 * ```ts
 * console.log(Pipeline.describe(counts, 8))
 * // pipeline on 8 ranks: 4 stages, 8 actors
 * //   lines   source   ×1  rank 0          → split (balance)
 * //   split   flatMap  ×2  ranks 1, 2      → count (keyed)
 * //   …
 * ```
 */
export const describe = (p: AnySink | StreamSink<any> | Record<string, AnySink>, size: number): string => {
  const sinks = sinksOf(p as AnySink)
  if (sinks instanceof PipelineInvalid) throw sinks
  const placement = Placement.place(sinks.map(([, s]) => s.stage), size)
  if (placement instanceof PipelineInvalid) throw placement
  return Placement.describe(placement)
}

