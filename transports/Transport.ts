/**
 * The Transport interface: moves frames between the ranks of one job.
 *
 * A transport knows nothing of tags, communicators or collectives. It moves a
 * packet — a small opaque `envelope` (written and read by `core/`), the codec's
 * header frame, and the codec's out-of-band buffers — from this rank to
 * another, in order per ordered pair of ranks, and hands arriving packets to a
 * single consumer (core's matching engine) as `Arrival`s.
 *
 * The send and arrival paths are plain callbacks rather than Effects: they are
 * the hot path (one message costs about a microsecond on shared memory), and
 * core wraps them in Effects at the public API.
 *
 * Flow control and buffering belong to the transport: an arrival holds
 * transport resources (ring space, credits, a rendezvous) until it is taken
 * or discarded, so the transport can bound the memory that unreceived
 * messages use and make senders wait instead.
 */
import type { Frames } from "../codecs/Codec.ts"
import { Data } from "effect"

/**
 * A packet as handed to `send`. The transport may keep references until `done` is called.
 *
 * @example
 * ```ts
 * transport.send(1, { envelope, frames: pickle.encodeSync({ step: 1 }) }, (error) => { if (error) console.error(error.message) })
 * ```
 */
export interface Packet {
  /**
   * Opaque bytes for the consumer (core's message envelope); at most 255
   * bytes. A transport reads them before `send` returns and keeps no
   * reference to them (it copies what it keeps), so the caller may write its
   * next envelope into the same array.
   */
  readonly envelope: Uint8Array
  /** The codec's frames: a header (small) and out-of-band buffers (any size). */
  readonly frames: Frames
}

/**
 * A packet that arrived, not yet taken.
 *
 * @example
 * ```ts
 * transport.onArrival((a) => {
 *   if (a.sizes.length === 0) a.take(undefined, (frames) => handle(a.envelope, frames))
 *   else a.discard()   // its buffers are dropped, its memory given back
 * })
 * ```
 */
export interface Arrival {
  readonly source: number
  /** Stable copy of the sender's envelope. */
  readonly envelope: Uint8Array
  /** Stable copy of the codec header frame. */
  readonly header: Uint8Array
  /** Byte lengths of the out-of-band buffers, known before they are fetched. */
  readonly sizes: ReadonlyArray<number>
  /**
   * Completes the arrival and hands over its frames. Where `into[i]` is given
   * (exactly `sizes[i]` bytes) buffer `i` is written there; otherwise it is
   * delivered in memory the caller may keep. `done` may be called
   * synchronously. Call at most once, and not after `discard`. `take` and
   * `discard` may be called from inside the arrival handler itself.
   */
  take(into: ReadonlyArray<Uint8Array | undefined> | undefined, done: (result: Frames | TransportError) => void): void
  /** Drops the arrival, releasing what it holds. */
  discard(): void
}

/**
 * Outcome of a send: `undefined` when the caller's buffers may be reused, else why it failed.
 *
 * @example
 * ```ts
 * const done: SendDone = (error) => (error === undefined ? next() : fail(error))
 * transport.send(dest, packet, done)
 * ```
 */
export type SendDone = (error?: TransportError | PeerFailure) => void

/**
 * Moves frames between the ranks of a job: what rankflow's core needs from shared memory, NATS or a transport of your own.
 *
 * @example
 * ```ts
 * const hello: RunnerModule = {
 *   serve: (t: Transport) => {
 *     t.onArrival((a) => a.take(undefined, (f) => console.log(`rank ${t.rank} got ${Codec.byteLength(f as Frames)} bytes from ${a.source}`)))
 *     if (t.rank === 0) for (let r = 1; r < t.size; r++) t.send(r, packet, () => {})
 *   }
 * }
 * ```
 */
