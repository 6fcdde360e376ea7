/**
 * The Transport of one rank of a NATS job: frames to and from the other ranks
 * through a NATS server or cluster.
 *
 * Each rank subscribes (with callbacks: no async-iterator hop) to its own
 * subject and to the job subject (see Subjects.ts). Between each ordered pair
 * of ranks, DATA frames carry chunks of messages (Chunking.ts) with sequence
 * numbers, and both directions carry cumulative acknowledgements and credit
 * grants, piggybacked on DATA frames or in ACK frames sent when enough is
 * due (Reliability.ts, Credits.ts). One timer per rank (no timer per message)
 * sends lazy acknowledgements, retransmits what was not acknowledged,
 * publishes heartbeats and checks that peers are alive (Heartbeats.ts); the
 * job starts after the rendezvous (Rendezvous.ts) has agreed on one run, and
 * from then on every frame of another process or run is dropped. With a job
 * key, every frame is signed and verified (FrameAuth.ts).
 */
import type { Msg, NatsConnection, Status, Subscription } from "@nats-io/transport-node"
import type { Frames } from "../../codecs/Codec.ts"
import { type Arrival, type Packet, PeerFailure, type SendDone, type Transport, TransportError } from "../Transport.ts"
import { yieldThread } from "../yieldThread.ts"
import { freshPart, OutgoingMessage, Reassembly, readDescriptor, singleFrameLength, writeSingleFrame, type Descriptor } from "./Chunking.ts"
import { chargeOf, ReceiveCredit, SendCredit } from "./Credits.ts"
import { Slab } from "../Slab.ts"
import { FramePool } from "./Memory.ts"
import { Outbox } from "./Outbox.ts"
import * as Frame from "./Frame.ts"
import { ALL, type FrameAuth, make as makeAuth, MIN_KEY_BYTES, TAG_BYTES } from "./FrameAuth.ts"
import { type HeartbeatSettings, Liveness, Pacer } from "./Heartbeats.ts"
import { DUPLICATE, GAP, ReceiveSequence, SendWindow } from "./Reliability.ts"
import { describeProcess, formatRanks, type JoinOutcome, type LauncherInfo, Rendezvous } from "./Rendezvous.ts"
import { checkJobId, make as subjectsOf, type Subjects } from "./Subjects.ts"

/**
 * What one rank's NATS transport runs with: its rank in the job, the subjects, credit window, frame limits, heartbeats and key.
 *
 * @example
 * ```ts
 * // Built by the launcher for each rank process; a foreign client reads docs/nats-protocol.md instead.
 * const transport = yield* Effect.promise(() => NatsTransport.join(nc, settings, incarnation))
 * ```
 */
export interface NatsTransportSettings {
  readonly subjects: Subjects
  readonly rank: number
  readonly size: number
  readonly heartbeat: HeartbeatSettings
  /** How long the rendezvous waits for every rank (ms). */
  readonly joinTimeoutMs: number
  /** The credit window this rank grants each peer (bytes). */
  readonly windowBytes: number
  /** Largest frame this rank publishes; further capped by the server's max_payload. */
  readonly maxFrameBytes: number
  /** Largest message this rank accepts (bytes of codec header and buffers). */
  readonly maxMessageBytes: number
  /** Acknowledgements and retransmission (false only to measure their cost). */
  readonly reliable: boolean
  /** First retransmission of unacknowledged frames after this long without progress (ms); doubles up to 8x. */
  readonly retransmitMs: number
  /** How long a rank may stay cut off from every server before it gives up on the job (ms). */
  readonly reconnectTimeoutMs: number
  /** How long `close` waits for the peers to acknowledge what was sent (ms). */
  readonly lingerMs: number
  /** Where warnings go (dropped frames, refused joins). */
  readonly warn: (message: string) => void
  /** Signs and verifies every frame with the job's key; absent: frames are not authenticated. */
  readonly auth?: FrameAuth | undefined
  /** This process's id and host name, announced in JOINs so that errors can name it. */
  readonly pid?: number | undefined
  readonly host?: string | undefined
  /** The launcher that started this rank and the ranks it starts (default: this rank alone, as its own launcher). */
  readonly launcher?: LauncherInfo | undefined
  /** The world communicator's context id in the job's first run, announced in JOINs for foreign ranks (0: not announced). */
  readonly worldContext?: number | undefined
  /** How long (µs) a waiting rank keeps its event loop polling the connection before it sleeps (`NatsOptions.pollMicros`); absent or 0: never. */
  readonly pollMicros?: number | undefined
}

/**
 * Counters for tests and benchmarks.
 *
 * @example
 * ```ts
 * const { framesSent, bundlesSent, framesBundled, peakHeldBytes } = transport.stats()
 * ```
 */
export interface NatsTransportStats {
  /** Bytes held for arrivals not yet taken, now and at most so far. */
  readonly heldBytes: number
  readonly peakHeldBytes: number
  /** Bytes of frames kept until acknowledged: now (all peers), and the most kept for one peer so far. */
  readonly unackedBytes: number
  readonly peakUnackedBytes: number
  /** Messages waiting to be framed (for want of credit, or a connection). */
  readonly queuedMessages: number
  readonly framesSent: number
  /** NATS messages that carried several DATA frames (bundles), and the frames they carried. */
  readonly bundlesSent: number
  readonly framesBundled: number
  readonly framesReceived: number
  readonly framesRetransmitted: number
  readonly acksSent: number
  /** Frames dropped as malformed or foreign. */
  readonly dropped: number
  /** Of those, frames whose authentication failed (no tag, a wrong tag, a tag where none is expected). */
  readonly unauthenticated: number
  readonly duplicates: number
  readonly disconnects: number
  readonly reconnects: number
  /** Event-loop turns spent polling the connection while a waiter waited (`pollMicros`). */
  readonly pollTurns: number
}

/**
 * Frames up to this size come from the slabs (and a message that fits one
 * takes `sendSmall`): a 4 KiB message with its headers and tag, not only
 * messages under 4 KiB. A fresh ArrayBuffer per 4 KiB frame was 10 % of the
 * sender's CPU in a 4 KiB stream, and such messages missed the fast path.
 */
const SMALL_FRAME_BYTES = 8 * 1024

/** Timer period: lazy acknowledgements, retransmission, heartbeats, liveness. */
const TICK_MS = 50
/** An acknowledgement goes out at once after this many unacknowledged frames, or bytes (or an eighth of the window). */
const ACK_EVERY_FRAMES = 64
const ACK_EVERY_BYTES = 1024 * 1024
/** At most one resend request per peer this often (ms). */
const RESEND_REQUEST_MS = 100
/** At most one notice per second to a failed rank that keeps talking. */
const FAILED_NOTICE_MS = 1000
/** Warnings logged in full before they are thinned out. */
const WARNINGS_IN_FULL = 20
/**
 * A rank that found two processes claiming one rank keeps telling every rank
 * that joins for this long (answering JOINs, and every 250 ms), so that ranks
 * of both runs that start a little later stop too instead of waiting out the
 * join timeout.
 */
export const CONFLICT_LINGER_MS = 3000

const transportError = (message: string, cause?: unknown): TransportError =>
  new TransportError({ transport: "nats", message, cause })

