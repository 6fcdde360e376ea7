/**
 * The object path of a receive: a matched message decoded through the codec
 * its envelope names (and the receive's schema, if any) into a value.
 */
import { Exit } from "effect"
import type { Frames } from "../../codecs/Codec.ts"
import { TransportError } from "../../transports/Transport.ts"
import type { CommState } from "../comm/CommState.ts"
import type { Settle } from "./completion.ts"
import * as Envelope from "./Envelope.ts"
import type { Incoming } from "./Matching.ts"
import * as Message from "./Message.ts"
import type { Received, RecvIntoFailure } from "./PointToPoint.ts"
import type { Status } from "../comm/Status.ts"
import { statusOf, taken } from "./incoming.ts"

/** Takes `m` and decodes its value; a message that cannot be decoded is consumed and fails the receive. */
export const takeValue = (c: CommState, m: Incoming, schema: Message.MessageSchema | undefined, settle: Settle<Received<unknown>, RecvIntoFailure>): void => {
  m.arrival.take(undefined, decodeTaken.bind(undefined, c, m, schema, settle))
}

/** The transport handed over the message's frames (or failed): decode them. A function bound per receive, not a closure: see completion.ts. */
function decodeTaken(c: CommState, m: Incoming, schema: Message.MessageSchema | undefined, settle: Settle<Received<unknown>, RecvIntoFailure>, r: unknown): void {
  taken(c, m)
  if (r instanceof TransportError) return settle(Exit.fail(r))
  try {
    const value = Message.decode(Envelope.codec(m.arrival.envelope), r as Frames, schema, c.worldToComm[m.source]!, m.tag, c.decodeOptions)
    settle(Exit.succeed(new ReceivedValue(value, c, m)))
  } catch (e) {
    if (Message.isDecodeFailure(e)) return settle(Exit.fail(e))
    settle(Exit.die(e))
  }
}

/** A received value whose status is read from the message only if asked for (most receives never do). */
class ReceivedValue implements Received<unknown> {
  readonly value: unknown
  private readonly c: CommState
  private readonly m: Incoming
  private cached: Status | undefined
  constructor(value: unknown, c: CommState, m: Incoming) {
    this.value = value
    this.c = c
    this.m = m
  }
  get status(): Status {
    return (this.cached ??= statusOf(this.c, this.m))
  }
}
