/**
 * One rank's message engine: the transport below, the matching engine, and
 * the acknowledgements of synchronous sends. Every communicator of the rank
 * shares it.
 */
import type { Frames } from "../codecs/Codec.ts"
import type { Arrival, PeerFailure, Transport, TransportError } from "../transports/Transport.ts"
import * as Envelope from "./Envelope.ts"
import { Matching } from "./Matching.ts"

const EMPTY_FRAMES: Frames = { header: new Uint8Array(0), buffers: [] }

interface AckWaiter {
  readonly dest: number
  readonly settle: (failure?: PeerFailure | TransportError) => void
}

export class Engine {
  readonly transport: Transport
  readonly matching = new Matching()
  private nextSeq = 1
  private readonly acks = new Map<number, AckWaiter>()
  /** Contexts handed out so far; communicators agree on new ones through their parent. */
  contextCounter = 0
  /** Called for messages that are not rankflow's (logged and dropped). */
  onForeign: (source: number, why: string) => void = () => {}

  constructor(transport: Transport) {
    this.transport = transport
    transport.onArrival((a) => this.arrive(a))
    transport.onPeerFailure((f) => this.peerFailed(f))
  }

  get rank(): number {
    return this.transport.rank
  }

  get size(): number {
    return this.transport.size
  }

  private arrive(a: Arrival): void {
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
    this.matching.arrive(a.source, Envelope.context(env), Envelope.tag(env), a)
  }

  private peerFailed(f: PeerFailure): void {
    this.matching.peerFailed(f.rank, f.reason)
    for (const [seq, w] of this.acks) {
      if (w.dest !== f.rank) continue
      this.acks.delete(seq)
      w.settle(f)
    }
  }

  /** Sends a packet; `done` reports when the caller's buffers may be reused. */
  send(dest: number, envelope: Uint8Array, frames: Frames, done: (error?: TransportError | PeerFailure) => void): void {
    this.transport.send(dest, { envelope, frames }, done)
  }

  /** A fresh sequence number for a synchronous send, with `settle` called on its acknowledgement. */
  expectAck(dest: number, settle: (failure?: PeerFailure | TransportError) => void): number {
    const seq = this.nextSeq++
    this.acks.set(seq, { dest, settle })
    return seq
  }

  /** Acknowledges a matched synchronous send. */
  acknowledge(dest: number, seq: number): void {
    this.transport.send(dest, { envelope: Envelope.encode(Envelope.KIND_ACK, 0, 0, 0, seq), frames: EMPTY_FRAMES }, () => {})
  }

  /** Reserves `n` consecutive context ids at or above `atLeast` and returns the first. */
  reserveContexts(atLeast: number, n: number): number {
    const first = Math.max(this.contextCounter, atLeast)
    this.contextCounter = first + n
    return first
  }
}