class Peer {
  readonly rank: number
  incarnation = 0
  joined = false
  failure: string | undefined = undefined
  maxFrame = 0
  // Sending towards the peer.
  readonly queue: Array<OutgoingMessage> = []
  queueHead = 0
  readonly window: SendWindow
  readonly credit = new SendCredit()
  nextMessage = 1
  lastProgress = 0
  backoff = 1
  // Receiving from the peer.
  readonly sequence = new ReceiveSequence()
  readonly receiveCredit: ReceiveCredit
  current: Incoming | undefined = undefined
  skipping = -1
  pumping = false
  dirty = false
  forceAck = false
  lastResendRequest = -Infinity
  lastFailedNotice = -Infinity

  constructor(rank: number, window: number, reliable: boolean, freed: (frame: Uint8Array) => void) {
    this.rank = rank
    this.window = new SendWindow(reliable, freed)
    this.receiveCredit = new ReceiveCredit(window)
  }

  get queued(): number {
    return this.queue.length - this.queueHead
  }

  shiftQueue(): OutgoingMessage {
    const m = this.queue[this.queueHead]!
    this.queue[this.queueHead++] = undefined as never
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0
      this.queueHead = 0
    }
    return m
  }
}

const ARRIVING = 0
const COMPLETE = 1
const FAILED = 2

/** A message from a peer: announced once its codec header is in, complete once every chunk is. */
class Incoming implements Arrival {
  readonly source: number
  readonly envelope: Uint8Array
  header: Uint8Array = new Uint8Array(0)
  readonly sizes: ReadonlyArray<number>
  readonly number: number
  readonly reassembly: Reassembly
  private readonly transport: NatsTransport
  readonly peer: Peer
  state = ARRIVING
  failure = ""
  /** Bytes counted against the peer's credit until taken or discarded. */
  held = 0
  consumed = false
  announced = false
  private pending: { into: ReadonlyArray<Uint8Array | undefined> | undefined; done: (result: Frames | TransportError) => void } | undefined

  constructor(transport: NatsTransport, peer: Peer, number: number, descriptor: Descriptor, reassembly: Reassembly) {
    this.transport = transport
    this.peer = peer
    this.source = peer.rank
    this.number = number
    this.envelope = descriptor.envelope
    this.sizes = descriptor.layout.sizes
    this.reassembly = reassembly
  }

  take(into: ReadonlyArray<Uint8Array | undefined> | undefined, done: (result: Frames | TransportError) => void): void {
    if (this.consumed) return done(transportError(`a message from rank ${this.source} was taken twice or after it was discarded`))
    for (let i = 0; into !== undefined && i < into.length; i++) {
      const target = into[i]
      if (target !== undefined && target.length !== this.sizes[i]) {
        return done(transportError(`take: buffer ${i} of the message from rank ${this.source} has ${this.sizes[i]} bytes, the target ${target.length}`))
      }
    }
    this.consume()
    if (this.state === COMPLETE) return done(this.reassembly.frames(into))
    if (this.state === FAILED) return done(transportError(this.failure))
    // The rest of the message is written straight into the caller's buffers.
    if (into !== undefined) this.reassembly.redirect(into)
    this.pending = { into, done }
  }

  discard(): void {
    if (this.consumed) return
    this.consume()
  }

  private consume(): void {
    this.consumed = true
    this.transport.release(this.peer, this.held)
    this.held = 0
  }

  /** Every chunk arrived. */
  completed(): void {
    this.state = COMPLETE
    const p = this.pending
    this.pending = undefined
    p?.done(this.reassembly.frames(p.into))
  }

  /** The rest of the message will never arrive. */
  fail(reason: string): void {
    if (this.state !== ARRIVING) return
    this.state = FAILED
    this.failure = reason
    const p = this.pending
    this.pending = undefined
    p?.done(transportError(reason))
  }
}

/** A message a rank sends itself: copied at once when small, else read from the sender's buffers when taken. */
class SelfArrival implements Arrival {
  readonly source: number
  readonly envelope: Uint8Array
  readonly header: Uint8Array
  readonly sizes: ReadonlyArray<number>
  private buffers: ReadonlyArray<Uint8Array> | undefined
  private senderDone: SendDone | undefined
  private consumed = false

  /** With `eager`, copies the packet now: the caller then calls the sender's `done` itself. */
  constructor(rank: number, packet: Packet, eager: boolean, done: SendDone) {
    this.source = rank
    this.envelope = packet.envelope.slice()
    this.header = packet.frames.header.slice()
    this.sizes = packet.frames.buffers.map((b) => b.byteLength)
    if (eager) this.buffers = packet.frames.buffers.map((b) => b.slice())
    else {
      this.buffers = packet.frames.buffers
      this.senderDone = done
    }
  }

  take(into: ReadonlyArray<Uint8Array | undefined> | undefined, done: (result: Frames | TransportError) => void): void {
    if (this.consumed || this.buffers === undefined) return done(transportError("a message a rank sent itself was taken twice or after it was discarded"))
    const buffers: Array<Uint8Array> = []
    for (let i = 0; i < this.sizes.length; i++) {
      const source = this.buffers[i]!
      const target = into?.[i]
      if (target !== undefined && target.length !== source.length) {
        return done(transportError(`take: buffer ${i} of the message has ${source.length} bytes, the target ${target.length}`))
      }
      if (target !== undefined) target.set(source)
      buffers.push(target ?? (this.senderDone === undefined ? source : source.slice()))
    }
    this.consumed = true
    this.buffers = undefined
    const senderDone = this.senderDone
    this.senderDone = undefined
    done({ header: this.header, buffers })
    senderDone?.()
  }

  discard(): void {
    if (this.consumed) return
    this.consumed = true
    this.buffers = undefined
    const senderDone = this.senderDone
    this.senderDone = undefined
    senderDone?.()
  }

  /** The transport closed before the message was taken: the sender's buffers are free again. */
  abandon(): void {
    const senderDone = this.senderDone
    this.senderDone = undefined
    senderDone?.(transportError("the transport closed before the message was received"))
  }
}

/**
 * A message that arrives whole in one frame at least this large is handed out
 * as views of the client's own buffer (which it never reuses) instead of
 * being copied; smaller ones are copied so that they do not pin the client's
 * 64 KiB read buffers.
 */
const ZERO_COPY_BYTES = 64 * 1024

/** Self-sends up to this size are copied at once; larger ones are copied when received. */
const SELF_EAGER_BYTES = 64 * 1024

/**
 * The NATS transport of one rank: frames with sequence numbers, acknowledgements, credits and heartbeats over a NATS connection (docs/nats-protocol.md).
 *
 * @example
 * ```ts
 * export const serve = (t: Transport) => {
 *   if (t instanceof NatsTransport) console.log(t.stats().framesReceived)
 * }
 * ```
 */
