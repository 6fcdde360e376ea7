/**
 * Decoding helpers for short strings: an ASCII fast path that builds a
 * string with one `String.fromCharCode` call (twice as fast as concatenating
 * characters, measured on 5–8 byte keys and names), and a small cache from
 * byte strings to decoded things, kept across messages so that repeated keys
 * and shape definitions come back as the same (internalized) strings.
 */

const fromCharCode = String.fromCharCode

/**
 * A small direct-mapped cache from byte strings to decoded things (shape
 * definitions, key strings), kept across messages. Bounded: 1024 slots of
 * at most 1 KiB each.
 */
export class BytesCache<T> {
  /** Slots of every cache: after this many new entries, all of a cache's entries may have been replaced. */
  static readonly SLOTS = 1024
  private readonly bytes: Array<Uint8Array | undefined> = new Array(BytesCache.SLOTS).fill(undefined)
  private readonly values: Array<T | undefined> = new Array(BytesCache.SLOTS).fill(undefined)
  private slot = 0

  /** The value cached for `buf[start..end)`, if any; remembers the slot for a following `set`. */
  get(buf: Uint8Array, start: number, end: number): T | undefined {
    let h = 0x811c9dc5 ^ (end - start)
    for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 16777619)
    const slot = (h ^ (h >>> 15)) & (BytesCache.SLOTS - 1)
    this.slot = slot
    const cached = this.bytes[slot]
    if (cached === undefined || cached.length !== end - start) return undefined
    for (let i = 0, j = start; j < end; i++, j++) if (cached[i] !== buf[j]) return undefined
    return this.values[slot]
  }

  /** Stores `value` for the bytes of the last `get` (which missed). */
  set(buf: Uint8Array, start: number, end: number, value: T): void {
    if (end - start > 1024) return
    this.bytes[this.slot] = buf.slice(start, end)
    this.values[this.slot] = value
  }
}

/** 1..8 ASCII bytes as a string in one call, or undefined when a byte is not ASCII. */
export const shortAscii = (b: Uint8Array, s: number, n: number): string | undefined => {
  switch (n) {
    case 0:
      return ""
    case 1: {
      const a = b[s]!
      return a < 0x80 ? fromCharCode(a) : undefined
    }
    case 2: {
      const a = b[s]!, c = b[s + 1]!
      return (a | c) < 0x80 ? fromCharCode(a, c) : undefined
    }
    case 3: {
      const a = b[s]!, c = b[s + 1]!, d = b[s + 2]!
      return (a | c | d) < 0x80 ? fromCharCode(a, c, d) : undefined
    }
    case 4: {
      const a = b[s]!, c = b[s + 1]!, d = b[s + 2]!, e = b[s + 3]!
      return (a | c | d | e) < 0x80 ? fromCharCode(a, c, d, e) : undefined
    }
    case 5: {
      const a = b[s]!, c = b[s + 1]!, d = b[s + 2]!, e = b[s + 3]!, f = b[s + 4]!
      return (a | c | d | e | f) < 0x80 ? fromCharCode(a, c, d, e, f) : undefined
    }
    case 6: {
      const a = b[s]!, c = b[s + 1]!, d = b[s + 2]!, e = b[s + 3]!, f = b[s + 4]!, g = b[s + 5]!
      return (a | c | d | e | f | g) < 0x80 ? fromCharCode(a, c, d, e, f, g) : undefined
    }
    case 7: {
      const a = b[s]!, c = b[s + 1]!, d = b[s + 2]!, e = b[s + 3]!, f = b[s + 4]!, g = b[s + 5]!, h = b[s + 6]!
      return (a | c | d | e | f | g | h) < 0x80 ? fromCharCode(a, c, d, e, f, g, h) : undefined
    }
    default: {
      const a = b[s]!, c = b[s + 1]!, d = b[s + 2]!, e = b[s + 3]!, f = b[s + 4]!, g = b[s + 5]!, h = b[s + 6]!, k = b[s + 7]!
      return (a | c | d | e | f | g | h | k) < 0x80 ? fromCharCode(a, c, d, e, f, g, h, k) : undefined
    }
  }
}

/** Up to 23 more ASCII bytes, eight at a time. */
export const mediumAscii = (b: Uint8Array, s: number, n: number): string | undefined => {
  let out = ""
  while (n > 0) {
    const m = n < 8 ? n : 8
    const part = shortAscii(b, s, m)
    if (part === undefined) return undefined
    out += part
    s += m
    n -= m
  }
  return out
}
