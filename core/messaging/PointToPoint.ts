/**
 * Point-to-point messaging on a communicator: blocking, synchronous and
 * non-blocking sends and receives, probes, and receives into a caller's
 * buffer. Collectives reuse the same primitives on their own context.
 */
import { Effect, Exit, Option } from "effect"
import type { Described } from "../../codecs/buffer.ts"
import { DatatypeMismatch, DecodeError, EncodeError, Truncated } from "../../codecs/errors.ts"
import { PeerFailure, TransportError } from "../../transports/Transport.ts"
import type { CommState } from "../comm/CommState.ts"
import { completeNow, completion, type Settle, spinWhile, waitsInPlace } from "./completion.ts"
import { defer } from "./defer.ts"
import * as Envelope from "./Envelope.ts"
import { type Deadlock, InvalidArgument, InvalidCommunicator, InvalidRank, InvalidTag, MessageInvalid, RankFailed, UnknownCodec } from "../errors.ts"
import { ANY_SOURCE, ANY_TAG, PROC_NULL, type Incoming, type Posted } from "./Matching.ts"
import * as Message from "./Message.ts"
import { Request } from "./Request.ts"
import type { Status } from "../comm/Status.ts"
import * as Waits from "./waits.ts"
import { takeInto } from "./buffers.ts"
import { statusOf } from "./incoming.ts"
import { takeValue } from "./values.ts"

/**
 * The largest tag (MPI's TAG_UB).
 *
 * @example
 * ```ts
 * yield* world.send(x, { dest: 1, tag: TAG_UB })   // the largest tag; TAG_UB + 1 is InvalidTag
 * ```
 */
export const TAG_UB = 0x7fffffff

/**
 * Where a message goes and how it is encoded: `dest` (a rank of the communicator or PROC_NULL), `tag` (0 by default), `codec` (the communicator's by default), `schema` (an Effect Schema that encodes the value).
 *
 * @example
 * ```ts
 * yield* world.send({ step: 3 }, { dest: 1, tag: 5, codec: "marshal" })
 * ```
 */
export interface SendOptions<A = unknown> {
  /** Destination rank, or PROC_NULL. */
  readonly dest: number
  /** Tag, 0..TAG_UB (default 0). */
  readonly tag?: number
  /** Codec for this message instead of the communicator's. */
  readonly codec?: Message.CodecChoice
  /** Encode the value through this schema first. */
  readonly schema?: Message.MessageSchema<A>
}

/**
 * Which message a receive takes: `source` and `tag` (ANY_SOURCE and ANY_TAG by default), and a `schema` that decodes and validates the value.
 *
 * @example
 * ```ts
 * const point = yield* world.recv({ source: 0, tag: 5, schema: Point })   // typed as Point, validated
 * ```
 */
export interface RecvOptions<A = unknown> {
  /** Source rank, ANY_SOURCE (default) or PROC_NULL. */
  readonly source?: number
  /** Tag, or ANY_TAG (default). */
  readonly tag?: number
  /** Decode and validate the value through this schema. */
  readonly schema?: Message.MessageSchema<A>
}

/**
 * Which message a probe or a `recvInto` looks for: `source` and `tag` (ANY_SOURCE and ANY_TAG by default).
 *
 * @example
 * ```ts
 * const status = yield* world.probe({ source: 0, tag: 2 })
 * const into = new Float64Array(status.count)
 * yield* world.recvInto(into, { source: 0, tag: 2 })
 * ```
 */
export type ProbeOptions = Pick<RecvOptions, "source" | "tag">

/**
 * A received value with its status (who sent it, with which tag, how many bytes and elements).
 *
 * @example
 * ```ts
 * const { value, status }: Comm.Received<string> = yield* world.recvWithStatus<string>()
 * ```
 */
export interface Received<A> {
  readonly value: A
  readonly status: Status
}

/**
 * A call that could never succeed as written: a rank or tag out of range, a freed communicator, a bad argument.
 *
 * @example
 * ```ts
 * yield* world.send(1, { dest: 99 }).pipe(Effect.catchTag("InvalidRank", (e) => Effect.logError(e.message)))
 * ```
 */
