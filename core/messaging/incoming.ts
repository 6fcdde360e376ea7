/**
 * A matched message, before it is taken: its status (read from its envelope
 * and header, without taking it) and the acknowledgement a synchronous send
 * waits for. Both paths of a receive (values.ts, buffers.ts) and probes use
 * them.
 */
import { peek, raw } from "../../codecs/buffer.ts"
import type { CommState } from "../comm/CommState.ts"
import * as Envelope from "./Envelope.ts"
import * as Trace from "../observe/recorder.ts"
import type { Incoming } from "./Matching.ts"
import * as Message from "./Message.ts"
import type { Status } from "../comm/Status.ts"

/** The status of a matched or probed message, read from its envelope and header. */
export const statusOf = (c: CommState, m: Incoming): Status => {
  const a = m.arrival
  let byteCount = a.header.length
  for (const s of a.sizes) byteCount += s
  const codecId = Envelope.codec(a.envelope)
  let count: number | undefined
  let datatype: string | undefined
  if (codecId === raw.id) {
    try {
      const info = peek({ header: a.header, buffers: [] })
      count = info.count
      datatype = info.datatype.name
    } catch {
      // A malformed raw header: the receive that takes it reports the DecodeError.
    }
  }
  let codec: string
  try {
    codec = Message.codecOf(codecId).name
  } catch {
    codec = `#${codecId}`
  }
  return { source: c.worldToComm[m.source]!, tag: m.tag, byteCount, codec, count, datatype }
}

/** A matched message was taken: a synchronous send is answered (its sender completes then), and a trace marks the take. */
export const taken = (c: CommState, m: Incoming): void => {
  if (Trace.tracing) Trace.taken(c.engine.rank, m.arrival)
  if (Envelope.kind(m.arrival.envelope) === Envelope.KIND_SYNC) c.engine.acknowledge(m.source, Envelope.seq(m.arrival.envelope))
}
