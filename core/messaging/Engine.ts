/**
 * One rank's message engine: the transport below, the matching engine, and
 * the acknowledgements of synchronous sends. Every communicator of the rank
 * shares it.
 */
import * as Trace from "../observe/recorder.ts"
import { byteLength, type Frames } from "../../codecs/Codec.ts"
import { type Arrival, PeerFailure, type Transport, TransportError } from "../../transports/Transport.ts"
import * as Envelope from "./Envelope.ts"
import { Matching } from "./Matching.ts"
import type { Wait } from "./waits.ts"

const EMPTY_FRAMES: Frames = { header: new Uint8Array(0), buffers: [] }

interface AckWaiter {
  readonly dest: number
  readonly settle: (failure?: PeerFailure | TransportError | string) => void
  /** The synchronous send's context and tag, and when it started waiting (for reports). */
  readonly context: number
  readonly tag: number
  readonly since: number
}

/** What the engine knows of a communicator, for reports of what a rank waits for. */
export interface CommInfo {
  /** `"world"`, or how the communicator came about. */
  readonly name: string
  /** World rank of each member, by communicator rank. */
  readonly group: ReadonlyArray<number>
}

/**
 * Something that waits on other ranks outside the matching engine (a
 * collective meeting in shared memory): told when a rank fails or finishes,
 * and asked what it waits for.
 */
export interface Waiter {
  peerFailed(rank: number, reason: string): void
  /** `rank`'s program finished the run whose contexts start at `base`. */
  peerFinished(rank: number, base: number): void
  waits(): ReadonlyArray<Wait>
  /** The run ended: stop waiting and let go of what it holds. */
  end(): void
}

export class Engine {
  readonly transport: Transport
  readonly matching = new Matching()
  private nextSeq = 1
  private readonly acks = new Map<number, AckWaiter>()
  /** Contexts handed out so far; communicators agree on new ones through their parent. */
  contextCounter = 0
  /** Packets sent and arrived (every kind): equal sums over all ranks mean nothing is in flight. */
  sent = 0
  arrived = 0
  /** Bytes of the messages sent and arrived (codec header and buffers), for a dashboard's rates. */
  bytesSent = 0
  bytesArrived = 0
  /** Communicators by point-to-point context (collectives use context + 1). */
  readonly comms = new Map<number, CommInfo>()
  /** Contexts of the current run: `[runBase, runBase + runSpan)`. */
  runBase = 0
  runSpan = 0
  /** Waiters outside the matching engine (see `Waiter`). */
  readonly waiters = new Set<Waiter>()
  /**
   * The ranks of the current run (the world, and the ranks it spawned or was
   * spawned by): the ranks told when this one finishes. All the transport's
   * ranks when undefined; fewer where the transport keeps free slots for spawn.
   */
  reach: Set<number> | undefined
  /** Called for messages that are not rankflow's (logged and dropped). */
  onForeign: (source: number, why: string) => void = () => {}
  /**
   * Links to ranks of other jobs (see `attach`), by their first rank number:
   * ranks `first .. first + transport.size - 1` are that link's ranks.
   */
  private readonly links: Array<{ readonly first: number; readonly transport: Transport; closed: boolean }> = []
  /** Rank numbers in use: the transport's, then every attached link's. */
  private extentOf: number

  constructor(transport: Transport) {
    this.transport = transport
    this.extentOf = transport.size
    // A communicator's collectives use the context after its own, which is not registered by itself.
    this.matching.canSend = (context, rank) => {
      const group = (this.comms.get(context) ?? this.comms.get(context - 1))?.group
      return group === undefined || group.includes(rank)
    }
    transport.onArrival((a) => this.arrive(a))
    transport.onPeerFailure((f) => this.peerFailed(f))
  }

  get rank(): number {
    return this.transport.rank
  }

  get size(): number {
    return this.transport.size
  }

  /** Rank numbers this engine addresses: the transport's (`size`), then those of attached links. */
  get extent(): number {
    return this.extentOf
  }

  /**
   * Takes `link` (a transport to ranks of other jobs, `Transport.link`) into
   * this engine: its rank `r` becomes rank `first + r` here, for sends,
   * arrivals and failures alike. Returns `first`.
   */
  attach(link: Transport): number {
    const first = this.extentOf
    this.extentOf += link.size
    this.links.push({ first, transport: link, closed: false })
    link.onArrival((a) => this.arrive(relabel(a, first + a.source)))
    link.onPeerFailure((f) => this.peerFailed(new PeerFailure({ rank: first + f.rank, reason: f.reason })))
    return first
  }

  /** The link that carries rank `dest` (at or beyond `size`), and its number there. */
  private route(dest: number): readonly [Transport, number] | string {
    for (const l of this.links) {
      if (dest < l.first || dest >= l.first + l.transport.size) continue
      return l.closed ? `rank ${dest} was reached through a link to another job, which is disconnected` : [l.transport, dest - l.first]
    }
    return `cannot send to rank ${dest}: the job has ranks 0-${this.size - 1}, and no link to another job has it`
  }