export type InvalidCall = InvalidRank | InvalidTag | InvalidCommunicator | InvalidArgument
/**
 * Why a well-formed send did not complete: the destination failed or finished (deadlock), or the transport broke.
 *
 * @example
 * ```ts
 * yield* world.send(x, { dest: 1 }).pipe(Effect.catchTag("RankFailed", (e) => Effect.log(`rank ${e.rank} is gone`)))
 * ```
 */
export type SendFailure = RankFailed | Deadlock | TransportError
/**
 * Everything a send can fail with: an invalid call, a value the codec cannot encode, an unknown codec, or a send failure.
 *
 * @example
 * ```ts
 * const sent: Effect.Effect<void, Comm.SendError> = world.send(x, { dest: 1 })
 * ```
 */
export type SendError = InvalidCall | EncodeError | UnknownCodec | SendFailure
/**
 * Why a well-formed receive did not complete: the message did not decode or validate, the source failed or finished, or the transport broke.
 *
 * @example
 * ```ts
 * yield* world.recv({ source: 1, schema: Point }).pipe(Effect.catchTag("MessageInvalid", (e) => Effect.logError(e.message)))
 * ```
 */
export type RecvFailure = DecodeError | MessageInvalid | RankFailed | Deadlock | TransportError
/**
 * Everything a receive of a value can fail with: an invalid call or a receive failure.
 *
 * @example
 * ```ts
 * const received: Effect.Effect<unknown, Comm.RecvError> = world.recv({ source: 1 })
 * ```
 */
export type RecvError = InvalidCall | RecvFailure
/**
 * A receive failure, or a message that does not fit the caller's buffer (`Truncated`, `DatatypeMismatch`; both leave it queued).
 *
 * @example
 * ```ts
 * yield* world.recvInto(small, { source: 1 }).pipe(Effect.catchTag("Truncated", (e) => Effect.log(`${e.count} elements, room for ${e.capacity}`)))
 * ```
 */
export type RecvIntoFailure = RecvFailure | Truncated | DatatypeMismatch
/**
 * Everything `recvInto` can fail with: an invalid call or a `RecvIntoFailure`.
 *
 * @example
 * ```ts
 * const status: Effect.Effect<Status, Comm.RecvIntoError> = world.recvInto(buffer, { source: 0 })
 * ```
 */
export type RecvIntoError = InvalidCall | RecvIntoFailure

// ---------------------------------------------------------------------------
// Validation

const freedError = () =>
  new InvalidCommunicator({ message: "this communicator was freed; use it before free(), or dup() it to keep one" })

const checkDest = (c: CommState, dest: number): InvalidRank | undefined =>
  dest === PROC_NULL || (Number.isInteger(dest) && dest >= 0 && dest < c.size)
    ? undefined
    : new InvalidRank({
      rank: dest,
      size: c.size,
      message: `cannot send to rank ${dest}: the communicator has ${c.size} rank${c.size === 1 ? "" : "s"} (0..${c.size - 1}); use PROC_NULL to send nowhere`
    })

const checkSource = (c: CommState, source: number): InvalidRank | undefined =>
  source === ANY_SOURCE || source === PROC_NULL || (Number.isInteger(source) && source >= 0 && source < c.size)
    ? undefined
    : new InvalidRank({
      rank: source,
      size: c.size,
      message: `cannot receive from rank ${source}: the communicator has ${c.size} rank${c.size === 1 ? "" : "s"} (0..${c.size - 1}); use ANY_SOURCE for any`
    })

const checkSendTag = (tag: number): InvalidTag | undefined =>
  Number.isInteger(tag) && tag >= 0 && tag <= TAG_UB
    ? undefined
    : new InvalidTag({ tag, message: `invalid send tag ${tag}: tags are integers in 0..${TAG_UB} (ANY_TAG is for receives only)` })

const checkRecvTag = (tag: number): InvalidTag | undefined =>
  tag === ANY_TAG || (Number.isInteger(tag) && tag >= 0 && tag <= TAG_UB)
    ? undefined
    : new InvalidTag({ tag, message: `invalid receive tag ${tag}: tags are integers in 0..${TAG_UB}, or ANY_TAG` })

export const validateSend = (c: CommState, dest: number, tag: number): InvalidCall | undefined =>
  c.freed ? freedError() : checkDest(c, dest) ?? checkSendTag(tag)

