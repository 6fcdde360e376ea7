/**
 * What a decoder may allocate: the budget every codec decoder charges as it
 * builds a value, so that no input — malformed or valid — makes a decoder
 * allocate far more than its own length.
 *
 * Two rules hold in every decoder:
 * - Structure: slots are reserved up front only while the items that all
 *   arrays and maps declared together fit in the input (each item takes at
 *   least one byte), so nesting can never multiply what a claimed length
 *   allocates; beyond that, slots are allocated as items arrive.
 * - Size: each object a decoder builds is charged its heap size as measured
 *   on V8 (the `Cost` table below: an empty Map 184 bytes, an array 32 bytes
 *   plus 8 per slot, a string 24 bytes plus its length, …). A message may
 *   decode to at most `maxDecodedBytes` plus twice its own length, so a large
 *   string or typed array always decodes (its bytes justify it) while a
 *   message that multiplies its size (ten million empty maps in 10 MiB) is a
 *   `DecodeError` naming the limit, raised before the memory is taken.
 *
 * @example
 * ```ts
 * import { pickle } from "rankflow/codecs"
 *
 * const frames = pickle.encodeSync(Array.from({ length: 100_000 }, () => new Map()))
 * pickle.decodeSync(frames, { maxDecodedBytes: 1024 * 1024 })   // DecodeError: … more than maxDecodedBytes …
 * ```
 */
import { DecodeError } from "./errors.ts"

/**
 * Options every codec's `decode` takes.
 *
 * @example
 * ```ts
 * pickle.decodeSync(frames, { maxDecodedBytes: 16 * 1024 * 1024 })   // a DecodeError past 16 MiB of objects
 * ```
 */
export interface DecodeOptions {
  /**
   * The most memory, in bytes, a message may decode to beyond twice its own
   * length (estimated from V8's object sizes as the value is built). Default
   * `DEFAULT_MAX_DECODED_BYTES`.
   */
  readonly maxDecodedBytes?: number | undefined
}

/** 256 MiB: a few million objects in one message. */
export const DEFAULT_MAX_DECODED_BYTES = 256 * 1024 * 1024

/**
 * Heap bytes of what decoders build, measured on Node 24 (V8 13, 64-bit,
 * no pointer compression) by allocating a million of each.
 */
export const Cost = {
  /** A plain object (its in-object property slots included). */
  object: 56,
  /** Each property of an object. */
  property: 8,
  /** An object in dictionary mode (a null prototype, many keys): its table. */
  dictionary: 184,
  /** Each entry of a dictionary-mode object. */
  dictionaryEntry: 24,
  array: 32,
  /** Each slot of an array. */
  slot: 8,
  map: 184,
  mapEntry: 24,
  set: 152,
  setEntry: 16,
  /** A string: its header; its length in bytes is added. */
  string: 24,
  bigint: 32,
  date: 96,
  regexp: 56,
  error: 384,
  arrayBuffer: 96,
  /** A typed array or DataView object (its bytes are charged where they are copied). */
  view: 200,
  /** A boxed primitive or another small wrapper. */
  box: 32
} as const

/** Validates `maxDecodedBytes`; returns a message when it is not usable. */
export const checkLimit = (maxDecodedBytes: unknown): string | undefined =>
  maxDecodedBytes === undefined || (typeof maxDecodedBytes === "number" && maxDecodedBytes >= 0 && Number.isFinite(maxDecodedBytes))
    ? undefined
    : `maxDecodedBytes must be a non-negative number of bytes, got ${String(maxDecodedBytes)}`

/** How many bytes a message of `inputBytes` may decode to under `options`. */
export const allowance = (inputBytes: number, options: DecodeOptions | undefined): number =>
  (options?.maxDecodedBytes ?? DEFAULT_MAX_DECODED_BYTES) + 2 * inputBytes

const MiB = 1024 * 1024
const size = (bytes: number): string => (bytes >= MiB ? `${(bytes / MiB).toFixed(bytes >= 10 * MiB ? 0 : 1)} MiB` : `${bytes} bytes`)

/** The error of a message that would decode to more than its allowance. */
export const overLimit = (codec: string, offset: number, inputBytes: number, options: DecodeOptions | undefined): DecodeError => {
  const limit = options?.maxDecodedBytes ?? DEFAULT_MAX_DECODED_BYTES
  return new DecodeError({
    codec,
    offset,
    message: `${codec}: a ${size(inputBytes)} message would decode to more than maxDecodedBytes (${size(limit)}) plus twice its size; ` +
      `decoding stopped at byte ${offset}. If the sender is trusted and the value is meant to be this large, raise the limit ` +
      `(comm.dup({ maxDecodedBytes }), or rankflow run --max-decoded-bytes), or send it in parts`
  })
}