  private arrive(a: Arrival): void {
    this.arrived++
    const env = a.envelope
    if (!Envelope.isValid(env)) {
      a.discard()
      this.onForeign(a.source, "its envelope is malformed")
      return
    }
    if (Envelope.kind(env) === Envelope.KIND_ACK) {
      a.discard()
      const seq = Envelope.seq(env)
      const waiter = this.acks.get(seq)
      if (waiter === undefined || waiter.dest !== a.source) {
        this.onForeign(a.source, `it acknowledges an unknown synchronous send ${seq}`)
        return
      }
      this.acks.delete(seq)
      waiter.settle()
      return
    }
    if (Envelope.kind(env) === Envelope.KIND_FIN) {
      a.discard()
      this.peerFinished(a.source, Envelope.context(env))
      return
    }
    let bytes = a.header.byteLength
    for (let i = 0; i < a.sizes.length; i++) bytes += a.sizes[i]!
    this.bytesArrived += bytes
    if (Trace.tracing) Trace.arrived(this.rank, a.source, Envelope.tag(env), bytes, a)
    this.matching.arrive(a.source, Envelope.context(env), Envelope.tag(env), a)
  }

  private peerFailed(f: PeerFailure): void {
    this.matching.peerFailed(f.rank, f.reason)
    for (const [seq, w] of this.acks) {
      if (w.dest !== f.rank) continue
      this.acks.delete(seq)
      w.settle(f)
    }
    for (const w of this.waiters) w.peerFailed(f.rank, f.reason)
  }

  private peerFinished(rank: number, base: number): void {
    this.matching.peerFinished(rank, base, this.runSpan, (this.reach?.size ?? this.size) - 1)
    // A synchronous send to it in that run was never matched: it never will be.
    for (const [seq, w] of this.acks) {
      if (w.dest !== rank || w.context < base || w.context >= base + this.runSpan) continue
      this.acks.delete(seq)
      w.settle(`rank ${rank} has finished`)
    }
    for (const w of this.waiters) w.peerFinished(rank, base)
  }

  /**
   * The array each send of this rank writes its envelope into just before
   * `send` (`Envelope.write`): transports read the envelope before `send`
   * returns (Transport.ts), so one array serves them all.
   */
  readonly envelope = new Uint8Array(Envelope.ENVELOPE_BYTES)

  /** Sends a packet; `done` reports when the caller's buffers may be reused. */
  send(dest: number, envelope: Uint8Array, frames: Frames, done: (error?: TransportError | PeerFailure) => void): void {
    this.sent++
    const bytes = byteLength(frames)
    this.bytesSent += bytes
    if (Trace.tracing) Trace.sent(this.rank, dest, Envelope.tag(envelope), bytes)
    if (dest < this.transport.size) return this.transport.send(dest, { envelope, frames }, done)
    const route = this.route(dest)
    if (typeof route === "string") return done(new TransportError({ transport: this.transport.kind, message: route }))
    route[0].send(route[1], { envelope, frames }, done)
  }

  /**
   * A fresh sequence number for a synchronous send, with `settle` called on
   * its acknowledgement, or with why it will never come.
   */
  expectAck(dest: number, context: number, tag: number, settle: (failure?: PeerFailure | TransportError | string) => void): number {
    const seq = this.nextSeq++
    this.acks.set(seq, { dest, settle, context, tag, since: Date.now() })
    return seq
  }

  /** The synchronous sends waiting for their acknowledgement. */
  pendingAcks(): Iterable<AckWaiter> {
    return this.acks.values()
  }

  /**
   * Tells every other rank that this rank's program finished the current run:
   * their receives from it that are still waiting fail instead of hanging.
   * Sent after everything else, so it arrives after every message of the run.
   */
  finish(): void {
    const envelope = Envelope.encode(Envelope.KIND_FIN, 0, this.runBase, 0, 0)
    for (const dest of this.reach ?? Array.from({ length: this.size }, (_, r) => r)) {
      if (dest === this.rank) continue
      this.sent++
      this.transport.send(dest, { envelope, frames: EMPTY_FRAMES }, () => {})
    }
  }

  /** Ends the current run for the waiters outside the matching engine, and closes its links to other jobs. */
  endRun(): void {
    for (const w of [...this.waiters]) w.end()
    this.closeLinks()
  }

  /** Acknowledges a matched synchronous send. */
  acknowledge(dest: number, seq: number): void {
    this.sent++
    const packet = { envelope: Envelope.encode(Envelope.KIND_ACK, 0, 0, 0, seq), frames: EMPTY_FRAMES }
    if (dest < this.transport.size) return this.transport.send(dest, packet, () => {})
    const route = this.route(dest)
    if (typeof route !== "string") route[0].send(route[1], packet, () => {})
  }

  /** Closes `link` (one from `attach`), or every link: their ranks then fail as gone at the other side. */
  closeLinks(link?: Transport): void {
    for (const l of this.links) {
      if (l.closed || (link !== undefined && l.transport !== link)) continue
      l.closed = true
      l.transport.close()
    }
  }

  /** Reserves `n` consecutive context ids at or above `atLeast` and returns the first. */
  reserveContexts(atLeast: number, n: number): number {
    const first = Math.max(this.contextCounter, atLeast)
    this.contextCounter = first + n
    return first
  }
}

/** An arrival of a link, numbered as the engine numbers its source. */
const relabel = (a: Arrival, source: number): Arrival => ({
  source,
  envelope: a.envelope,
  header: a.header,
  sizes: a.sizes,
  take: (into, done) => a.take(into, done),
  discard: () => a.discard()
})