export const validateRecv = (c: CommState, source: number, tag: number): InvalidCall | undefined =>
  c.freed ? freedError() : checkSource(c, source) ?? checkRecvTag(tag)

// ---------------------------------------------------------------------------
// Failures from below

/** Converts a transport-level failure into what the caller sees. */
export const sendFailure = (c: CommState, e: TransportError | PeerFailure): SendFailure =>
  e instanceof PeerFailure ? rankFailed(c, e.rank, e.reason) : e

export const rankFailed = (c: CommState, worldRank: number, reason: string): RankFailed => {
  const rank = c.worldToComm[worldRank] ?? -1
  return new RankFailed({ rank: rank >= 0 ? rank : worldRank, message: `rank ${rank >= 0 ? rank : worldRank} failed: ${reason}`, details: reason, worldRank })
}

/** Why a posted receive settled without a message: its source failed, or finished (a deadlock). */
export const unmatched = (c: CommState, p: Posted): RankFailed | Deadlock =>
  p.finished ? Waits.finished(Waits.waitOf(c.engine, p)) : rankFailed(c, p.failedRank, p.failed ?? "unknown failure")

const encodeFailure = (e: unknown): EncodeError | UnknownCodec => {
  if (e instanceof EncodeError || e instanceof UnknownCodec) return e
  throw e
}

// ---------------------------------------------------------------------------
// Sending

/** Hands encoded frames to the transport; settles when the buffers may be reused. */
export const transmit = (
  c: CommState,
  context: number,
  dest: number,
  tag: number,
  encoded: Message.Encoded,
  settle: Settle<void, SendFailure>,
  kind = Envelope.KIND_DATA,
  seq = 0
): void => {
  const worldDest = c.group[dest]!
  c.engine.send(worldDest, Envelope.write(c.engine.envelope, kind, encoded.codec, context, tag, seq), encoded.frames, sent.bind(undefined, c, settle))
}

/** The transport took a send's frames (no error) or failed it. */
function sent(c: CommState, settle: Settle<void, SendFailure>, error: TransportError | PeerFailure | undefined): void {
  settle(error === undefined ? Exit.void : Exit.fail(sendFailure(c, error)))
}

/** Starts a send on `context`; `synchronous` waits for the receiver's match as well. */
export const startSend = (
  c: CommState,
  context: number,
  dest: number,
  tag: number,
  encoded: Message.Encoded,
  synchronous: boolean,
  settle: Settle<void, SendFailure>
): void => {
  if (!synchronous) return transmit(c, context, dest, tag, encoded, settle)
  let pending = 2
  let failure: SendFailure | undefined
  const part = (exit: Exit.Exit<void, SendFailure>) => {
    if (Exit.isFailure(exit) && failure === undefined) {
      failure = Option.getOrThrow(Exit.findErrorOption(exit))
    }
    if (--pending === 0) settle(failure === undefined ? Exit.void : Exit.fail(failure))
  }
  const worldDest = c.group[dest]!
  const seq = c.engine.expectAck(worldDest, context, tag, (error) =>
    part(
      error === undefined
        ? Exit.void
        : Exit.fail(typeof error === "string"
          ? Waits.finished(Waits.ssendWait(c.engine, context, worldDest, tag, 0))
          : sendFailure(c, error))
    ))
  transmit(c, context, dest, tag, encoded, part, Envelope.KIND_SYNC, seq)
}

const encodeFor = (c: CommState, value: unknown, options: SendOptions<any>): Message.Encoded =>
  Message.encode(value, c.codec, options.codec, options.schema)

const sendWith = (c: CommState, value: unknown, options: SendOptions<any>, synchronous: boolean): Effect.Effect<void, SendError> =>
  Effect.suspend(sendNow.bind(undefined, c, value, options, synchronous))

function sendNow(c: CommState, value: unknown, options: SendOptions<any>, synchronous: boolean): Effect.Effect<void, SendError> {
  const tag = options.tag ?? 0
  const invalid = validateSend(c, options.dest, tag)
  if (invalid !== undefined) return Effect.fail(invalid)
  if (options.dest === PROC_NULL) return Effect.void
  let encoded: Message.Encoded
  try {
    encoded = encodeFor(c, value, options)
  } catch (e) {
    return Effect.fail(encodeFailure(e))
  }
  return completeNow<void, SendFailure>(startSend.bind(undefined, c, c.context, options.dest, tag, encoded, synchronous), c.engine.transport)
}

