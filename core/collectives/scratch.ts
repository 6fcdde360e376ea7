/**
 * Reusable private buffers for the temporary arrays of collectives (a
 * partner's contribution, received and combined, then no longer needed).
 *
 * Why: a fresh large typed array costs page faults on first touch and
 * garbage collection later, and receiving into private memory of one's own
 * was measured faster on shm than taking the transport's shared-arena views
 * (1 MiB exchanges: ~1.2–2.2 ms into a reused array, ~1.9–4.7 ms into fresh
 * ones, ~1.1–4 ms as arena views, on a busy 2-core VM). Buffers are kept
 * per power-of-two size, a few of each, up to `MAX_POOLED_BYTES` in all.
 * Each rank (thread or process) has its own pool.
 */
import type { Datatype, TypedArray } from "../../codecs/Datatype.ts"

/** Arrays smaller than this are allocated plainly: cheap, and not worth pooling. */
const MIN_POOLED_BYTES = 4096
const MAX_POOLED_BYTES = 64 * 1024 * 1024
const PER_SIZE = 4

const pools = new Map<number, Array<ArrayBuffer>>()
let pooledBytes = 0

const sizeClass = (bytes: number): number => 2 ** Math.ceil(Math.log2(bytes))

/** A private array of `length` elements of `datatype`, with unspecified contents; give it back when done. */
export const borrow = (datatype: Datatype, length: number): TypedArray => {
  const bytes = length * datatype.size
  if (bytes < MIN_POOLED_BYTES) return new datatype.ctor(length)
  const size = sizeClass(bytes)
  const buffer = pools.get(size)?.pop()
  if (buffer === undefined) return new datatype.ctor(new ArrayBuffer(size), 0, length)
  pooledBytes -= size
  return new datatype.ctor(buffer, 0, length)
}

/** Returns an array from `borrow` (anything else is ignored) once nothing uses it any more. */
export const giveBack = (array: TypedArray): void => {
  const buffer = array.buffer
  if (!(buffer instanceof ArrayBuffer) || buffer.byteLength < MIN_POOLED_BYTES || buffer.byteLength !== sizeClass(buffer.byteLength)) return
  const size = buffer.byteLength
  let pool = pools.get(size)
  if (pool === undefined) pools.set(size, (pool = []))
  if (pool.length >= PER_SIZE || pooledBytes + size > MAX_POOLED_BYTES || pool.includes(buffer)) return
  pool.push(buffer)
  pooledBytes += size
}