export class NatsTransport implements Transport {
  readonly kind = "nats"
  readonly rank: number
  readonly size: number
  readonly spinMicros = 0
  /**
   * Called by core when a waiter suspends (a receive with nothing to take, a
   * send waiting for credit): where `pollMicros` > 0, the event loop keeps
   * polling the connection that long instead of sleeping in it (`pollFor`);
   * absent otherwise.
   */
  readonly park: (() => void) | undefined
  readonly incarnation: number
  readonly settings: NatsTransportSettings
  /** Who this rank's frames say they are from; `run` is set once the rendezvous agreed. */
  private sender: Frame.Sender
  private readonly auth: FrameAuth | undefined
  private readonly launcher: LauncherInfo
  private readonly launcherRanks: string
  private readonly nc: NatsConnection
  private readonly subjects: Subjects
  private readonly peers: Array<Peer> = []
  private readonly rendezvous: Rendezvous
  private readonly liveness: Liveness
  private readonly heartbeatPacer: Pacer
  private readonly joinPacer = new Pacer(250)
  /** After joining, JOINs repeat more slowly until every peer said it saw everyone. */
  private readonly settlePacer = new Pacer(1000)
  private readonly subscriptions: Array<Subscription> = []
  private maxPayload: number
  private connected = true
  private disconnectedAt = 0
  private joined = false
  private joinSettle: { resolve: () => void; reject: (e: TransportError) => void } | undefined
  private joinDeadline = 0
  private answerJoinScheduled = false
  /** The CONFLICT notice this rank repeats while it lingers after a conflict, and until when. */
  private conflictNotice: Uint8Array | undefined
  private conflictUntil = 0
  private closing: Promise<void> | undefined
  private closed = false
  private timer: ReturnType<typeof setInterval> | undefined
  private lastTick = 0
  private arrivalHandler: ((a: Arrival) => void) | undefined
  private failureHandler: ((f: PeerFailure) => void) | undefined
  private readonly early: Array<Arrival> = []
  private readonly earlyFailures: Array<PeerFailure> = []
  private readonly selfQueue: Array<SelfArrival> = []
  private readonly dirty: Array<Peer> = []
  private flushScheduled = false
  /** Until when (performance.now) the event loop polls, and whether a polling turn is queued. */
  private pollUntil = 0
  private polling = false
  private heldTotal = 0
  private readonly framePool = new FramePool()
  private readonly sendSlab = new Slab(64 * 1024, SMALL_FRAME_BYTES)
  private readonly receiveSlab = new Slab(64 * 1024, SMALL_FRAME_BYTES)
  /** Memory for a part of a received message: small ones from a slab. */
  private readonly allocatePart = (length: number): Uint8Array =>
    length <= this.receiveSlab.maxPiece ? this.receiveSlab.take(length) : freshPart(length)
  private readonly copyToSlab = (bytes: Uint8Array): Uint8Array => {
    const copy = this.receiveSlab.take(bytes.length)
    copy.set(bytes)
    return copy
  }
  private readonly outbox: Outbox
  private warnings = 0
  private dropped = 0
  private unauthenticated = 0
  // Counters.
  private peakHeld = 0
  private peakUnacked = 0
  private framesSent = 0
  private framesReceived = 0
  private framesRetransmitted = 0
  private acksSent = 0
  private duplicates = 0
  private disconnects = 0
  private reconnects = 0
  private pollTurns = 0

  /** Whether this transport's connection is its own (a link shares its parent's, see `link`). */
  private readonly ownsConnection: boolean
  /** Links joined through this transport: they close with it. */
  private readonly links = new Set<NatsTransport>()

  private constructor(nc: NatsConnection, settings: NatsTransportSettings, incarnation: number, ownsConnection = true) {
    this.nc = nc
    this.ownsConnection = ownsConnection
    this.settings = settings
    this.subjects = settings.subjects
    this.rank = settings.rank
    this.size = settings.size
    this.incarnation = incarnation
    this.auth = settings.auth
    this.sender = { source: settings.rank, incarnation, run: 0, trailer: settings.auth === undefined ? 0 : TAG_BYTES }
    this.maxPayload = nc.info?.max_payload ?? 1024 * 1024
    const pollMillis = (settings.pollMicros ?? 0) / 1000
    this.park = pollMillis > 0 ? () => this.pollFor(pollMillis) : undefined
    this.outbox = new Outbox(
      settings.size,
      (rank) => this.frameLimit(this.peers[rank]!),
      this.sender.trailer,
      (rank, frame) => this.signAndPublish(rank, frame),
      (rank, frames, bytes) => this.signAndPublish(rank, Frame.encodeBundle(this.sender, frames, bytes))
    )
    const now = performance.now()
    this.liveness = new Liveness(settings.size, settings.heartbeat.timeoutMs, now)
    this.heartbeatPacer = new Pacer(settings.heartbeat.intervalMs)
    const freed = (frame: Uint8Array) => this.framePool.give(frame)
    for (let r = 0; r < settings.size; r++) this.peers.push(new Peer(r, settings.windowBytes, settings.reliable, freed))
    this.launcher = settings.launcher ?? { id: incarnation, pid: settings.pid ?? 0, host: settings.host ?? "", ranks: [settings.rank] }
    this.launcherRanks = formatRanks(this.launcher.ranks)
    this.rendezvous = new Rendezvous(settings.subjects.job, settings.rank, settings.size, {
      incarnation,
      window: settings.windowBytes,
      pid: settings.pid ?? 0,
      host: settings.host ?? ""
    }, this.launcher)
  }

  /**
   * Attaches a transport to a connected client and runs the rendezvous:
   * resolves once all `size` ranks joined and agreed on the run; rejects with
   * a TransportError naming the missing ranks after the join timeout, or
   * naming the rank and both processes when two claim one rank.
   */
  static async join(nc: NatsConnection, settings: NatsTransportSettings, incarnation: number): Promise<NatsTransport> {
    const t = new NatsTransport(nc, settings, incarnation)
    await t.start()
    return t
  }

  private async start(): Promise<void> {
    // Settled by the first JOINs, which may arrive while the subscriptions are flushed.
    const joined = new Promise<void>((resolve, reject) => (this.joinSettle = { resolve, reject }))
    this.joinDeadline = performance.now() + this.settings.joinTimeoutMs
    // The subject is known per subscription: reading msg.subject would decode it for every message.
    const mine = this.subjects.to(this.rank)
    const all = this.subjects.all
    this.subscriptions.push(this.nc.subscribe(mine, { callback: (_err: Error | null, msg: Msg) => this.onFrame(msg.data, mine) }))
    this.subscriptions.push(this.nc.subscribe(all, { callback: (_err: Error | null, msg: Msg) => this.onFrame(msg.data, all) }))
    void this.watchStatus()
    void this.nc.closed().then((err) => this.connectionClosed(err))
    this.lastTick = performance.now()
    this.timer = setInterval(() => this.tick(), TICK_MS)
    this.timer.unref?.()
    await this.nc.flush()
    if (this.size === 1) this.completeJoin()
    else this.announceJoin()
    return joined
  }

  /** The run this rank's frames belong to (0 until the rendezvous agreed). */
  get run(): number {
    return this.sender.run
  }

  // -------------------------------------------------------------------------
  // The Transport interface