/** Sends a value; completes when the value's buffers may be reused (MPI_Send). */
export const send = (c: CommState, value: unknown, options: SendOptions<any>) => sendWith(c, value, options, false)

/** Sends a value and completes only once the receiver matched it (MPI_Ssend). */
export const ssend = (c: CommState, value: unknown, options: SendOptions<any>) => sendWith(c, value, options, true)

const isendWith = (
  c: CommState,
  value: unknown,
  options: SendOptions<any>,
  synchronous: boolean
): Effect.Effect<Request<void, SendFailure>, InvalidCall | EncodeError | UnknownCodec> =>
  Effect.suspend((): Effect.Effect<Request<void, SendFailure>, InvalidCall | EncodeError | UnknownCodec> => {
    const tag = options.tag ?? 0
    const invalid = validateSend(c, options.dest, tag)
    if (invalid !== undefined) return Effect.fail(invalid)
    const request = new Request<void, SendFailure>(c.engine.transport)
    if (options.dest === PROC_NULL) {
      request.succeed(undefined)
      return Effect.succeed(request)
    }
    let encoded: Message.Encoded
    try {
      encoded = encodeFor(c, value, options)
    } catch (e) {
      return Effect.fail(encodeFailure(e))
    }
    startSend(c, c.context, options.dest, tag, encoded, synchronous, (exit) =>
      Exit.isSuccess(exit) ? request.succeed(undefined) : request.fail(Option.getOrThrow(Exit.findErrorOption(exit))))
    return Effect.succeed(request)
  })

/** Starts a send and returns its request at once (MPI_Isend). */
export const isend = (c: CommState, value: unknown, options: SendOptions<any>) => isendWith(c, value, options, false)

/** Starts a synchronous send (MPI_Issend): its request completes once the receiver matched it. */
export const issend = (c: CommState, value: unknown, options: SendOptions<any>) => isendWith(c, value, options, true)

// ---------------------------------------------------------------------------
// Receiving

/** What a receive does with its match: decode a value, or fill a caller's buffer. */
interface Sink {
  readonly schema: Message.MessageSchema | undefined
  /** The receive buffer, described (`intoTarget`). */
  readonly into: Described | undefined
}

const procNullStatus: Status = { source: PROC_NULL, tag: ANY_TAG, byteCount: 0, codec: "none", count: 0, datatype: undefined }

/**
 * Takes a matched message into its sink: the buffer path (messaging/buffers.ts)
 * fills a caller's buffer, the object path (messaging/values.ts) decodes a
 * value. Errors that leave the message untouched (a receive buffer of the
 * wrong type or too small) put it back; a message that cannot be decoded is
 * consumed.
 */
export const finish = (c: CommState, m: Incoming, sink: Sink, settle: Settle<Received<unknown>, RecvIntoFailure>): void =>
  sink.into !== undefined ? takeInto(c, m, sink.into, settle) : takeValue(c, m, sink.schema, settle)

const spinFor = (c: CommState, p: Posted): void => {
  if (waitsInPlace(c.engine.transport)) spinWhile(c.engine.transport, isPending, p)
}

const isPending = (p: Posted): boolean => p.matched === undefined && p.failed === undefined

/**
 * The blocking receive, giving `pick` of what it received (the value and
 * status, or one of them): one `Effect.callback`, whose registration posts
 * the receive and takes a message already there, or arriving within the
 * spin, before it returns (no suspension, no interruption point between
 * posting and taking). Otherwise the fiber suspends with the receive posted;
 * interrupting it then withdraws the receive: a message matched in the same
 * instant goes back in its place, so nothing is lost or taken twice. Once a
 * message is being taken the receive completes without interruption.
 */
const receive = <A>(
  c: CommState,
  context: number,
  source: number,
  tag: number,
  sink: Sink,
  pick: (r: Received<unknown>) => A
): Effect.Effect<A, RecvIntoError> =>
  Effect.callback<A, RecvIntoError>((registerReceive<A>).bind(undefined, c, context, source, tag, sink, pick))

