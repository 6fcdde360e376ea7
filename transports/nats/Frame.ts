/**
 * The frame header: every NATS message a rank publishes on a job subject is
 * one frame. Binary, little-endian, versioned; `docs/nats-protocol.md` gives
 * the same layout for clients in other languages.
 *
 * Common prefix (24 bytes):
 *   0 u8 'R' (0x52) | 1 u8 'F' (0x46) | 2 u8 version (2) | 3 u8 type
 *   4 u32 source rank | 8 u32 source incarnation (random, non-zero) | 12 u32 flags
 *   16 u32 run: the job run the frame belongs to (agreed at the rendezvous; in a
 *     JOIN, the run the sender proposes, 0 until it has seen every rank)
 *   20 u8 authentication: 0 none, 1 a 16-byte HMAC-SHA256 trailer (FrameAuth.ts) | 21-23 reserved
 *
 * Then by type:
 *   DATA (56 bytes + payload): 24 u32 seq | 28 u32 ack | 32 f64 credit |
 *     40 u32 message number | 44 u32 reserved | 48 f64 body offset | 56 payload
 *   ACK (40): 24 u32 reserved | 28 u32 ack | 32 f64 credit
 *   JOIN (56 + host + ranks): 24 u32 job size | 28 u32 ranks seen | 32 f64 window |
 *     40 u32 process id | 44 u8 host name length h | 45 u8 reserved | 46 u16 ranks spec length k |
 *     48 u32 launcher id (random, per launcher) | 52 u32 launcher's process id |
 *     56 host name (h bytes, UTF-8) | 56 + h: the ranks the launcher starts (k bytes, e.g. "0-3,6")
 *   HEARTBEAT, LEAVE (32): 24 u32 job size | 28 u32 reserved
 *   FAILED, CONFLICT (32 + reason): 24 u32 the rank concerned | 28 u32 reason length | 32 reason (UTF-8)
 *   BUNDLE (32 + entries): 24 u32 entry count n | 28 u32 reserved | then n entries, each
 *     u32 length L | u32 reserved | a DATA frame of L bytes without its trailer | zero padding to
 *     a multiple of 8. Several DATA frames to one rank, published as one NATS message (Outbox.ts);
 *     the bundle's own trailer authenticates every entry, and each entry is handled as if it had
 *     arrived alone, in order.
 *
 * A frame of a job with a key ends with its 16-byte authentication tag (the
 * trailer), which the lengths above do not count.
 *
 * Decoding never throws: a frame that does not parse gives a string saying why.
 */
import { getF64, getU32, putF64, putU32 } from "../littleEndian.ts"
import { align8 } from "../Slab.ts"

export const VERSION = 2
export const MAGIC_0 = 0x52
export const MAGIC_1 = 0x46

export const DATA = 1
export const ACK = 2
export const JOIN = 3
export const HEARTBEAT = 4
export const LEAVE = 5
export const FAILED = 6
/** Two processes claim one rank of the job: everyone still joining gives up (and a run whose member saw it stops). */
export const CONFLICT = 7
/** Several DATA frames to one rank in one NATS message. */
export const BUNDLE = 8

/** DATA flags: the frame starts a message (its payload begins with the message descriptor). */
export const FLAG_FIRST = 1
/** DATA flags: the frame ends a message. */
export const FLAG_LAST = 2
/** ACK flags: the receiver lost frames; resend everything after `ack`. */
export const FLAG_RESEND = 1
/** JOIN flags: the sender has seen every rank of the job join. */
export const FLAG_COMPLETE = 1

export const COMMON_BYTES = 24
export const DATA_HEADER_BYTES = 56
export const ACK_BYTES = 40
export const JOIN_HEADER_BYTES = 56
export const PRESENCE_BYTES = 32
export const FAILED_HEADER_BYTES = 32
export const BUNDLE_HEADER_BYTES = 32
/** Bytes before each frame of a bundle: its length and a reserved word. */
export const BUNDLE_ENTRY_BYTES = 8
/** Longest reason a FAILED or CONFLICT frame carries; longer ones are cut. */
export const MAX_REASON_BYTES = 1024
/** Longest host name a JOIN carries; longer ones are cut. */
export const MAX_HOST_BYTES = 255

/** The authentication byte (offset 20): no trailer. */
export const AUTH_NONE = 0
/** The authentication byte (offset 20): a 16-byte HMAC-SHA256 trailer. */
export const AUTH_HMAC = 1
export const AUTH_OFFSET = 20

