/**
 * The frame header: every NATS message a rank publishes on a job subject is
 * one frame. Binary, little-endian, versioned; `docs/nats-protocol.md` gives
 * the same layout for clients in other languages.
 *
 * Common prefix (16 bytes):
 *   0 u8 'R' (0x52) | 1 u8 'F' (0x46) | 2 u8 version (1) | 3 u8 type
 *   4 u32 source rank | 8 u32 source incarnation (random, non-zero) | 12 u32 flags
 *
 * Then by type:
 *   DATA (48 bytes + payload): 16 u32 seq | 20 u32 ack | 24 f64 credit |
 *     32 u32 message number | 36 u32 reserved | 40 f64 body offset | 48 payload
 *   ACK (32): 16 u32 reserved | 20 u32 ack | 24 f64 credit
 *   JOIN (32): 16 u32 job size | 20 u32 ranks seen | 24 f64 window
 *   HEARTBEAT, LEAVE (24): 16 u32 job size | 20 u32 reserved
 *   FAILED (24 + reason): 16 u32 failed rank | 20 u32 reason length | 24 reason (UTF-8)
 *
 * Decoding never throws: a frame that does not parse gives a string saying why.
 */

export const VERSION = 1
export const MAGIC_0 = 0x52
export const MAGIC_1 = 0x46

export const DATA = 1
export const ACK = 2
export const JOIN = 3
export const HEARTBEAT = 4
export const LEAVE = 5
export const FAILED = 6

/** DATA flags: the frame starts a message (its payload begins with the message descriptor). */
export const FLAG_FIRST = 1
/** DATA flags: the frame ends a message. */
export const FLAG_LAST = 2
/** ACK flags: the receiver lost frames; resend everything after `ack`. */
export const FLAG_RESEND = 1
/** JOIN flags: the sender has seen every rank of the job join. */
export const FLAG_COMPLETE = 1

export const COMMON_BYTES = 16
export const DATA_HEADER_BYTES = 48
export const ACK_BYTES = 32
export const JOIN_BYTES = 32
export const PRESENCE_BYTES = 24
export const FAILED_HEADER_BYTES = 24
/** Longest reason a FAILED frame carries; longer ones are cut. */
export const MAX_REASON_BYTES = 1024

const TYPE_NAMES = ["", "DATA", "ACK", "JOIN", "HEARTBEAT", "LEAVE", "FAILED"]
const MIN_BYTES = [0, DATA_HEADER_BYTES, ACK_BYTES, JOIN_BYTES, PRESENCE_BYTES, PRESENCE_BYTES, FAILED_HEADER_BYTES]

/** The name of a frame type, for messages. */
export const typeName = (type: number): string => TYPE_NAMES[type] ?? `#${type}`

/** The common prefix of a frame. */
export interface Common {
  readonly type: number
  readonly flags: number
  readonly source: number
  readonly incarnation: number
}

export interface DataHeader extends Common {
  readonly seq: number
  readonly ack: number
  readonly credit: number
  readonly message: number
  readonly offset: number
}

export interface AckFrame extends Common {
  readonly ack: number
  readonly credit: number
}

export interface JoinFrame extends Common {
  readonly size: number
  readonly seen: number
  readonly window: number
}

export interface PresenceFrame extends Common {
  readonly size: number
}

export interface FailedFrame extends Common {
  readonly rank: number
  readonly reason: string
}

export type Frame =
  | ({ readonly kind: "data" } & DataHeader)
  | ({ readonly kind: "ack" } & AckFrame)
  | ({ readonly kind: "join" } & JoinFrame)
  | ({ readonly kind: "heartbeat" } & PresenceFrame)
  | ({ readonly kind: "leave" } & PresenceFrame)
  | ({ readonly kind: "failed" } & FailedFrame)

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength)