  send(dest: number, packet: Packet, done: SendDone): void {
    if (this.closing !== undefined) return done(transportError(`rank ${this.rank} cannot send: its transport is closed`))
    if (!Number.isInteger(dest) || dest < 0 || dest >= this.size) {
      return done(transportError(`cannot send to rank ${dest}: the job has ranks 0-${this.size - 1}`))
    }
    if (packet.envelope.length > 255) return done(transportError(`an envelope of ${packet.envelope.length} bytes is over the 255-byte limit`))
    if (dest === this.rank) return this.sendSelf(packet, done)
    const p = this.peers[dest]!
    if (p.failure !== undefined) return done(new PeerFailure({ rank: dest, reason: p.failure }))
    if (p.queued === 0 && this.sendSmall(p, packet)) return done()
    const m = new OutgoingMessage(packet, p.nextMessage, done, this.sender.trailer)
    if (!m.fits(this.frameLimit(p))) {
      return done(transportError(`a message with ${packet.frames.buffers.length} out-of-band buffers has too large a descriptor for one ${this.frameLimit(p)}-byte frame`))
    }
    p.nextMessage = (p.nextMessage + 1) >>> 0
    p.queue.push(m)
    if (p.queued === 1) this.pump(p)
  }

  onArrival(handler: (arrival: Arrival) => void): void {
    this.arrivalHandler = handler
    if (this.early.length > 0) queueMicrotask(() => this.deliverEarly())
  }

  onPeerFailure(handler: (failure: PeerFailure) => void): void {
    this.failureHandler = handler
    if (this.earlyFailures.length > 0) {
      queueMicrotask(() => {
        const failures = this.earlyFailures.splice(0)
        for (const f of failures) this.failureHandler?.(f)
      })
    }
  }

  /** Frames arrive on the event loop, never while core waits: nothing to poll. */
  poll(): boolean {
    return false
  }

  /** Closes the transport; sends not yet framed fail, framed ones get `lingerMs` to be acknowledged. */
  close(): void {
    void this.shutdown()
  }

  /**
   * Joins the link `name` as `rank` of `size` (see `Transport.link`): a job
   * of its own on the same connection, with the subjects of job `name`, this
   * rank's heartbeats and credit window, its frames signed under `key`, that
   * every rank of the link joins through the usual rendezvous. Closes with
   * this transport.
   */
  async link(name: string, rank: number, size: number, key: Uint8Array): Promise<Transport> {
    const bad = checkJobId(name)
    if (bad !== undefined) throw transportError(`cannot link: ${bad}`)
    if (!Number.isInteger(size) || size < 1 || !Number.isInteger(rank) || rank < 0 || rank >= size) {
      throw transportError(`cannot link: rank ${rank} is not one of ${size} ranks`)
    }
    if (this.closing !== undefined) throw transportError(`rank ${this.rank} closed its transport: it cannot link`)
    if (!(key instanceof Uint8Array) || key.length < MIN_KEY_BYTES) throw transportError(`cannot link: the link's key needs at least ${MIN_KEY_BYTES} bytes`)
    const settings: NatsTransportSettings = {
      ...this.settings, subjects: subjectsOf(name), rank, size, launcher: undefined, worldContext: 0, auth: makeAuth(key, name)
    }
    const t = new NatsTransport(this.nc, settings, this.incarnation, false)
    this.links.add(t)
    try {
      await t.start()
    } catch (e) {
      this.links.delete(t)
      throw e
    }
    return t
  }

  /** Counters for tests and benchmarks. */
  stats(): NatsTransportStats {
    let unacked = 0
    let queued = 0
    for (const p of this.peers) {
      unacked += p.window.unackedBytes
      queued += p.queued
    }
    return {
      heldBytes: this.heldTotal,
      peakHeldBytes: this.peakHeld,
      unackedBytes: unacked,
      peakUnackedBytes: this.peakUnacked,
      queuedMessages: queued,
      framesSent: this.framesSent,
      bundlesSent: this.outbox.bundles,
      framesBundled: this.outbox.bundledFrames,
      framesReceived: this.framesReceived,
      framesRetransmitted: this.framesRetransmitted,
      acksSent: this.acksSent,
      dropped: this.dropped,
      unauthenticated: this.unauthenticated,
      duplicates: this.duplicates,
      disconnects: this.disconnects,
      reconnects: this.reconnects,
      pollTurns: this.pollTurns
    }
  }

  /**
   * Closes gracefully: stops taking sends, waits (up to `lingerMs`) until the
   * peers acknowledged every framed message, says LEAVE, and closes the
   * connection. Resolves when the connection is closed.
   */
  shutdown(lingerMs = this.settings.lingerMs): Promise<void> {
    if (this.closing !== undefined) return this.closing
    this.closing = (async () => {
      await Promise.all([...this.links].map((l) => l.shutdown(lingerMs)))
      const closedError = transportError(`rank ${this.rank} closed its transport before the message was sent`)
      for (const p of this.peers) {
        while (p.queued > 0) p.shiftQueue().done(closedError)
      }
      for (const a of this.selfQueue.splice(0)) a.abandon()
      while (this.conflictNotice !== undefined && this.connected && performance.now() < this.conflictUntil) {
        await new Promise((r) => setTimeout(r, TICK_MS))
      }
      const deadline = performance.now() + lingerMs
      while (this.connected && performance.now() < deadline && this.peers.some((p) => p.failure === undefined && p.window.unacked > 0)) {
        await new Promise((r) => setTimeout(r, TICK_MS))
      }
      this.closed = true
      if (this.timer !== undefined) clearInterval(this.timer)
      this.joinSettle?.reject(transportError(`rank ${this.rank} closed its transport during the join`))
      try {
        if (this.connected && !this.nc.isClosed()) {
          this.publishAll(Frame.encodePresence(Frame.LEAVE, this.sender, this.size))
          await Promise.race([this.nc.flush(), new Promise((r) => setTimeout(r, 1000))])
        }
      } catch {
        // The connection is already gone: nothing to say goodbye on.
      }
      if (!this.ownsConnection) {
        for (const sub of this.subscriptions) sub.unsubscribe()
        return
      }
      await this.nc.close().catch(() => {})
    })()
    return this.closing
  }

  // -------------------------------------------------------------------------
  // Polling while a waiter waits

  /**
   * Keeps the event loop turning for `millis` from now: while an immediate
   * callback is queued, each turn polls the connection's socket without
   * sleeping, so a frame is read the moment it lands. A sleeping process
   * pays a wake-up instead (tens of µs on a virtual machine), and while it
   * sleeps the server and the peer waiting for its reply doze off too: an
   * 8-byte ping-pong's half round trip grew by about twice the time a rank
   * took to answer (measured with the raw client, docs/cluster.md).
   */
  private pollFor(millis: number): void {
    this.pollUntil = performance.now() + millis
    if (!this.polling && !this.closed) {
      this.polling = true
      setImmediate(this.pollTurn)
    }
  }

  private readonly pollTurn = (): void => {
    this.pollTurns++
    // Lets the server (or a peer) that this rank's message just woke have the core first.
    yieldThread()
    if (!this.closed && performance.now() < this.pollUntil) setImmediate(this.pollTurn)
    else this.polling = false
  }

  // -------------------------------------------------------------------------
  // Sending

  /** Memory for frames of at most `limit` bytes: small ones from a slab, large ones pooled. */
  private frameAllocator(limit: number): (length: number) => Uint8Array {
    return (length) => length <= this.sendSlab.maxPiece ? this.sendSlab.take(length) : this.framePool.take(length, limit)
  }