export interface Transport {
  /** The kind, e.g. `"shm"` or `"nats"`. */
  readonly kind: string
  readonly rank: number
  readonly size: number
  /**
   * Starts sending `packet` to `dest` (which may be this rank). `done` is called
   * once the caller's buffers may be reused: at once for small messages that
   * are copied eagerly, after delivery for large ones. Packets to one
   * destination arrive in the order of their `send` calls.
   */
  send(dest: number, packet: Packet, done: SendDone): void
  /** Installs the single consumer of arrivals (replacing any previous one). */
  onArrival(handler: (arrival: Arrival) => void): void
  /** Installs the consumer of peer failures (a rank died or became unreachable). */
  onPeerFailure(handler: (failure: PeerFailure) => void): void
  /**
   * Delivers what has already arrived, synchronously, without waiting. Core
   * calls it while a receive is about to block, so that a transport can spin
   * briefly instead of paying a thread wake-up. Returns whether anything
   * moved (an arrival, a completion, a fragment of a large transfer), so that
   * a spinning caller can keep spinning while data flows.
   */
  poll(): boolean
  /** How long callers spin on `poll` without news before they sleep or suspend (0 where ranks outnumber cores). */
  readonly spinMicros: number
  /**
   * Where plain spinning is off because ranks outnumber cores, how long a
   * caller that waits together with the others (a collective) may spin
   * calling `pause` between polls; absent or 0: not at all.
   */
  readonly yieldingSpinMicros?: number
  /**
   * Where present, the spin budget (µs) of a wait that begins now, in place
   * of `spinMicros`: a transport that knows whether other ranks are running
   * may spin where ranks outnumber cores but most of them wait (shm).
   */
  readonly spinBudget?: () => number
  /**
   * Called when a waiter stops waiting in place and suspends (at once where
   * the transport has no spin budget): the rank may have nothing left to do.
   * Shared memory counts the rank as no longer running; NATS keeps its event
   * loop polling the connection for a while (`pollMicros`).
   */
  readonly park?: () => void
  /** Called between polls that found nothing, with the microseconds spun since the last progress: yields the thread's core to another runnable thread, if any, where the transport can and wants. */
  pause?(spun: number): void
  /** After spinning, how long callers may sleep in `sleep` before suspending; absent or 0: never. */
  readonly sleepMicros?: number
  /**
   * Blocks the thread until news may have come or `micros` passed, where the
   * transport can (shared memory: `Atomics.wait` on the rank's doorbell).
   * Asks senders to wake it first, then calls `idle()`, which looks for news
   * once more, and sleeps only if it returns true.
   */
  sleep?(micros: number, idle: () => boolean): void
  /**
   * Shared-memory allocation for the zero-copy path, where the transport has
   * one: the returned array is visible to every rank of the job without a
   * copy. `undefined` where the transport has no shared memory.
   */
  readonly alloc?: SharedAllocator
  /**
   * Shared segments with flags, for collectives that meet in memory instead
   * of exchanging messages, where the transport has shared memory;
   * `undefined` elsewhere (core then runs its point-to-point algorithms).
   */
  readonly segments?: SharedSegments
  /**
   * A count that grows whenever the transport moves anything (a delivery, a
   * fragment of a large transfer), where the transport keeps one: an
   * unchanged count over a while means nothing moved.
   */
  activity?(): number
  /**
   * Joins a *link*: a further transport between `size` ranks that may belong
   * to different jobs on the same medium (NATS: jobs on one server or
   * cluster), all of which call `link` with the same `name`, each with its
   * own `rank` in `0..size-1`. `key` (at least 16 bytes, the same at every
   * rank) authenticates the link's frames where the medium signs them.
   * Resolves once every rank joined; rejects with a `TransportError` when
   * they do not within the join timeout. The link closes with this
   * transport, or earlier with its own `close`. Absent where the medium
   * reaches no other job (shm: a job is one process).
   */
  link?(name: string, rank: number, size: number, key: Uint8Array): Promise<Transport>
  /** Releases everything the transport holds; pending sends fail. */
  close(): void
}

/**
 * Memory every rank of a job can address (the zero-copy path), where a transport offers it.
 *
 * @example
 * ```ts
 * const grid = transport.alloc?.alloc(Float64Array, 1 << 20)   // undefined where the transport has no shared memory
 * if (grid !== undefined) transport.alloc!.release(grid)
 * ```
 */