function registerReceive<A>(
  c: CommState,
  context: number,
  source: number,
  tag: number,
  sink: Sink,
  pick: (r: Received<unknown>) => A,
  resume: (effect: Effect.Effect<A, RecvIntoError>) => void
): Effect.Effect<void> | void {
  const invalid = validateRecv(c, source, tag)
  if (invalid !== undefined) return resume(Effect.fail(invalid))
  if (source === PROC_NULL) return resume(Effect.succeed(pick({ value: sink.into === undefined ? undefined : 0, status: procNullStatus })))
  const worldSource = source === ANY_SOURCE ? ANY_SOURCE : c.group[source]!
  const matching = c.engine.matching
  const p = matching.post(context, worldSource, tag, false)
  if (p.matched === undefined && p.failed === undefined) spinFor(c, p)
  if (p.matched !== undefined || p.failed !== undefined) return resume(settledReceive(c, p, sink, pick))
  // The wake runs inside the transport's progress: take and resume after it, unless an interruption withdrew the receive meanwhile.
  p.wake = defer.bind(undefined, (resumeReceive<A>).bind(undefined, c, p, sink, pick, resume))
  return Effect.sync(matching.withdraw.bind(matching, p))
}

function resumeReceive<A>(c: CommState, p: Posted, sink: Sink, pick: (r: Received<unknown>) => A, resume: (effect: Effect.Effect<A, RecvIntoError>) => void): void {
  if (p.matched !== undefined || p.failed !== undefined) resume(settledReceive(c, p, sink, pick))
}

/** A posted receive that matched (taken now into its sink; a take that waits for its buffers runs uninterruptibly) or failed. */
const settledReceive = <A>(c: CommState, p: Posted, sink: Sink, pick: (r: Received<unknown>) => A): Effect.Effect<A, RecvIntoError> => {
  if (p.matched === undefined) return Effect.fail(unmatched(c, p))
  const taken = completeNow<A, RecvIntoError>((finishPicked<A>).bind(undefined, c, p.matched, sink, pick), c.engine.transport)
  return Exit.isExit(taken) ? taken : Effect.uninterruptible(taken)
}

function finishPicked<A>(c: CommState, m: Incoming, sink: Sink, pick: (r: Received<unknown>) => A, settle: Settle<A, RecvIntoError>): void {
  finish(c, m, sink, (settlePicked<A>).bind(undefined, pick, settle))
}

function settlePicked<A>(pick: (r: Received<unknown>) => A, settle: Settle<A, RecvIntoError>, exit: Exit.Exit<Received<unknown>, RecvIntoFailure>): void {
  settle(Exit.isSuccess(exit) ? Exit.succeed(pick(exit.value)) : (exit as Exit.Exit<never, RecvIntoFailure>))
}

const sinkOf = (options: RecvOptions<any> | undefined): Sink => ({ schema: options?.schema, into: undefined })

const valueOf = (r: Received<unknown>): unknown => r.value
const itself = (r: Received<unknown>): Received<unknown> => r
const statusOfReceived = (r: Received<unknown>): Status => r.status

/** Receives a value (MPI_Recv). */
export const recv = (c: CommState, options?: RecvOptions<any>): Effect.Effect<unknown, RecvError> =>
  receive(c, c.context, options?.source ?? ANY_SOURCE, options?.tag ?? ANY_TAG, sinkOf(options), valueOf) as Effect.Effect<unknown, RecvError>

/** Receives a value and its status. */
export const recvWithStatus = (c: CommState, options?: RecvOptions<any>): Effect.Effect<Received<unknown>, RecvError> =>
  receive(c, c.context, options?.source ?? ANY_SOURCE, options?.tag ?? ANY_TAG, sinkOf(options), itself) as Effect.Effect<Received<unknown>, RecvError>

/**
 * Receives a buffer message into `target` (MPI's uppercase Recv; the
 * caller's buffer described once by `intoTarget`) and returns its status
 * (`status.count` elements were written). A message of another datatype
 * fails with `DatatypeMismatch`, one larger than the buffer with
 * `Truncated`; both leave the message queued for another receive.
 */