  private frameLimit(p: Peer): number {
    return Math.min(this.maxPayload, this.settings.maxFrameBytes, p.maxFrame > 0 ? p.maxFrame : Infinity)
  }

  private sendSelf(packet: Packet, done: SendDone): void {
    let bytes = packet.frames.header.length
    for (const b of packet.frames.buffers) bytes += b.byteLength
    const eager = bytes <= SELF_EAGER_BYTES
    this.selfQueue.push(new SelfArrival(this.rank, packet, eager, done))
    if (this.selfQueue.length === 1) {
      queueMicrotask(() => {
        const arrivals = this.selfQueue.splice(0)
        for (const a of arrivals) this.deliver(a)
      })
    }
    // After queueing: `done` may send again, and that message must come after this one.
    if (eager) done()
  }

  /**
   * The fast path of a small message with nothing queued before it: one frame
   * from the slab, published at once. Returns false when the general path
   * must take it (too large, no credit, no connection).
   */
  private sendSmall(p: Peer, packet: Packet): boolean {
    if (!this.connected || !p.joined || this.closed) return false
    const sender = this.sender
    const length = singleFrameLength(packet.envelope, packet.frames, sender.trailer)
    if (length > this.sendSlab.maxPiece || length > this.frameLimit(p) || !p.credit.allows(chargeOf(length))) return false
    const frame = this.sendSlab.take(length)
    writeSingleFrame(frame, packet.envelope, packet.frames, p.nextMessage, {
      source: sender.source, incarnation: sender.incarnation, run: sender.run, trailer: sender.trailer,
      seq: p.window.nextSeq, ack: p.sequence.last, credit: p.receiveCredit.granting()
    })
    p.nextMessage = (p.nextMessage + 1) >>> 0
    if (p.window.unacked === 0) p.lastProgress = performance.now()
    p.window.assign(frame)
    if (p.window.unackedBytes > this.peakUnacked) this.peakUnacked = p.window.unackedBytes
    p.sequence.acknowledged()
    p.credit.spend(chargeOf(length))
    this.framesSent++
    this.outbox.add(p.rank, frame)
    return true
  }

  /** Frames and publishes queued messages to `p` while its credit allows. */
  private pump(p: Peer): void {
    if (p.pumping) return
    p.pumping = true
    try {
      let again = true
      while (again) {
        again = false
        if (!this.connected || this.closed || p.failure !== undefined || !p.joined) return
        const limit = this.frameLimit(p)
        const allocate = this.frameAllocator(limit)
        while (p.queued > 0) {
          const m = p.queue[p.queueHead]!
          const length = m.nextFrameLength(limit)
          if (!p.credit.allows(chargeOf(length))) break
          const sender = this.sender
          const frame = m.nextFrame(
            limit,
            {
              source: sender.source, incarnation: sender.incarnation, run: sender.run, trailer: sender.trailer,
              seq: p.window.nextSeq, ack: p.sequence.last, credit: p.receiveCredit.granting()
            },
            allocate
          )
          if (p.window.unacked === 0) p.lastProgress = performance.now()
          p.window.assign(frame)
          p.sequence.acknowledged()
          p.credit.spend(chargeOf(length))
          this.framesSent++
          this.outbox.add(p.rank, frame)
          if (m.finished) {
            p.shiftQueue()
            // `done` may send again: the loop picks that up.
            m.done()
          }
        }
        if (p.window.unackedBytes > this.peakUnacked) this.peakUnacked = p.window.unackedBytes
        // A done callback may have queued more while credit remains.
        again = p.queued > 0 && p.credit.allows(chargeOf(p.queue[p.queueHead]!.nextFrameLength(limit)))
      }
    } finally {
      p.pumping = false
    }
  }

  /** Publishes a frame to one rank after the outbox's frames, signed for it when the job has a key. */
  private publishTo(rank: number, frame: Uint8Array): void {
    if (this.outbox.busy) this.outbox.flush()
    this.signAndPublish(rank, frame)
  }

  private signAndPublish(rank: number, frame: Uint8Array): void {
    this.auth?.sign(frame, rank)
    this.publish(this.subjects.to(rank), frame)
  }

  /** Publishes a frame on the job subject after the outbox's frames, signed when the job has a key. */
  private publishAll(frame: Uint8Array): void {
    if (this.outbox.busy) this.outbox.flush()
    this.auth?.sign(frame, ALL)
    this.publish(this.subjects.all, frame)
  }

  private publish(subject: string, bytes: Uint8Array): void {
    try {
      this.nc.publish(subject, bytes)
    } catch (e) {
      // Closed or draining: the status watcher reports the loss; a frame too large is a bug worth hearing of.
      if (!this.nc.isClosed()) this.warn(`could not publish ${bytes.length} bytes on ${subject}: ${e instanceof Error ? e.message : String(e)}`)
    }
  }

  private sendAck(p: Peer, flags = 0): void {
    this.acksSent++
    this.publishTo(p.rank, Frame.encodeAck(this.sender, p.sequence.last, p.receiveCredit.granting(), flags))
    p.sequence.acknowledged()
    p.forceAck = false
  }

  /** Go-back-N: publishes every unacknowledged frame to `p` again. */
  private retransmit(p: Peer, now: number): void {
    if (!this.connected || p.failure !== undefined) return
    p.window.forEachUnacked((frame) => {
      Frame.setAckCredit(frame, p.sequence.last, p.receiveCredit.granting())
      this.framesRetransmitted++
      this.publishTo(p.rank, frame)
    })
    p.sequence.acknowledged()
    p.lastProgress = now
  }

  /** Held bytes of an arrival were taken or discarded: they become credit. */
  release(p: Peer, bytes: number): void {
    if (bytes === 0) return
    p.receiveCredit.release(bytes)
    this.heldTotal -= bytes
    this.markDirty(p)
  }

  private markDirty(p: Peer): void {
    if (!p.dirty) {
      p.dirty = true
      this.dirty.push(p)
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true
      // After this turn's I/O and the fibers it woke: a reply sent meanwhile carries the
      // acknowledgement and the credit in its DATA frame, and saves a publish (a socket write).
      setImmediate(this.flushAcksSoon)
    }
  }

  private readonly flushAcksSoon = (): void => this.flushAcks()

  /** At the end of a batch of frames: acknowledgements and grants that should not wait for the timer. */
  private flushAcks(): void {
    this.flushScheduled = false
    const reliable = this.settings.reliable
    for (const p of this.dirty) {
      p.dirty = false
      if (p.failure !== undefined || this.closed) continue
      const ackDue = reliable && (p.forceAck || p.sequence.ackDue(ACK_EVERY_FRAMES, Math.min(p.receiveCredit.window / 8, ACK_EVERY_BYTES)))
      if (ackDue || p.receiveCredit.grantDue) this.sendAck(p)
    }
    this.dirty.length = 0
  }

  // -------------------------------------------------------------------------
  // Receiving

  private onFrame(data: Uint8Array, subject: string): void {
    if (this.closed) return
    const frame = this.authenticate(data, subject)
    if (frame === undefined) return
    this.handleFrame(frame, subject, false)
  }

