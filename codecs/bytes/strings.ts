/**
 * String decoding for the decoders (marshal, cbor, msgpack), tuned for short strings.
 *
 * Measured on 3–9 byte ASCII strings: one `String.fromCharCode(a, b, c, …)`
 * call of fixed arity takes ~22 ns, concatenating characters ~45–65 ns, and a
 * `TextDecoder` call ~110–135 ns; so ASCII strings up to 64 bytes are built
 * from fixed-arity calls of up to 16 characters (msgpackr's trick), and only
 * longer or non-ASCII strings pay for a decoder.
 */
import { decodeWtf8, wtf8Decode } from "./Reader.ts"

const fromCharCode = String.fromCharCode

/** Decodes WTF-8 bytes `buf[pos, pos + n)`; malformed sequences become U+FFFD. */
export const decodeString = (buf: Uint8Array, pos: number, n: number): string => {
  if (n <= 64) {
    let bits = 0
    for (let i = pos; i < pos + n; i++) bits |= buf[i]!
    if (bits < 0x80) {
      let s = ""
      while (n > 16) {
        s += ascii(buf, pos, 16)
        pos += 16
        n -= 16
      }
      return s + ascii(buf, pos, n)
    }
    return wtf8Decode(buf.subarray(pos, pos + n))
  }
  return decodeWtf8(buf.subarray(pos, pos + n))
}

/** `n` (at most 16) ASCII bytes as a string, in one call. */
const ascii = (b: Uint8Array, p: number, n: number): string => {
  switch (n) {
    case 0:
      return ""
    case 1:
      return fromCharCode(b[p]!)
    case 2:
      return fromCharCode(b[p]!, b[p + 1]!)
    case 3:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!)
    case 4:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!)
    case 5:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!)
    case 6:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!)
    case 7:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!)
    case 8:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!)
    case 9:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[p + 8]!)
    case 10:
      return fromCharCode(
        b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[p + 8]!, b[p + 9]!
      )
    case 11:
      return fromCharCode(
        b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[p + 8]!, b[p + 9]!,
        b[p + 10]!
      )
    case 12:
      return fromCharCode(
        b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[p + 8]!, b[p + 9]!,
        b[p + 10]!, b[p + 11]!
      )
    case 13:
      return fromCharCode(
        b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[p + 8]!, b[p + 9]!,
        b[p + 10]!, b[p + 11]!, b[p + 12]!
      )
    case 14:
      return fromCharCode(
        b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[p + 8]!, b[p + 9]!,
        b[p + 10]!, b[p + 11]!, b[p + 12]!, b[p + 13]!
      )
    case 15:
      return fromCharCode(
        b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[p + 8]!, b[p + 9]!,
        b[p + 10]!, b[p + 11]!, b[p + 12]!, b[p + 13]!, b[p + 14]!
      )
    default:
      return fromCharCode(
        b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[p + 8]!, b[p + 9]!,
        b[p + 10]!, b[p + 11]!, b[p + 12]!, b[p + 13]!, b[p + 14]!, b[p + 15]!
      )
  }
}
