/**
 * The messages of one collective call: its communicator, its context
 * (`context + 1`) and its tag, and the sends and posted receives the
 * algorithms are made of. A receive is posted (a `Request`) before the send it
 * pairs with is waited on, so that exchanges of large messages, whose sends
 * complete only once the peer takes them, cannot deadlock.
 */
import { Effect, Exit, Option } from "effect"
import { peek, raw } from "../../codecs/buffer.ts"
import type { Frames } from "../../codecs/Codec.ts"
import type { TypedArray } from "../../codecs/Datatype.ts"
import * as Datatypes from "../../codecs/Datatype.ts"
import type { CommState } from "../comm/CommState.ts"
import { completion, type Settle } from "../messaging/completion.ts"
import * as Envelope from "../messaging/Envelope.ts"
import type { InvalidArgument } from "../errors.ts"
import type { Incoming, Posted } from "../messaging/Matching.ts"
import type { Encoded } from "../messaging/Message.ts"
import * as P2P from "../messaging/PointToPoint.ts"
import { Request } from "../messaging/Request.ts"
import * as Requests from "../messaging/Request.ts"
import { TransportError } from "../../transports/Transport.ts"
import { mismatch } from "./checks.ts"
import { nextCollectiveTag } from "./tags.ts"

/** One collective call in progress. */
export interface Call {
  readonly c: CommState
  readonly context: number
  readonly tag: number
  /** The collective's name, for error messages. */
  readonly name: string
}

/** Opens a collective call on `c`: takes its tag (synchronously, at call time). */
export const open = (c: CommState, name: string): Call => ({ c, context: c.context + 1, tag: nextCollectiveTag(c), name })

/** Starts sending `message` to `dest`; the request completes when its buffers may be reused. */
export const startSend = (call: Call, dest: number, message: Encoded): Request<void, P2P.SendFailure> => {
  const request = new Request<void, P2P.SendFailure>(call.c.engine.transport)
  P2P.transmit(call.c, call.context, dest, call.tag, message, sentInto.bind(undefined, request))
  return request
}

/*
 * The functions below are bound per message, not closures made there: V8
 * compiles a closure's code again after a major collection that finds none
 * alive (messaging/completion.ts says why that matters).
 */

function sentInto(request: Request<void, P2P.SendFailure>, exit: Exit.Exit<void, P2P.SendFailure>): void {
  if (Exit.isSuccess(exit)) request.succeed(undefined)
  else request.fail(Option.getOrThrow(Exit.findErrorOption(exit)))
}

/** Sends `message` to `dest`; completes when its buffers may be reused. */
export const send = (call: Call, dest: number, message: Encoded): Effect.Effect<void, P2P.SendFailure> =>
  completion<void, P2P.SendFailure>(transmitOf.bind(undefined, call, dest, message), call.c.engine.transport)

function transmitOf(call: Call, dest: number, message: Encoded, settle: Settle<void, P2P.SendFailure>): void {
  P2P.transmit(call.c, call.context, dest, call.tag, message, settle)
}

/**
 * Posts a receive of the call's next message from `source` and returns its
 * request: the message's codec id (from its envelope) and frames, as the
 * transport delivered them (memory the caller may keep).
 */
export const post = (call: Call, source: number): Request<Encoded, P2P.SendFailure> =>
  postWith<Encoded, never, undefined>(call, source, takeEncoded, undefined)

function takeEncoded(m: Incoming, request: Request<Encoded, P2P.SendFailure>): void {
  m.arrival.take(undefined, tookEncoded.bind(undefined, m, request))
}

function tookEncoded(m: Incoming, request: Request<Encoded, P2P.SendFailure>, r: Frames | TransportError): void {
  if (r instanceof TransportError) request.fail(r)
  else request.succeed({ codec: Envelope.codec(m.arrival.envelope), frames: r })
}

/**
 * Posts the receive of the call's next message from `source`; `take` gets
 * the matched message (and `arg`), or the request fails with why none will come.
 */
const postWith = <A, E, X>(
  call: Call,
  source: number,
  take: (m: Incoming, request: Request<A, P2P.SendFailure | E>, arg: X) => void,
  arg: X
): Request<A, P2P.SendFailure | E> => {
  const c = call.c
  const request = new Request<A, P2P.SendFailure | E>(c.engine.transport)
  P2P.postReceive(c, call.context, source, call.tag, (posted<A, E, X>).bind(undefined, c, request, take, arg), call.name)
  return request
}

function posted<A, E, X>(
  c: CommState,
  request: Request<A, P2P.SendFailure | E>,
  take: (m: Incoming, request: Request<A, P2P.SendFailure | E>, arg: X) => void,
  arg: X,
  p: Posted
): void {
  if (p.matched === undefined) request.fail(P2P.unmatched(c, p))
  else take(p.matched, request, arg)
}