  /** A frame that authenticated (alone, or inside a bundle that did). */
  private handleFrame(frame: Uint8Array, subject: string, bundled: boolean): void {
    const f = Frame.decode(frame)
    if (typeof f === "string") return this.drop(subject, bundled ? `in a bundle: ${f}` : f)
    if (f.kind === "bundle") {
      // Its entries are DATA frames (Frame.decode checks), so bundles never nest.
      if (subject === this.subjects.all) return this.drop(subject, "a bundle on the job subject (bundles go to one rank)")
      for (const inner of f.frames) {
        if (this.closed) return
        this.handleFrame(inner, subject, true)
      }
      return
    }
    if (f.source >= this.size) return this.drop(subject, `its source rank ${f.source} is not in this job of ${this.size} ranks`)
    if (this.conflictNotice !== undefined) {
      // This rank gave up on a conflict: it only tells joining ranks so.
      if (f.kind === "join" && this.joinPacer.due(performance.now())) this.publishAll(this.conflictNotice)
      return
    }
    if (f.kind === "join") return this.onJoin(this.peers[f.source]!, f, subject)
    if (f.kind === "conflict") return this.onConflict(f, subject)
    if (f.source === this.rank) {
      if (f.incarnation !== this.incarnation) this.foreign(f, subject, `another process claims to be rank ${this.rank} of this job (check --ranks on every host)`)
      return
    }
    this.framesReceived++
    const p = this.peers[f.source]!
    // Every frame but a JOIN or a launcher's FAILED notice is sent within an agreed run: one of another run is foreign.
    if (f.run !== 0 || this.joined) {
      const run = this.joined ? this.sender.run : this.rendezvous.run
      if (f.run !== run) {
        return this.foreign(f, subject, `it belongs to another run of job ${this.subjects.job} (run ${f.run.toString(16)}; this rank's is ${run === 0 ? "not agreed yet" : run.toString(16)})`)
      }
    }
    // Only a JOIN makes a process a member (the rendezvous pins it): anything else from another process is foreign.
    if (p.incarnation !== f.incarnation) {
      // While joining, a process not (yet) a member may still be a peer whose JOIN is on its way: nothing to say.
      if (!this.joined && p.incarnation === 0) return
      return this.drop(subject, `it comes from another process than the one that joined as rank ${p.rank} (a stale or foreign sender)`)
    }
    const now = performance.now()
    this.liveness.saw(p.rank, now)
    this.rendezvous.peerRunning(p.rank, f.run)
    if (p.failure !== undefined) {
      if (f.kind !== "leave" && f.kind !== "failed" && now - p.lastFailedNotice > FAILED_NOTICE_MS) {
        // It does not know that it was declared failed: tell it, so that it stops waiting for this rank.
        p.lastFailedNotice = now
        this.publishTo(p.rank, Frame.encodeFailed(this.sender, p.rank, p.failure))
      }
      return
    }
    // During the join, a peer that leaves or is declared failed only stays missing: the join timeout names it.
    if (!this.joined && (f.kind === "leave" || f.kind === "failed")) return
    switch (f.kind) {
      case "data":
        return this.onData(p, f, frame, subject)
      case "ack":
        this.applyAck(p, f.ack, f.credit)
        if (f.flags & Frame.FLAG_RESEND && this.settings.reliable) this.retransmit(p, now)
        return
      case "heartbeat":
        return
      case "leave":
        return this.declareFailed(p.rank, `rank ${p.rank} left the job (it closed its transport)`, false)
      case "failed":
        if (f.rank === this.rank) return this.declaredFailedMyself(p.rank, f.reason)
        if (f.rank < this.size) this.declareFailed(f.rank, f.reason, false)
        return
    }
  }

  /**
   * Checks a frame's authentication against this job's key (or its absence)
   * and returns the frame without its trailer; drops it (counted, with a
   * warning naming the subject) when it does not verify.
   */
  private authenticate(data: Uint8Array, subject: string): Uint8Array | undefined {
    if (data.length < Frame.COMMON_BYTES) {
      this.drop(subject, `${data.length} bytes is too short for a frame (at least ${Frame.COMMON_BYTES})`)
      return undefined
    }
    const tagged = data[Frame.AUTH_OFFSET] === Frame.AUTH_HMAC
    if (this.auth === undefined) {
      if (!tagged) return data
      this.unauthenticated++
      this.drop(subject, "it carries an authentication tag, but this rank has no job key: give every host of the job the same --job-key-file")
      return undefined
    }
    if (!tagged) {
      this.unauthenticated++
      this.drop(subject, "it is not authenticated, and this job requires a valid tag on every frame (a forged frame, or a host without the job's --job-key-file)")
      return undefined
    }
    if (!this.auth.verify(data, subject === this.subjects.all ? ALL : this.rank)) {
      this.unauthenticated++
      this.drop(subject, "its authentication tag does not verify (a forged or altered frame, or one signed with another key)")
      return undefined
    }
    return data.subarray(0, data.length - TAG_BYTES)
  }

  /**
   * A frame of another process or run than this one. While joining, it means
   * that this job id is already in use: the join fails, naming the process
   * where it is known. Once running, it is dropped.
   */
  private foreign(f: Exclude<Frame.Frame, { kind: "join" }>, subject: string, why: string): void {
    if (!this.joined && f.run !== 0 && f.kind !== "failed") {
      const known = this.rendezvous.claimant(f.source, f.incarnation)
      return this.joinConflict(
        f.source,
        `job ${this.subjects.job} is already running: rank ${f.source}${known === undefined ? "" : ` (${describeProcess(known)})`} of another run ` +
          `publishes on its subjects; this process cannot join it. Give this job another --job (or stop the other run)`
      )
    }
    this.drop(subject, why)
  }

  /** A CONFLICT notice: two processes claim a rank. It stops a join, and a run whose member sent it. */
  private onConflict(f: Frame.FailedFrame, subject: string): void {
    const reason = `rank ${f.source} found a conflict: ${f.reason}`
    // Passed on, so that the members of this rank's own run that already started stop too.
    if (!this.joined) return this.joinConflict(f.rank, f.reason)
    const p = this.peers[f.source]!
    if (f.source !== this.rank && f.incarnation === p.incarnation && f.run === this.sender.run) {
      return this.declareFailed(f.source, reason, false)
    }
    this.drop(subject, `a conflict notice from a process of another run: ${f.reason}`)
  }