export interface SharedAllocator {
  /** A zeroed array of `length` elements in shared memory, or `undefined` when the arena is full. */
  alloc<T extends SharedArrayLike>(ctor: SharedArrayConstructor<T>, length: number): T | undefined
  /** Gives an array from `alloc` (or received through the zero-copy path) back early. */
  release(array: ArrayBufferView): boolean
  /** Whether `array` lives in the shared arena. */
  owns(array: ArrayBufferView): boolean
  /** Bytes of the arena in use now (every rank's blocks), and its size, where the allocator counts them. */
  usage?(): { readonly used: number; readonly size: number }
}

/**
 * Memory that a group of ranks share, plus the means to signal through it:
 * int32 words read and written atomically (sequentially consistent), and a
 * way to tell another rank that a word changed (waking it if it sleeps).
 * Plain data written before a `store` is visible to a rank that `load`s the
 * stored value.
 *
 * @example
 * ```ts
 * const seg = transport.segments?.create(4096, 4)   // on rank 0; the others attach by handle
 * const peer = transport.segments!.attach(handle, 4096)
 * const stop = transport.segments!.watch(() => check(peer))
 * ```
 */
export interface SharedSegments {
  /**
   * A zeroed segment of `bytes` (a multiple of 64), for `members` ranks, each
   * of which (the creator included) calls `detach` once when done; the
   * last to detach frees it. `undefined` when shared memory is short.
   */
  create(bytes: number, members: number): SharedSegment | undefined
  /** The segment another rank created, by its handle. */
  attach(handle: number, bytes: number): SharedSegment
  /** Calls `news` each time this rank handles news from other ranks (a signal); returns the unsubscribe. */
  watch(news: () => void): () => void
}

/**
 * One segment (see `SharedSegments`).
 *
 * @example
 * ```ts
 * seg.store(0, 1)    // word 0 of the segment, atomically
 * seg.signal(2)      // wake rank 2 if it waits on this segment
 * seg.load(0)        // 1
 * ```
 */
export interface SharedSegment {
  /** What other ranks attach it by. */
  readonly handle: number
  /** The segment's memory (8-byte aligned). */
  readonly bytes: Uint8Array
  /** The int32 at word index `word` (byte offset `4 * word`). */
  load(word: number): number
  store(word: number, value: number): void
  /** Tells world rank `rank` that words it may wait on changed. */
  signal(rank: number): void
  /** This rank is done with the segment. */
  detach(): void
}

/**
 * A typed array (or DataView) that shared memory can back.
 *
 * @example
 * ```ts
 * const view: SharedArrayLike = new Float32Array(transportBuffer, 0, 16)
 * ```
 */
export type SharedArrayLike = ArrayBufferView & { readonly length: number }
/**
 * A typed array class that can view shared memory.
 *
 * @example
 * ```ts
 * const make = <T extends SharedArrayLike>(ctor: SharedArrayConstructor<T>, n: number) => transport.alloc?.alloc(ctor, n)
 * ```
 */
export interface SharedArrayConstructor<T> {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): T
  readonly BYTES_PER_ELEMENT: number
}

/**
 * A transport-level failure: the underlying medium failed.
 *
 * @example
 * ```ts
 * yield* World.make({ size: 4, transport: "nats" }).pipe(
 *   Effect.catchTag("TransportError", (e) => Effect.logError(`${e.transport}: ${e.message}`))
 * )
 * ```
 */
export class TransportError extends Data.TaggedError("TransportError")<{
  readonly transport: string
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * A peer rank died or became unreachable.
 *
 * @example
 * ```ts
 * transport.onPeerFailure((f: PeerFailure) => console.error(`rank ${f.rank} failed: ${f.reason}`))
 * ```
 */
export class PeerFailure extends Data.TaggedError("PeerFailure")<{
  readonly rank: number
  readonly reason: string
}> {}