// The DATA header is written and read once per frame: byte stores and a scratch
// Float64Array instead of a DataView per frame (a DataView allocation per frame
// showed up at ~0.5 µs in profiles of 64-byte streams).
const scratch = new Float64Array(1)
const scratchBytes = new Uint8Array(scratch.buffer)
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/** Stores `v` as u32 little-endian at `at`. */
export const putU32 = (b: Uint8Array, at: number, v: number): void => {
  b[at] = v
  b[at + 1] = v >>> 8
  b[at + 2] = v >>> 16
  b[at + 3] = v >>> 24
}

/** Reads a u32 little-endian at `at`. */
export const getU32 = (b: Uint8Array, at: number): number => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0

/** Stores `v` as f64 little-endian at `at`. */
export const putF64 = (b: Uint8Array, at: number, v: number): void => {
  scratch[0] = v
  for (let i = 0; i < 8; i++) b[at + i] = scratchBytes[LITTLE_ENDIAN ? i : 7 - i]!
}

/** Reads an f64 little-endian at `at`. */
export const getF64 = (b: Uint8Array, at: number): number => {
  for (let i = 0; i < 8; i++) scratchBytes[LITTLE_ENDIAN ? i : 7 - i] = b[at + i]!
  return scratch[0]!
}

const writeCommon = (v: DataView, type: number, flags: number, source: number, incarnation: number): void => {
  v.setUint8(0, MAGIC_0)
  v.setUint8(1, MAGIC_1)
  v.setUint8(2, VERSION)
  v.setUint8(3, type)
  v.setUint32(4, source, true)
  v.setUint32(8, incarnation, true)
  v.setUint32(12, flags, true)
}

/** The fields of a DATA header, as the sender fills them in. */
export interface DataFields {
  readonly flags: number
  readonly source: number
  readonly incarnation: number
  readonly seq: number
  readonly ack: number
  readonly credit: number
  readonly message: number
  readonly offset: number
}

/**
 * Writes a DATA header into the first 48 bytes of `frame` (the payload follows
 * it in the same buffer, written by the chunker). Every header byte is written.
 */
export const writeData = (frame: Uint8Array, h: DataFields): void => {
  frame[0] = MAGIC_0
  frame[1] = MAGIC_1
  frame[2] = VERSION
  frame[3] = DATA
  putU32(frame, 4, h.source)
  putU32(frame, 8, h.incarnation)
  putU32(frame, 12, h.flags)
  putU32(frame, 16, h.seq)
  putU32(frame, 20, h.ack)
  putF64(frame, 24, h.credit)
  putU32(frame, 32, h.message)
  putU32(frame, 36, 0)
  putF64(frame, 40, h.offset)
}

/**
 * Rewrites the piggybacked acknowledgement and credit of a DATA frame, just
 * before it is published again: both are cumulative, so a newer value is
 * always correct.
 */
export const setAckCredit = (frame: Uint8Array, ack: number, credit: number): void => {
  putU32(frame, 20, ack)
  putF64(frame, 24, credit)
}

/** An ACK frame: cumulative acknowledgement and credit, with FLAG_RESEND when frames were lost. */
export const encodeAck = (source: number, incarnation: number, ack: number, credit: number, flags = 0): Uint8Array => {
  const b = new Uint8Array(ACK_BYTES)
  const v = view(b)
  writeCommon(v, ACK, flags, source, incarnation)
  v.setUint32(20, ack, true)
  v.setFloat64(24, credit, true)
  return b
}

/** A JOIN announcement. */
export const encodeJoin = (source: number, incarnation: number, size: number, seen: number, window: number, complete: boolean): Uint8Array => {
  const b = new Uint8Array(JOIN_BYTES)
  const v = view(b)
  writeCommon(v, JOIN, complete ? FLAG_COMPLETE : 0, source, incarnation)
  v.setUint32(16, size, true)
  v.setUint32(20, seen, true)
  v.setFloat64(24, window, true)
  return b
}

/** A HEARTBEAT or LEAVE frame. */
export const encodePresence = (type: typeof HEARTBEAT | typeof LEAVE, source: number, incarnation: number, size: number): Uint8Array => {
  const b = new Uint8Array(PRESENCE_BYTES)
  const v = view(b)
  writeCommon(v, type, 0, source, incarnation)
  v.setUint32(16, size, true)
  return b
}

