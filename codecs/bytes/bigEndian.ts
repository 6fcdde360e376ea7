/**
 * Big-endian floats read straight from a byte array, for the decoders of the
 * standard codecs (CBOR and MessagePack are big-endian). Copying the bytes
 * into a scratch float costs less than making or checking a `DataView` per
 * message.
 */
const f64 = new Float64Array(1)
const f32 = new Float32Array(1)
const f64Bytes = new Uint8Array(f64.buffer)
const f32Bytes = new Uint8Array(f32.buffer)
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/** The big-endian float64 at `b[pos, pos + 8)`. */
export const float64 = (b: Uint8Array, pos: number): number => {
  if (littleEndian) for (let i = 0; i < 8; i++) f64Bytes[7 - i] = b[pos + i]!
  else for (let i = 0; i < 8; i++) f64Bytes[i] = b[pos + i]!
  return f64[0]!
}

/** The big-endian float32 at `b[pos, pos + 4)`. */
export const float32 = (b: Uint8Array, pos: number): number => {
  if (littleEndian) for (let i = 0; i < 4; i++) f32Bytes[3 - i] = b[pos + i]!
  else for (let i = 0; i < 4; i++) f32Bytes[i] = b[pos + i]!
  return f32[0]!
}
