/**
 * The envelope core puts on every message: what the matching engine needs
 * (context, tag) and how to read the rest (codec id, kind). The transport
 * carries it as opaque bytes; the source comes from the transport.
 *
 * Layout (16 bytes, little-endian):
 *   0 kind u8 | 1 codec u8 | 2..3 reserved | 4..7 context u32 | 8..11 tag i32 | 12..15 seq u32
 */

export const KIND_DATA = 0
/** A synchronous send: the receiver acknowledges the match (`ssend`). */
export const KIND_SYNC = 1
/** The acknowledgement of a synchronous send; `seq` names it. */
export const KIND_ACK = 2
/**
 * A rank's program finished (sent to every other rank after its last message):
 * `context` is the first context of the run. Receives still waiting on that
 * rank in the run can never complete.
 */
export const KIND_FIN = 3

export const ENVELOPE_BYTES = 16

export interface Envelope {
  readonly kind: number
  readonly codec: number
  readonly context: number
  readonly tag: number
  readonly seq: number
}

export const encode = (kind: number, codec: number, context: number, tag: number, seq: number): Uint8Array =>
  write(new Uint8Array(ENVELOPE_BYTES), kind, codec, context, tag, seq)

/** Writes an envelope into `b` (ENVELOPE_BYTES long) and returns it: for a send whose transport reads the envelope before `send` returns. */
export const write = (b: Uint8Array, kind: number, codec: number, context: number, tag: number, seq: number): Uint8Array => {
  b[0] = kind
  b[1] = codec
  b[4] = context
  b[5] = context >>> 8
  b[6] = context >>> 16
  b[7] = context >>> 24
  b[8] = tag
  b[9] = tag >>> 8
  b[10] = tag >>> 16
  b[11] = tag >>> 24
  b[12] = seq
  b[13] = seq >>> 8
  b[14] = seq >>> 16
  b[15] = seq >>> 24
  return b
}

/** Whether `b` is long enough to be an envelope; anything shorter is foreign and dropped. */
export const isValid = (b: Uint8Array): boolean => b.length >= ENVELOPE_BYTES && b[0]! <= KIND_FIN

export const kind = (b: Uint8Array): number => b[0]!
export const codec = (b: Uint8Array): number => b[1]!
export const context = (b: Uint8Array): number => (b[4]! | (b[5]! << 8) | (b[6]! << 16) | (b[7]! << 24)) >>> 0
export const tag = (b: Uint8Array): number => b[8]! | (b[9]! << 8) | (b[10]! << 16) | (b[11]! << 24)
export const seq = (b: Uint8Array): number => (b[12]! | (b[13]! << 8) | (b[14]! << 16) | (b[15]! << 24)) >>> 0