const TYPE_NAMES = ["", "DATA", "ACK", "JOIN", "HEARTBEAT", "LEAVE", "FAILED", "CONFLICT", "BUNDLE"]
const MIN_BYTES = [
  0, DATA_HEADER_BYTES, ACK_BYTES, JOIN_HEADER_BYTES, PRESENCE_BYTES, PRESENCE_BYTES, FAILED_HEADER_BYTES, FAILED_HEADER_BYTES, BUNDLE_HEADER_BYTES
]

/** The name of a frame type, for messages. */
export const typeName = (type: number): string => TYPE_NAMES[type] ?? `#${type}`

/** The common prefix of a frame. */
export interface Common {
  readonly type: number
  readonly flags: number
  readonly source: number
  readonly incarnation: number
  readonly run: number
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

export interface JoinFrame extends Common, JoinFields {}

export interface PresenceFrame extends Common {
  readonly size: number
}

export interface FailedFrame extends Common {
  readonly rank: number
  readonly reason: string
}

export interface BundleFrame extends Common {
  /** The DATA frames it carries, in order (views of the bundle, without trailers). */
  readonly frames: ReadonlyArray<Uint8Array>
}

export type Frame =
  | ({ readonly kind: "data" } & DataHeader)
  | ({ readonly kind: "ack" } & AckFrame)
  | ({ readonly kind: "join" } & JoinFrame)
  | ({ readonly kind: "heartbeat" } & PresenceFrame)
  | ({ readonly kind: "leave" } & PresenceFrame)
  | ({ readonly kind: "failed" } & FailedFrame)
  | ({ readonly kind: "conflict" } & FailedFrame)
  | ({ readonly kind: "bundle" } & BundleFrame)

// The DATA header is written and read once per frame: byte stores and a scratch
// float, not a DataView per frame (transports/littleEndian.ts).
export { getF64, getU32, putF64, putU32 } from "../littleEndian.ts"

/** Who sends a frame, as every frame says it: rank, process incarnation, the run, and whether a trailer follows. */
export interface Sender {
  readonly source: number
  readonly incarnation: number
  readonly run: number
  /** Bytes of the authentication trailer each frame ends with (0 or `FrameAuth.TAG_BYTES`). */
  readonly trailer: number
}

const writeCommon = (b: Uint8Array, type: number, flags: number, s: Sender): void => {
  b[0] = MAGIC_0
  b[1] = MAGIC_1
  b[2] = VERSION
  b[3] = type
  putU32(b, 4, s.source)
  putU32(b, 8, s.incarnation)
  putU32(b, 12, flags)
  putU32(b, 16, s.run)
  b[20] = s.trailer === 0 ? AUTH_NONE : AUTH_HMAC
  b[21] = 0
  b[22] = 0
  b[23] = 0
}

/** The fields of a DATA header, as the sender fills them in. */
export interface DataFields extends Sender {
  readonly flags: number
  readonly seq: number
  readonly ack: number
  readonly credit: number
  readonly message: number
  readonly offset: number
}

/**
 * Writes a DATA header into the first 56 bytes of `frame` (the payload follows
 * it in the same buffer, written by the chunker). Every header byte is written.
 */
export const writeData = (frame: Uint8Array, h: DataFields): void => {
  writeCommon(frame, DATA, h.flags, h)
  putU32(frame, 24, h.seq)
  putU32(frame, 28, h.ack)
  putF64(frame, 32, h.credit)
  putU32(frame, 40, h.message)
  putU32(frame, 44, 0)
  putF64(frame, 48, h.offset)
}

/**
 * Rewrites the piggybacked acknowledgement and credit of a DATA frame, just
 * before it is published again: both are cumulative, so a newer value is
 * always correct.
 */
export const setAckCredit = (frame: Uint8Array, ack: number, credit: number): void => {
  putU32(frame, 28, ack)
  putF64(frame, 32, credit)
}

/** A frame of `length` bytes plus the sender's trailer, its common prefix written. */
const allocate = (type: number, flags: number, s: Sender, length: number): Uint8Array => {
  const b = new Uint8Array(length + s.trailer)
  writeCommon(b, type, flags, s)
  return b
}

/** An ACK frame: cumulative acknowledgement and credit, with FLAG_RESEND when frames were lost. */
export const encodeAck = (s: Sender, ack: number, credit: number, flags = 0): Uint8Array => {
  const b = allocate(ACK, flags, s, ACK_BYTES)
  putU32(b, 28, ack)
  putF64(b, 32, credit)
  return b
}

const encoder = new TextEncoder()
const decoder = new TextDecoder("utf-8", { fatal: false })

/** What a JOIN announces besides its sender. */
export interface JoinFields {
  readonly size: number
  readonly seen: number
  readonly window: number
  /** The sender's process id and host name, to name it in errors. */
  readonly pid: number
  readonly host: string
  /** The launcher that started the sender: its random id, its pid, and the ranks it starts (`--ranks`, compact, at most 65535 bytes). */
  readonly launcher: number
  readonly launcherPid: number
  readonly ranks: string
  /**
   * The context id of the world communicator in the job's first program run
   * (its collectives use the next id), so that a rank written in another
   * language learns it from the protocol; 0 when the sender does not say.
   */
  readonly worldContext: number
}

/**
 * A JOIN announcement. `complete` when the sender has seen every rank: then
 * `s.run` is the run it proposes (see Rendezvous.ts).
 */
export const encodeJoin = (s: Sender, j: JoinFields, complete: boolean): Uint8Array => {
  let host = encoder.encode(j.host)
  if (host.length > MAX_HOST_BYTES) host = host.subarray(0, MAX_HOST_BYTES)
  const ranks = encoder.encode(j.ranks)
  if (ranks.length > 0xffff) throw new RangeError(`a launcher's ranks spec of ${ranks.length} bytes is over 65535`)
  const b = allocate(JOIN, complete ? FLAG_COMPLETE : 0, s, JOIN_HEADER_BYTES + host.length + ranks.length + 4)
  putU32(b, 24, j.size)
  putU32(b, 28, j.seen)
  putF64(b, 32, j.window)
  putU32(b, 40, j.pid)
  b[44] = host.length
  b[46] = ranks.length
  b[47] = ranks.length >>> 8
  putU32(b, 48, j.launcher)
  putU32(b, 52, j.launcherPid)
  b.set(host, JOIN_HEADER_BYTES)
  b.set(ranks, JOIN_HEADER_BYTES + host.length)
  putU32(b, JOIN_HEADER_BYTES + host.length + ranks.length, j.worldContext)
  return b
}

/** A HEARTBEAT or LEAVE frame. */
export const encodePresence = (type: typeof HEARTBEAT | typeof LEAVE, s: Sender, size: number): Uint8Array => {
  const b = allocate(type, 0, s, PRESENCE_BYTES)
  putU32(b, 24, size)
  return b
}

/** A FAILED announcement (`rank` is declared failed) or a CONFLICT notice (`rank` is claimed twice), with why. */
export const encodeFailed = (s: Sender, rank: number, reason: string, type: typeof FAILED | typeof CONFLICT = FAILED): Uint8Array => {
  let text = encoder.encode(reason)
  if (text.length > MAX_REASON_BYTES) text = text.subarray(0, MAX_REASON_BYTES)
  const b = allocate(type, 0, s, FAILED_HEADER_BYTES + text.length)
  putU32(b, 24, rank)
  putU32(b, 28, text.length)
  b.set(text, FAILED_HEADER_BYTES)
  return b
}

/** Bytes a bundle entry takes for a frame of `length` bytes. */
export const bundleEntryBytes = (length: number): number => BUNDLE_ENTRY_BYTES + align8(length)

/**
 * A BUNDLE of `frames` (DATA frames each ending with `s.trailer` bytes of
 * room for a tag, which the bundle leaves out) in `bytes` bytes from
 * `bundleEntryBytes`, plus room for the bundle's own trailer.
 */
export const encodeBundle = (s: Sender, frames: ReadonlyArray<Uint8Array>, bytes: number): Uint8Array => {
  const b = allocate(BUNDLE, 0, s, BUNDLE_HEADER_BYTES + bytes)
  putU32(b, 24, frames.length)
  let at = BUNDLE_HEADER_BYTES
  for (const frame of frames) {
    const length = frame.length - s.trailer
    putU32(b, at, length)
    b.set(length === frame.length ? frame : frame.subarray(0, length), at + BUNDLE_ENTRY_BYTES)
    at += bundleEntryBytes(length)
  }
  return b
}

const decodeBundle = (b: Uint8Array, type: number, flags: number, source: number, incarnation: number, run: number): Frame | string => {
  const count = getU32(b, 24)
  const frames: Array<Uint8Array> = []
  let at = BUNDLE_HEADER_BYTES
  for (let i = 0; i < count; i++) {
    if (at + BUNDLE_ENTRY_BYTES > b.length) return `a bundle of ${count} frames ends after ${i}`
    const length = getU32(b, at)
    const end = at + BUNDLE_ENTRY_BYTES + length
    if (end > b.length) return `frame ${i} of a bundle (${length} bytes) runs ${end - b.length} bytes past its end`
    const frame = b.subarray(at + BUNDLE_ENTRY_BYTES, at + BUNDLE_ENTRY_BYTES + length)
    if (frame.length < COMMON_BYTES || frame[3] !== DATA) return `frame ${i} of a bundle is not a DATA frame`
    frames.push(frame)
    at += bundleEntryBytes(length)
  }
  if (at !== b.length) return `a bundle of ${count} frames has ${b.length - at} bytes beyond them`
  return { kind: "bundle", type, flags, source, incarnation, run, frames }
}

/** Checks the common prefix; returns the frame type or why the bytes are not a frame. */
export const checkCommon = (b: Uint8Array): number | string => {
  if (b.length < COMMON_BYTES) return `${b.length} bytes is too short for a frame (at least ${COMMON_BYTES})`
  if (b[0] !== MAGIC_0 || b[1] !== MAGIC_1) return "it does not start with the rankflow frame magic \"RF\""
  if (b[2] !== VERSION) return `frame version ${b[2]} is not supported (this rank speaks version ${VERSION})`
  const type = b[3]!
  if (type < DATA || type > BUNDLE) return `unknown frame type ${type}`
  if (b.length < MIN_BYTES[type]!) return `a ${typeName(type)} frame needs at least ${MIN_BYTES[type]} bytes, got ${b.length}`
  return type
}

const decodeData = (b: Uint8Array, type: number, flags: number, source: number, incarnation: number, run: number): Frame | string => {
  const offset = getF64(b, 48)
  const credit = getF64(b, 32)
  if (!Number.isSafeInteger(offset) || offset < 0) return `bad body offset ${offset}`
  if (!Number.isSafeInteger(credit) || credit < 0) return `bad credit ${credit}`
  return { kind: "data", type, flags, source, incarnation, run, seq: getU32(b, 24), ack: getU32(b, 28), credit, message: getU32(b, 40), offset }
}

/**
 * Decodes a frame's header (DATA: without its payload, which starts at
 * DATA_HEADER_BYTES). `b` is the frame without its trailer.
 */
export const decode = (b: Uint8Array): Frame | string => {
  const type = checkCommon(b)
  if (typeof type === "string") return type
  const flags = getU32(b, 12)
  const source = getU32(b, 4)
  const incarnation = getU32(b, 8)
  const run = getU32(b, 16)
  if (incarnation === 0) return "incarnation 0 is reserved"
  if (type === DATA) return decodeData(b, type, flags, source, incarnation, run)
  switch (type) {
    case ACK: {
      const credit = getF64(b, 32)
      if (!Number.isSafeInteger(credit) || credit < 0) return `bad credit ${credit}`
      return { kind: "ack", type, flags, source, incarnation, run, ack: getU32(b, 28), credit }
    }
    case JOIN: {
      const window = getF64(b, 32)
      if (!Number.isSafeInteger(window) || window <= 0) return `bad window ${window}`
      const hostLength = b[44]!
      const ranksLength = b[46]! | (b[47]! << 8)
      const end = JOIN_HEADER_BYTES + hostLength + ranksLength
      if (end > b.length) return `a JOIN with a ${hostLength}-byte host name and a ${ranksLength}-byte ranks spec needs ${end} bytes, got ${b.length}`
      const host = decoder.decode(b.subarray(JOIN_HEADER_BYTES, JOIN_HEADER_BYTES + hostLength))
      const ranks = decoder.decode(b.subarray(JOIN_HEADER_BYTES + hostLength, end))
      return {
        kind: "join", type, flags, source, incarnation, run, size: getU32(b, 24), seen: getU32(b, 28), window,
        pid: getU32(b, 40), host, launcher: getU32(b, 48), launcherPid: getU32(b, 52), ranks,
        worldContext: b.length >= end + 4 ? getU32(b, end) : 0
      }
    }
    case BUNDLE:
      return decodeBundle(b, type, flags, source, incarnation, run)
    case HEARTBEAT:
    case LEAVE:
      return { kind: type === HEARTBEAT ? "heartbeat" : "leave", type, flags, source, incarnation, run, size: getU32(b, 24) }
    default: {
      const length = getU32(b, 28)
      if (length > MAX_REASON_BYTES || FAILED_HEADER_BYTES + length > b.length) return `bad reason length ${length}`
      const reason = decoder.decode(b.subarray(FAILED_HEADER_BYTES, FAILED_HEADER_BYTES + length))
      return { kind: type === FAILED ? "failed" : "conflict", type, flags, source, incarnation, run, rank: getU32(b, 24), reason }
    }
  }
}