const encoder = new TextEncoder()
const decoder = new TextDecoder("utf-8", { fatal: false })

/** A FAILED announcement: `rank` is declared failed, with why. */
export const encodeFailed = (source: number, incarnation: number, rank: number, reason: string): Uint8Array => {
  let text = encoder.encode(reason)
  if (text.length > MAX_REASON_BYTES) text = text.subarray(0, MAX_REASON_BYTES)
  const b = new Uint8Array(FAILED_HEADER_BYTES + text.length)
  const v = view(b)
  writeCommon(v, FAILED, 0, source, incarnation)
  v.setUint32(16, rank, true)
  v.setUint32(20, text.length, true)
  b.set(text, FAILED_HEADER_BYTES)
  return b
}

/** Checks the common prefix; returns the frame type or why the bytes are not a frame. */
export const checkCommon = (b: Uint8Array): number | string => {
  if (b.length < COMMON_BYTES) return `${b.length} bytes is too short for a frame (at least ${COMMON_BYTES})`
  if (b[0] !== MAGIC_0 || b[1] !== MAGIC_1) return "it does not start with the rankflow frame magic \"RF\""
  if (b[2] !== VERSION) return `frame version ${b[2]} is not supported (this rank speaks version ${VERSION})`
  const type = b[3]!
  if (type < DATA || type > FAILED) return `unknown frame type ${type}`
  if (b.length < MIN_BYTES[type]!) return `a ${typeName(type)} frame needs at least ${MIN_BYTES[type]} bytes, got ${b.length}`
  return type
}

const decodeData = (b: Uint8Array, type: number, flags: number, source: number, incarnation: number): Frame | string => {
  const offset = getF64(b, 40)
  const credit = getF64(b, 24)
  if (!Number.isSafeInteger(offset) || offset < 0) return `bad body offset ${offset}`
  if (!Number.isSafeInteger(credit) || credit < 0) return `bad credit ${credit}`
  return { kind: "data", type, flags, source, incarnation, seq: getU32(b, 16), ack: getU32(b, 20), credit, message: getU32(b, 32), offset }
}

/** Decodes a frame's header (DATA: without its payload, which starts at DATA_HEADER_BYTES). */
export const decode = (b: Uint8Array): Frame | string => {
  const type = checkCommon(b)
  if (typeof type === "string") return type
  const flags = getU32(b, 12)
  const source = getU32(b, 4)
  const incarnation = getU32(b, 8)
  if (incarnation === 0) return "incarnation 0 is reserved"
  if (type === DATA) return decodeData(b, type, flags, source, incarnation)
  const v = view(b)
  switch (type) {
    case ACK: {
      const credit = v.getFloat64(24, true)
      if (!Number.isSafeInteger(credit) || credit < 0) return `bad credit ${credit}`
      return { kind: "ack", type, flags, source, incarnation, ack: v.getUint32(20, true), credit }
    }
    case JOIN: {
      const window = v.getFloat64(24, true)
      if (!Number.isSafeInteger(window) || window <= 0) return `bad window ${window}`
      return { kind: "join", type, flags, source, incarnation, size: v.getUint32(16, true), seen: v.getUint32(20, true), window }
    }
    case HEARTBEAT:
    case LEAVE:
      return { kind: type === HEARTBEAT ? "heartbeat" : "leave", type, flags, source, incarnation, size: v.getUint32(16, true) }
    default: {
      const length = v.getUint32(20, true)
      if (length > MAX_REASON_BYTES || FAILED_HEADER_BYTES + length > b.length) return `bad reason length ${length}`
      const reason = decoder.decode(b.subarray(FAILED_HEADER_BYTES, FAILED_HEADER_BYTES + length))
      return { kind: "failed", type, flags, source, incarnation, rank: v.getUint32(16, true), reason }
    }
  }
}
