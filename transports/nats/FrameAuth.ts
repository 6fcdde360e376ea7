/**
 * Frame authentication: with a per-job key, every frame a rank publishes ends
 * with a 16-byte tag, HMAC-SHA256 (truncated, RFC 2104 / RFC 4868 style) over
 * the frame's destination and bytes, and a rank drops any frame whose tag
 * does not verify. Only holders of the key can then speak for a rank of the
 * job: a client of the same server that forges a DATA frame, a FAILED notice
 * or a JOIN is ignored (and counted), whatever subject it publishes on.
 *
 * - The tag covers the destination (the rank of a `to.<rank>` subject, or
 *   `ALL` for the job subject), so a genuine frame replayed to another rank
 *   does not verify; it covers the run id in the frame's prefix, so a frame of
 *   an earlier run of the job does not either; replays within a run are
 *   dropped by the sequence numbers (DATA) or change nothing (cumulative ACKs,
 *   repeated notices).
 * - The key is never used directly: the MAC key is HMAC(key, "rankflow frames
 *   v2 " + job id), so one key file may serve several jobs without frames of
 *   one verifying in another.
 * - The tag authenticates; it does not hide anything. Confidentiality comes
 *   from the server: TLS, and permissions that let only the job's user
 *   subscribe to its subjects (docs/cluster.md, "Security").
 *
 * @example
 * ```ts
 * const auth = FrameAuth.make(key, "heat-42")
 * auth.sign(frame, 3)              // frame's last 16 bytes: its tag for rank 3
 * auth.verify(frame, 3)            // true
 * ```
 */
import { createHmac, createSecretKey, type KeyObject, randomBytes } from "node:crypto"
import { readFileSync } from "node:fs"
import { HmacSha256 } from "./HmacSha256.ts"

/**
 * Bytes of the tag that ends an authenticated frame.
 *
 * @example
 * ```ts
 * frame.length - FrameAuth.TAG_BYTES   // where a signed frame's tag starts
 * ```
 */
export const TAG_BYTES = 16
/**
 * The destination of a frame on the job subject.
 *
 * @example
 * ```ts
 * auth.sign(frame, FrameAuth.ALL)   // a frame for the job subject, every rank
 * ```
 */
export const ALL = 0xffffffff
/**
 * Keys shorter than this are refused (128 bits).
 *
 * @example
 * ```ts
 * FrameAuth.make(new Uint8Array(8), "job")   // throws: at least FrameAuth.MIN_KEY_BYTES (16) bytes
 * ```
 */
export const MIN_KEY_BYTES = 16

/**
 * The signer and verifier of a job's frames.
 *
 * @example
 * ```ts
 * const auth: FrameAuth.FrameAuth = FrameAuth.make(key, "heat-42")
 * auth.sign(frame, 3)
 * auth.verify(frame, 3)   // true
 * ```
 */
export interface FrameAuth {
  /** Writes the tag of `frame` (whose last TAG_BYTES bytes are for it) published towards `dest`. */
  readonly sign: (frame: Uint8Array, dest: number) => void
  /** Whether the tag at the end of `frame` is right for `dest`. */
  readonly verify: (frame: Uint8Array, dest: number) => boolean
}

const destination = Buffer.alloc(4)
const expected = Buffer.alloc(TAG_BYTES)

/**
 * Frames up to this many bytes (before their tag) are signed and verified by
 * `HmacSha256` in JavaScript, longer ones by OpenSSL: the same tag either way.
 * In cache OpenSSL is faster from ~256 bytes on (1 KiB: 2.9 against 6.9 µs),
 * but a rank that waited for its next message wakes with cold caches, where
 * OpenSSL's call costs ~30 µs whatever the size and JavaScript 5–12 µs up to
 * 1 KiB (HmacSha256.ts): a 512-byte ping-pong's half round trip was ~45 µs
 * longer with OpenSSL tagging its frames.
 *
 * @example
 * ```ts
 * frame.length - FrameAuth.TAG_BYTES <= FrameAuth.SHORT_FRAME_BYTES   // tagged in JavaScript
 * ```
 */
export const SHORT_FRAME_BYTES = 1024

const tagOf = (key: KeyObject, frame: Uint8Array, dest: number): Buffer => {
  destination.writeUInt32LE(dest >>> 0, 0)
  return createHmac("sha256", key).update(destination).update(frame.subarray(0, frame.length - TAG_BYTES)).digest()
}

/**
 * The signer and verifier of `job`'s frames under `key` (at least MIN_KEY_BYTES bytes).
 *
 * @example
 * ```ts
 * const auth = FrameAuth.make(FrameAuth.freshKey(), "heat-42")
 * ```
 */
export const make = (key: Uint8Array, job: string): FrameAuth => {
  if (key.length < MIN_KEY_BYTES) throw new RangeError(`a job key needs at least ${MIN_KEY_BYTES} bytes, got ${key.length}`)
  const macBytes = createHmac("sha256", key).update(`rankflow frames v2 ${job}`).digest()
  const macKey = createSecretKey(macBytes)
  const short = new HmacSha256(macBytes)
  macBytes.fill(0)
  return {
    sign: (frame, dest) => {
      const length = frame.length - TAG_BYTES
      if (length <= SHORT_FRAME_BYTES) return short.tag(dest >>> 0, frame, length, frame, length, TAG_BYTES)
      const tag = tagOf(macKey, frame, dest)
      frame.set(tag.subarray(0, TAG_BYTES), length)
    },
    verify: (frame, dest) => {
      const length = frame.length - TAG_BYTES
      if (length < 0) return false
      if (length <= SHORT_FRAME_BYTES) short.tag(dest >>> 0, frame, length, expected, 0, TAG_BYTES)
      else tagOf(macKey, frame, dest).copy(expected, 0, 0, TAG_BYTES)
      // Constant time: every byte is compared whatever the first difference.
      let difference = 0
      for (let i = 0; i < TAG_BYTES; i++) difference |= expected[i]! ^ frame[length + i]!
      return difference === 0
    }
  }
}

/**
 * A fresh random key (32 bytes), for a job whose ranks one launcher starts.
 *
 * @example
 * ```ts
 * const key = FrameAuth.freshKey()   // 32 random bytes
 * ```
 */
export const freshKey = (): Uint8Array => new Uint8Array(randomBytes(32))

/**
 * The key in a key file: its bytes, without one trailing newline (so that
 * `openssl rand -hex 32 > job.key` and `head -c 32 /dev/urandom > job.key`
 * both work). A string says why the file cannot serve.
 *
 * @example
 * ```ts
 * const key = FrameAuth.readKeyFile("heat-42.key")
 * if (typeof key === "string") throw new Error(key)   // why the file cannot serve
 * ```
 */
export const readKeyFile = (path: string): Uint8Array | string => {
  let bytes: Buffer
  try {
    bytes = readFileSync(path)
  } catch (e) {
    return `--job-key-file ${path}: ${e instanceof Error ? e.message : String(e)}`
  }
  let end = bytes.length
  if (end > 0 && bytes[end - 1] === 0x0a) end--
  if (end > 0 && bytes[end - 1] === 0x0d) end--
  if (end < MIN_KEY_BYTES) {
    return `--job-key-file ${path}: the key has ${end} bytes, at least ${MIN_KEY_BYTES} are needed (make one with: openssl rand -hex 32 > ${path})`
  }
  return new Uint8Array(bytes.subarray(0, end))
}