export const recvInto = (c: CommState, target: Described, options?: ProbeOptions): Effect.Effect<Status, RecvIntoError> =>
  receive(c, c.context, options?.source ?? ANY_SOURCE, options?.tag ?? ANY_TAG, { schema: undefined, into: target }, statusOfReceived)

/**
 * Posts a receive on `context` from comm rank `source` (or ANY_SOURCE) with
 * `tag`, and calls `settled` once it matched a message or failed (a dead or
 * finished source): at once where it already has. The one place where
 * receives are posted: point-to-point's requests and the collectives'
 * messages (collectives/link.ts) both go through it. `label` names the
 * wait in reports. While it waits, `p.wake` is set; `withdraw` cancels it.
 */
export const postReceive = (c: CommState, context: number, source: number, tag: number, settled: (p: Posted) => void, label?: string): Posted => {
  const p = c.engine.matching.post(context, source === ANY_SOURCE ? ANY_SOURCE : c.group[source]!, tag, false)
  if (label !== undefined) p.label = label
  if (p.matched !== undefined || p.failed !== undefined) settled(p)
  else p.wake = () => settled(p)
  return p
}

/** Starts a receive on `context`, completing `request` with the received value. */
export const startReceive = (
  c: CommState,
  context: number,
  source: number,
  tag: number,
  sink: Sink,
  request: Request<any, any>,
  map: (r: Received<unknown>) => unknown
): void => {
  if (source === PROC_NULL) return request.succeed(map({ value: sink.into === undefined ? undefined : 0, status: procNullStatus }), { status: procNullStatus })
  const p = postReceive(c, context, source, tag, (p) => {
    request.canceller = undefined
    if (p.matched === undefined) return request.fail(unmatched(c, p))
    finish(c, p.matched, sink, (exit) =>
      Exit.isSuccess(exit) ? request.succeed(map(exit.value), exit.value) : request.fail(Option.getOrThrow(Exit.findErrorOption(exit))))
  })
  if (p.wake !== undefined) request.canceller = () => c.engine.matching.withdraw(p)
}

/** Starts a receive and returns its request at once (MPI_Irecv); waiting on it gives the value. */
export const irecv = (c: CommState, options?: RecvOptions<any>): Effect.Effect<Request<unknown, RecvFailure>, InvalidCall> =>
  Effect.suspend(() => {
    const source = options?.source ?? ANY_SOURCE
    const tag = options?.tag ?? ANY_TAG
    const invalid = validateRecv(c, source, tag)
    if (invalid !== undefined) return Effect.fail(invalid)
    const request = new Request<unknown, RecvFailure>(c.engine.transport)
    startReceive(c, c.context, source, tag, sinkOf(options), request, (r) => r.value)
    return Effect.succeed(request)
  })

/** Starts a receive into `target` (MPI_Irecv with a buffer, described by `intoTarget`); waiting on it gives the status. */
export const irecvInto = (c: CommState, target: Described, options?: ProbeOptions): Effect.Effect<Request<Status, RecvIntoFailure>, InvalidCall> =>
  Effect.suspend(() => {
    const source = options?.source ?? ANY_SOURCE
    const tag = options?.tag ?? ANY_TAG
    const invalid = validateRecv(c, source, tag)
    if (invalid !== undefined) return Effect.fail(invalid)
    const request = new Request<Status, RecvIntoFailure>(c.engine.transport)
    startReceive(c, c.context, source, tag, { schema: undefined, into: target }, request, (r) => r.status)
    return Effect.succeed(request)
  })

/**
 * A send and a receive in one call (MPI_Sendrecv): the send's `dest` and the receive's `source`, with `sendTag` and `recvTag` (or one `tag` for both).
 *
 * @example
 * ```ts
 * const fromLeft = yield* world.sendrecv(mine, { dest: right, source: left, sendTag: 1, recvTag: 1 })
 * ```
 */
export interface SendrecvOptions<A = unknown> extends SendOptions<A> {
  /** Tag of the outgoing message (default `tag`, else 0). */
  readonly sendTag?: number
  readonly source?: number
  /** Tag of the incoming message (default ANY_TAG). */
  readonly recvTag?: number
  readonly recvSchema?: Message.MessageSchema
}

