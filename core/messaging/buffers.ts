/**
 * The buffer path of a receive: a matched raw message (datatype and count in
 * its header, the data as one buffer) written into a buffer the caller owns
 * (MPI's uppercase Recv), refused without being consumed when its datatype
 * differs or it does not fit.
 */
import { Exit } from "effect"
import { type Described, describeTarget, isBufferSpec, raw, scatter } from "../../codecs/buffer.ts"
import { DatatypeMismatch, DecodeError, Truncated } from "../../codecs/errors.ts"
import { TransportError } from "../../transports/Transport.ts"
import type { CommState } from "../comm/CommState.ts"
import type { Settle } from "./completion.ts"
import * as Envelope from "./Envelope.ts"
import { InvalidArgument } from "../errors.ts"
import type { Incoming } from "./Matching.ts"
import type { Received, RecvIntoFailure } from "./PointToPoint.ts"
import type { Status } from "../comm/Status.ts"
import { statusOf, taken } from "./incoming.ts"

/** Takes `m` into `target` (see `intoTarget`); a message of another datatype, or too large, goes back to the queue and fails the receive. */
export const takeInto = (c: CommState, m: Incoming, target: Described, settle: Settle<Received<unknown>, RecvIntoFailure>): void => {
  const arrival = m.arrival
  const status = statusOf(c, m)
  const refusal = refuseInto(c, m, target, status)
  if (refusal !== undefined) {
    c.engine.matching.requeue(m)
    return settle(Exit.fail(refusal))
  }
  const bytes = status.count! * target.datatype.size
  arrival.take([bytes === target.bytes.byteLength ? target.bytes : target.bytes.subarray(0, bytes)], tookInto.bind(undefined, c, m, target, bytes, status, settle))
}

/** The transport copied the message into the target (or failed). A function bound per receive, not a closure: see completion.ts. */
function tookInto(c: CommState, m: Incoming, target: Described, bytes: number, status: Status, settle: Settle<Received<unknown>, RecvIntoFailure>, r: unknown): void {
  if (!(r instanceof TransportError)) scatter(target, bytes)
  taken(c, m)
  settle(r instanceof TransportError ? Exit.fail(r) : Exit.succeed({ value: status.count, status }))
}

const refuseInto = (c: CommState, m: Incoming, target: Described, status: Status): DecodeError | DatatypeMismatch | Truncated | undefined => {
  if (status.datatype === undefined) {
    const codec = status.codec
    if (Envelope.codec(m.arrival.envelope) === raw.id) {
      return new DecodeError({ codec: "raw", offset: 0, message: `raw: malformed buffer header from rank ${status.source}` })
    }
    return new DatatypeMismatch({
      expected: target.datatype.name,
      received: codec,
      message: `recvInto needs a buffer message, but rank ${status.source} sent a ${codec}-encoded value (tag ${status.tag}); receive it with recv()`
    })
  }
  if (status.datatype !== target.datatype.name) {
    return new DatatypeMismatch({
      expected: target.datatype.name,
      received: status.datatype,
      message: `message from rank ${status.source} (tag ${status.tag}) holds ${status.datatype} but the receive buffer is ${target.datatype.name}`
    })
  }
  if (status.count! > target.count) {
    return new Truncated({
      capacity: target.count,
      count: status.count!,
      message: `message of ${status.count} ${status.datatype} from rank ${status.source} (tag ${status.tag}) does not fit a receive buffer of ${target.count}; the message is still queued`
    })
  }
  void c
  return undefined
}

/**
 * `into` described as a receive target, or why it cannot receive (not a
 * typed array or buffer spec): described once per receive, and handed to
 * `takeInto` with the message.
 */
export const intoTarget = (into: unknown): Described | InvalidArgument => {
  if (!isBufferSpec(into)) {
    return new InvalidArgument({ argument: "buffer", message: "recvInto needs a typed array (or [buffer, datatype, count]) to receive into" })
  }
  try {
    return describeTarget(into)
  } catch (e) {
    return new InvalidArgument({ argument: "buffer", message: e instanceof Error ? e.message : String(e) })
  }
}
