/**
 * Little-endian integers and floats stored into and read from a byte array,
 * for the wire formats of the transports and the boards' streams: byte
 * stores and a scratch float instead of a `DataView` per message (making
 * one showed up at ~0.5 µs in profiles of small messages).
 *
 * @example
 * ```ts
 * const b = new Uint8Array(12)
 * putU32(b, 0, 7)
 * putF64(b, 4, 2.5)
 * getU32(b, 0) // 7
 * getF64(b, 4) // 2.5
 * ```
 */
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