/** Sends and receives at once, so that exchanges between pairs cannot deadlock (MPI_Sendrecv). */
export const sendrecv = (c: CommState, value: unknown, options: SendrecvOptions<any>): Effect.Effect<unknown, SendError | RecvError> =>
  Effect.suspend((): Effect.Effect<unknown, SendError | RecvError> => {
    const tag = options.sendTag ?? options.tag ?? 0
    const source = options.source ?? ANY_SOURCE
    const recvTag = options.recvTag ?? ANY_TAG
    const invalid = validateSend(c, options.dest, tag) ?? validateRecv(c, source, recvTag)
    if (invalid !== undefined) return Effect.fail(invalid)
    // The send starts first and completes in the background (large sends only once the peer takes them).
    let sent: Exit.Exit<void, SendFailure> | undefined = Exit.void
    let sentWaiter: Settle<void, SendFailure> | undefined
    if (options.dest !== PROC_NULL) {
      let encoded: Message.Encoded
      try {
        encoded = encodeFor(c, value, options)
      } catch (e) {
        return Effect.fail(encodeFailure(e))
      }
      sent = undefined
      startSend(c, c.context, options.dest, tag, encoded, false, (exit) => {
        if (sentWaiter !== undefined) sentWaiter(exit)
        else sent = exit
      })
    }
    const sink: Sink = { schema: options.recvSchema, into: undefined }
    return Effect.flatMap(
      receive(c, c.context, source, recvTag, sink, itself) as Effect.Effect<Received<unknown>, RecvError>,
      (r) => {
        if (sent !== undefined) return Exit.isSuccess(sent) ? Effect.succeed(r.value) : sent
        return completion<unknown, SendFailure>((settle) => {
          sentWaiter = (exit) => settle(Exit.isSuccess(exit) ? Exit.succeed(r.value) : exit)
        }, c.engine.transport)
      }
    )
  })

// ---------------------------------------------------------------------------
// Probes

/** Waits until a matching message has arrived and returns its status without receiving it (MPI_Probe). */
export const probe = (c: CommState, options?: ProbeOptions): Effect.Effect<Status, InvalidCall | RankFailed | Deadlock> =>
  // As `receive`: posted and, where it can be, settled inside one callback's registration; interrupting the wait withdraws it.
  Effect.callback<Status, InvalidCall | RankFailed | Deadlock>((resume) => {
    const source = options?.source ?? ANY_SOURCE
    const tag = options?.tag ?? ANY_TAG
    const invalid = validateRecv(c, source, tag)
    if (invalid !== undefined) return resume(Effect.fail(invalid))
    if (source === PROC_NULL) return resume(Effect.succeed(procNullStatus))
    const worldSource = source === ANY_SOURCE ? ANY_SOURCE : c.group[source]!
    const matching = c.engine.matching
    const p = matching.post(c.context, worldSource, tag, true)
    if (p.matched === undefined && p.failed === undefined) spinFor(c, p)
    if (p.matched !== undefined || p.failed !== undefined) return resume(probed(c, p))
    p.wake = () => defer(() => resume(probed(c, p)))
    return Effect.sync(() => {
      matching.withdraw(p)
    })
  })

const probed = (c: CommState, p: Posted): Effect.Effect<Status, RankFailed | Deadlock> =>
  p.matched !== undefined ? Effect.succeed(statusOf(c, p.matched)) : Effect.fail(unmatched(c, p))

/** The status of a matching message if one has arrived, without receiving it (MPI_Iprobe). */
export const iprobe = (c: CommState, options?: ProbeOptions): Effect.Effect<Option.Option<Status>, InvalidCall> =>
  Effect.suspend(() => {
    const source = options?.source ?? ANY_SOURCE
    const tag = options?.tag ?? ANY_TAG
    const invalid = validateRecv(c, source, tag)
    if (invalid !== undefined) return Effect.fail(invalid)
    if (source === PROC_NULL) return Effect.succeed(Option.some(procNullStatus))
    const worldSource = source === ANY_SOURCE ? ANY_SOURCE : c.group[source]!
    c.engine.transport.poll()
    const m = c.engine.matching.find(c.context, worldSource, tag)
    return Effect.succeed(m === undefined ? Option.none() : Option.some(statusOf(c, m)))
  })