  private onData(p: Peer, f: Frame.DataHeader, data: Uint8Array, subject: string): void {
    this.applyAck(p, f.ack, f.credit)
    const verdict = p.sequence.classify(f.seq)
    if (verdict === DUPLICATE) {
      this.duplicates++
      p.forceAck = true
      this.markDirty(p)
      return
    }
    if (verdict === GAP) {
      if (this.settings.reliable) return this.requestResend(p)
      p.sequence.resync(f.seq)
    }
    p.sequence.accept(data.length + this.sender.trailer)
    const bytes = chargeOf(data.length + this.sender.trailer)
    this.markDirty(p)
    let body = data.subarray(Frame.DATA_HEADER_BYTES)
    if (f.flags & Frame.FLAG_FIRST) {
      if (p.current !== undefined) {
        p.current.fail(`rank ${p.rank} started a new message before finishing message ${p.current.number}`)
        this.warn(`rank ${p.rank} started message ${f.message} before finishing message ${p.current.number}; the unfinished one is dropped`)
        p.current = undefined
      }
      const d = readDescriptor(body, this.settings.maxMessageBytes, this.copyToSlab)
      if (typeof d === "string") return this.skipMessage(p, f.message, bytes, subject, d)
      body = body.subarray(d.length)
      const bodyLength = d.layout.bodyLength
      let reassembly: Reassembly
      const whole = f.offset === 0 && body.length === bodyLength
      if (whole && bodyLength >= ZERO_COPY_BYTES && body.byteOffset % 8 === 0) {
        // The whole message in one large frame, aligned where the client put it: hand out views of it.
        reassembly = Reassembly.whole(d.layout, body)
        body = body.subarray(bodyLength)
      } else if (whole && bodyLength <= this.receiveSlab.maxPiece) {
        // A small message in one frame: one copy into one slab piece, its parts views of it.
        reassembly = Reassembly.whole(d.layout, this.copyToSlab(body))
        body = body.subarray(bodyLength)
      } else {
        try {
          reassembly = new Reassembly(d.layout, this.allocatePart)
        } catch (e) {
          return this.skipMessage(p, f.message, bytes, subject, `cannot allocate ${bodyLength} bytes for it (${e instanceof Error ? e.message : String(e)})`)
        }
      }
      p.current = new Incoming(this, p, f.message, d, reassembly)
    } else if (p.current === undefined || p.current.number !== f.message) {
      p.receiveCredit.pass(bytes)
      if (p.skipping !== f.message) this.drop(subject, `a chunk of message ${f.message} from rank ${p.rank} does not belong to a message being received`)
      return
    }
    const m = p.current
    const refused = m.reassembly.write(f.offset, body)
    if (refused !== undefined) {
      // An announced arrival fails its take; one not announced is never seen.
      m.fail(`message ${f.message} from rank ${p.rank} arrived corrupted: ${refused}`)
      p.current = undefined
      this.release(p, m.held)
      m.held = 0
      return this.skipMessage(p, f.message, bytes, subject, refused)
    }
    if (m.consumed) p.receiveCredit.pass(bytes)
    else {
      p.receiveCredit.hold(bytes)
      m.held += bytes
      this.heldTotal += bytes
      if (this.heldTotal > this.peakHeld) this.peakHeld = this.heldTotal
    }
    if (!m.announced && m.reassembly.headerReady) {
      m.announced = true
      m.header = m.reassembly.header()
      this.deliver(m)
    }
    if (m.reassembly.complete) {
      if (p.current === m) p.current = undefined
      m.completed()
    }
  }

  /** Drops a message whose first frame could not be used; its later chunks are dropped quietly. */
  private skipMessage(p: Peer, message: number, bytes: number, subject: string, why: string): void {
    p.skipping = message
    p.receiveCredit.pass(bytes)
    this.drop(subject, `message ${message} from rank ${p.rank} is dropped: ${why}`)
  }

  private applyAck(p: Peer, ack: number, credit: number): void {
    if (this.settings.reliable && p.window.ack(ack) > 0) {
      p.lastProgress = performance.now()
      p.backoff = 1
    }
    if (p.credit.grant(credit) && p.queued > 0) this.pump(p)
  }

  private requestResend(p: Peer): void {
    const now = performance.now()
    if (now - p.lastResendRequest < RESEND_REQUEST_MS) return
    p.lastResendRequest = now
    this.sendAck(p, Frame.FLAG_RESEND)
  }

  private deliver(a: Arrival): void {
    if (this.arrivalHandler !== undefined && this.early.length === 0) this.arrivalHandler(a)
    else this.early.push(a)
  }

  private deliverEarly(): void {
    while (this.early.length > 0 && this.arrivalHandler !== undefined) this.arrivalHandler(this.early.shift()!)
  }

  private drop(subject: string, why: string): void {
    this.dropped++
    this.warn(`dropped a message on ${subject}: ${why}`)
  }

  private warn(message: string): void {
    const n = ++this.warnings
    if (n <= WARNINGS_IN_FULL || n % 1000 === 0) {
      this.settings.warn(`rankflow nats (rank ${this.rank}): ${message}${n === WARNINGS_IN_FULL ? " (further warnings: one in 1000)" : ""}`)
    }
  }

  // -------------------------------------------------------------------------
  // The rendezvous

  private onJoin(p: Peer, f: Frame.JoinFrame, subject: string): void {
    if (this.joined) {
      if (f.incarnation === p.incarnation || (p.rank === this.rank && f.incarnation === this.incarnation)) {
        // A member still joining: it may wait for this rank's COMPLETE JOIN.
        if ((f.flags & Frame.FLAG_COMPLETE) === 0 || f.run !== this.sender.run) this.answerJoin()
        return
      }
      // Another process claims a rank of this running job: answered (so that it sees this run and gives up), then dropped.
      this.answerJoin()
      return this.drop(subject, `${describeProcess(f)} claims rank ${f.source} of this job, which is already running with another process as that rank; it is refused`)
    }
    const outcome: JoinOutcome = this.rendezvous.join(f)
    if (outcome._tag === "Refused") return this.failJoin(`job ${this.subjects.job}: ${outcome.message}`)
    if (outcome._tag === "Conflict") return this.joinConflict(outcome.rank, outcome.message)
    if (p.rank !== this.rank) {
      this.framesReceived++
      this.liveness.saw(p.rank, performance.now())
      if (outcome._tag === "New") {
        p.incarnation = f.incarnation
        p.joined = true
        p.maxFrame = Math.max(4096, Math.floor(outcome.member.window / 4 / 8) * 8)
        p.credit.grant(outcome.member.window)
      }
    }
    // A rank that has not seen everyone (or has not seen this one's proposal) may be waiting: answer it.
    if ((f.flags & Frame.FLAG_COMPLETE) === 0 || f.run !== this.rendezvous.run) this.answerJoin()
    if (this.rendezvous.agreed) this.completeJoin()
    if (p.queued > 0) this.pump(p)
  }

  /** The join fails: two processes claim `rank`. Everyone still joining is told, so that both runs stop. */
  private joinConflict(rank: number, message: string): void {
    if (this.joined || this.joinSettle === undefined) return
    this.conflictNotice = Frame.encodeFailed({ ...this.sender, run: this.rendezvous.run }, rank, message, Frame.CONFLICT)
    this.conflictUntil = performance.now() + CONFLICT_LINGER_MS
    if (this.connected && !this.closed) this.publishAll(this.conflictNotice)
    this.failJoin(message)
  }

  private failJoin(message: string): void {
    if (this.joined || this.joinSettle === undefined) return
    this.joinSettle.reject(transportError(message))
    this.joinSettle = undefined
    void this.shutdown(0)
  }

  private answerJoin(): void {
    if (this.answerJoinScheduled) return
    this.answerJoinScheduled = true
    setTimeout(() => {
      this.answerJoinScheduled = false
      if (!this.closed) this.announceJoin()
    }, 20).unref?.()
  }