/** Waits for a posted receive or a started send. */
export const wait = <A, E>(request: Request<A, E>): Effect.Effect<A, E> =>
  Requests.wait(request) as Effect.Effect<A, E>

/** Receives the call's next message from `source`. */
export const recv = (call: Call, source: number): Effect.Effect<Encoded, P2P.SendFailure> => wait(post(call, source))

/**
 * Sends to `dest` and receives from `source` at once (the receive is posted
 * first); returns the received message.
 */
export const exchange = (call: Call, dest: number, message: Encoded, source: number): Effect.Effect<Encoded, P2P.SendFailure> =>
  Effect.suspend(exchangeNow.bind(undefined, call, dest, message, source))

function exchangeNow(call: Call, dest: number, message: Encoded, source: number): Effect.Effect<Encoded, P2P.SendFailure> {
  const incoming = post(call, source)
  return Effect.andThen(send(call, dest, message), wait(incoming))
}

/** Waits for every request (sends or receives) in order, failing with the first failure. */
export const waitEach = <E>(requests: ReadonlyArray<Request<unknown, E>>): Effect.Effect<void, E> =>
  Effect.forEach(requests, wait, { discard: true })

/**
 * A message safe to send from a collective: buffers in the transport's
 * shared arena are copied out first. Arena memory travels without a copy and
 * stays shared with the receiver, so sending a caller's arena array, or
 * forwarding a received arena view that this rank also hands to its caller,
 * would let one rank's later writes show through on another. Collectives
 * therefore only ever send private memory, and every arena block a rank
 * receives is its own.
 */
export const shareable = (c: CommState, message: Encoded): Encoded => {
  const arena = c.engine.transport.alloc
  if (arena === undefined) return message
  const buffers = message.frames.buffers
  let copied: Array<Uint8Array> | undefined
  for (let i = 0; i < buffers.length; i++) {
    if (!arena.owns(buffers[i]!)) continue
    copied ??= buffers.slice()
    copied[i] = buffers[i]!.slice()
  }
  return copied === undefined ? message : { codec: message.codec, frames: { header: message.frames.header, buffers: copied } }
}

/** Gives a received arena view back to the arena once its data was used (no-op for private memory). */
export const release = (c: CommState, view: ArrayBufferView): void => {
  c.engine.transport.alloc?.release(view)
}

/**
 * Posts a receive of the call's next message from `source` straight into
 * `into` (a buffer message of exactly `into.length` elements of its
 * datatype). A message that does not fit is dropped and the request fails
 * with an `InvalidArgument` naming the rank; nothing is written.
 */
export const postInto = <T extends TypedArray>(call: Call, source: number, into: T): Request<T, P2P.SendFailure | InvalidArgument> =>
  postWith<T, InvalidArgument, Into<T>>(call, source, takeInto, { call, source, into })

/** Where a `postInto` receive goes. */
interface Into<T extends TypedArray> {
  readonly call: Call
  readonly source: number
  readonly into: T
}

function takeInto<T extends TypedArray>(m: Incoming, request: Request<T, P2P.SendFailure | InvalidArgument>, to: Into<T>): void {
  const refusal = refuse(to.call, to.source, m.arrival.envelope, m.arrival.header, to.into)
  if (refusal !== undefined) {
    m.arrival.discard()
    return request.fail(refusal)
  }
  const into = to.into
  m.arrival.take([new Uint8Array(into.buffer, into.byteOffset, into.byteLength)], tookInto.bind(undefined, request, into))
}

function tookInto<T extends TypedArray>(request: Request<T, P2P.SendFailure | InvalidArgument>, into: T, r: Frames | TransportError): void {
  if (r instanceof TransportError) request.fail(r)
  else request.succeed(into)
}

const refuse = (call: Call, source: number, envelope: Uint8Array, header: Uint8Array, into: TypedArray): InvalidArgument | undefined => {
  const expected = Datatypes.of(into)
  if (Envelope.codec(envelope) !== raw.id) return mismatch(call.name, source, "a value where this rank has a buffer")
  let info: { readonly datatype: Datatypes.Datatype; readonly count: number }
  try {
    info = peek({ header, buffers: [] })
  } catch {
    return mismatch(call.name, source, "a malformed buffer")
  }
  if (info.datatype !== expected) return mismatch(call.name, source, `${info.datatype.name} data where this rank has ${expected.name}`)
  if (info.count !== into.length) return mismatch(call.name, source, `${info.count} ${info.datatype.name} where ${into.length} are expected`)
  return undefined
}