  private announceJoin(): void {
    if (!this.connected || this.closed) return
    const r = this.rendezvous
    const run = r.run
    this.publishAll(Frame.encodeJoin(
      { ...this.sender, run },
      {
        size: this.size, seen: r.members.size, window: this.settings.windowBytes, pid: this.settings.pid ?? 0, host: this.settings.host ?? "",
        launcher: this.launcher.id, launcherPid: this.launcher.pid, ranks: this.launcherRanks,
        worldContext: this.settings.worldContext ?? 0
      },
      r.complete
    ))
  }

  private completeJoin(): void {
    this.joined = true
    this.sender = { ...this.sender, run: this.rendezvous.run }
    this.announceJoin()
    this.heartbeatPacer.hurry()
    this.liveness.restart(performance.now())
    this.joinSettle?.resolve()
    this.joinSettle = undefined
    for (const p of this.peers) if (p.rank !== this.rank && p.queued > 0) this.pump(p)
  }

  // -------------------------------------------------------------------------
  // Failures

  /**
   * Declares `rank` failed: its pending and later operations fail; with
   * `announce`, tells the whole job (also when `rank` is this rank, whose
   * program failed: its peers stop waiting for it).
   */
  declareFailed(rank: number, reason: string, announce: boolean): void {
    const p = this.peers[rank]
    if (p === undefined || p.failure !== undefined) return
    if (announce && this.connected && !this.closed) this.publishAll(Frame.encodeFailed(this.sender, rank, reason))
    if (rank === this.rank) return
    p.failure = reason
    if (!this.joined && this.joinSettle !== undefined) {
      this.joinSettle.reject(transportError(`job ${this.subjects.job}: rank ${rank} failed during the join: ${reason}`))
      this.joinSettle = undefined
    }
    const failure = new PeerFailure({ rank, reason })
    const queued: Array<OutgoingMessage> = []
    while (p.queued > 0) queued.push(p.shiftQueue())
    p.window.clear()
    const current = p.current
    p.current = undefined
    current?.fail(`rank ${rank} failed while its message was arriving: ${reason}`)
    for (const m of queued) m.done(failure)
    if (this.failureHandler !== undefined) this.failureHandler(failure)
    else this.earlyFailures.push(failure)
  }

  private declaredFailedMyself(by: number, reason: string): void {
    for (const p of this.peers) {
      if (p.rank !== this.rank) this.declareFailed(p.rank, `this rank (${this.rank}) was declared failed by rank ${by} (${reason}); it cannot talk to the job any more`, false)
    }
  }

  // -------------------------------------------------------------------------
  // The timer and the connection

  private tick(): void {
    if (this.closed) return
    const now = performance.now()
    const stalled = now - this.lastTick > Math.max(4 * TICK_MS, this.settings.heartbeat.timeoutMs / 2)
    this.lastTick = now
    if (!this.connected) {
      if (now - this.disconnectedAt > this.settings.reconnectTimeoutMs) {
        this.connectionLost(`no NATS server could be reached for ${(this.settings.reconnectTimeoutMs / 1000).toFixed(1)} s`)
      }
      return
    }
    // Having been unable to listen (a blocked event loop), this rank cannot blame its peers' silence on them.
    if (stalled) this.liveness.restart(now)
    if (!this.joined) {
      if (this.conflictNotice !== undefined) {
        if (this.joinPacer.due(now)) this.publishAll(this.conflictNotice)
        return
      }
      if (now > this.joinDeadline) return this.joinTimedOut()
      if (this.joinPacer.due(now)) this.announceJoin()
      return
    }
    if (this.heartbeatPacer.due(now)) this.publishAll(Frame.encodePresence(Frame.HEARTBEAT, this.sender, this.size))
    const reliable = this.settings.reliable
    for (const p of this.peers) {
      if (p.rank === this.rank || p.failure !== undefined) continue
      if (reliable && p.sequence.unackedFrames > 0) this.sendAck(p)
      else if (p.receiveCredit.limit > p.receiveCredit.granted) this.sendAck(p)
      if (reliable && p.window.unacked > 0 && now - p.lastProgress > this.settings.retransmitMs * p.backoff) {
        this.retransmit(p, now)
        p.backoff = Math.min(p.backoff * 2, 8)
      }
    }
    const silent = this.liveness.expired(now, (r) => r !== this.rank && this.peers[r]!.failure === undefined)
    for (const r of silent) {
      const seconds = (this.liveness.silentFor(r, now) / 1000).toFixed(1)
      this.declareFailed(r, `rank ${r} stopped responding (nothing heard from it for ${seconds} s): its process died, hangs, or lost its connection ` +
        `(a rank that computes that long without yielding looks the same: give it more with --heartbeat-timeout)`, true)
    }
    if (!this.rendezvous.settled && this.settlePacer.due(now)) this.announceJoin()
  }

  private joinTimedOut(): void {
    const missing = this.rendezvous.missing()
    const seconds = (this.settings.joinTimeoutMs / 1000).toFixed(1)
    const unconfirmed = this.rendezvous.unconfirmed()
    const message = missing.length > 0
      ? `job ${this.subjects.job}: only ${this.size - missing.length} of ${this.size} ranks joined within ${seconds} s; ` +
        `missing rank${missing.length === 1 ? "" : "s"} ${formatRanks(missing)} ` +
        `(start them with the same --job, --size and --nats, or raise --join-timeout)`
      : `job ${this.subjects.job}: every rank joined, but rank${unconfirmed.length === 1 ? "" : "s"} ${formatRanks(unconfirmed)} ` +
        `did not confirm the run within ${seconds} s (frames lost, or a host with another --job-key-file)`
    this.failJoin(message)
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) this.onStatus(s)
  }

  private onStatus(s: Status): void {
    switch (s.type) {
      case "disconnect":
        if (!this.connected) return
        this.connected = false
        this.disconnects++
        this.disconnectedAt = performance.now()
        return
      case "reconnect": {
        this.connected = true
        this.reconnects++
        const now = performance.now()
        this.liveness.restart(now)
        this.maxPayload = this.nc.info?.max_payload ?? this.maxPayload
        if (!this.joined) return this.announceJoin()
        // Frames in flight across the reconnect are lost both ways: resend ours, ask for theirs.
        for (const p of this.peers) {
          if (p.rank === this.rank || p.failure !== undefined) continue
          if (this.settings.reliable) {
            this.retransmit(p, now)
            this.sendAck(p, Frame.FLAG_RESEND)
          }
          this.pump(p)
        }
        this.announceJoin()
        return
      }
      case "error":
        this.warn(`the NATS server reported: ${s.error.message}`)
        return
      default:
        return
    }
  }

  private connectionClosed(err: void | Error): void {
    if (this.closing !== undefined) return
    this.connectionLost(`the connection to NATS closed${err ? `: ${err.message}` : ""}`)
  }

  /** This rank lost the job: every peer fails for it. */
  private connectionLost(why: string): void {
    this.connected = false
    const reason = `rank ${this.rank} lost its connection to the job: ${why}`
    this.joinSettle?.reject(transportError(reason))
    this.joinSettle = undefined
    for (const p of this.peers) if (p.rank !== this.rank) this.declareFailed(p.rank, reason, false)
    void this.shutdown(0)
  }
}
