/**
 * HMAC-SHA256 (RFC 2104 over FIPS 180-4's SHA-256) in JavaScript, for the
 * short frames a rank signs and verifies on every hop: ACKs, heartbeats and
 * small DATA frames.
 *
 * Why not `node:crypto`: a `createHmac` call costs ~2 µs when its code and
 * OpenSSL's tables are in the cache, but ~35 µs when they are not (measured
 * after evicting the caches, as a rank's wait for the next message does);
 * signing and verifying cost an 8-byte NATS ping-pong about 40 µs of its
 * ~170 µs half round trip. This code keeps the key's inner and outer states
 * (one compression each, done once), allocates nothing per tag, and touches
 * about 1 KiB of tables: ~1.5 µs for a 64-byte frame in cache, ~5 µs out of
 * it (1 KiB: 7 and 12 µs). Longer inputs go to OpenSSL (SHA extensions:
 * 1.5 GB/s), which `FrameAuth` decides by length.
 *
 * @example
 * ```ts
 * const mac = new HmacSha256(key)                 // key: at most 64 bytes
 * mac.tag(3, frame, frame.length - 16, frame, frame.length - 16, 16)   // the first 16 bytes of the tag, at the frame's end
 * ```
 */

/**
 * FIPS 180-4, 4.2.2: the first 32 bits of the fractional parts of the cube
 * roots of the first 64 primes. Words live in `Int32Array`s here (the same
 * bits): a `Uint32Array` element above 2^31 loads as a heap number, and the
 * arithmetic on it made a tag ~15 % slower (104 bytes: 1.24 against 1.05 µs).
 */
const K = Int32Array.of(
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
)

/** FIPS 180-4, 5.3.3: the initial hash value. */
const IV = Int32Array.of(0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19)

const BLOCK = 64

/** The message schedule, shared: compression never re-enters. */
const W = new Int32Array(64)

/** FIPS 180-4, 6.2.2: folds the 64-byte block at `b[at]` into the state `h`. */
const compress = (h: Int32Array, b: Uint8Array, at = 0): void => {
  for (let t = 0; t < 16; t++) {
    const i = at + 4 * t
    W[t] = (b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!
  }
  for (let t = 16; t < 64; t++) {
    const x = W[t - 15]!
    const y = W[t - 2]!
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)
    W[t] = (W[t - 16]! + s0 + W[t - 7]! + s1) | 0
  }
  let a = h[0]!, b1 = h[1]!, c = h[2]!, d = h[3]!, e = h[4]!, f = h[5]!, g = h[6]!, k = h[7]!
  for (let t = 0; t < 64; t++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))
    const t1 = (k + s1 + ((e & f) ^ (~e & g)) + K[t]! + W[t]!) | 0
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))
    const t2 = (s0 + ((a & b1) ^ (a & c) ^ (b1 & c))) | 0
    k = g
    g = f
    f = e
    e = (d + t1) | 0
    d = c
    c = b1
    b1 = a
    a = (t1 + t2) | 0
  }
  h[0] = (h[0]! + a) | 0
  h[1] = (h[1]! + b1) | 0
  h[2] = (h[2]! + c) | 0
  h[3] = (h[3]! + d) | 0
  h[4] = (h[4]! + e) | 0
  h[5] = (h[5]! + f) | 0
  h[6] = (h[6]! + g) | 0
  h[7] = (h[7]! + k) | 0
}

/** Writes `h` big-endian into `out` from `at`, at most `n` bytes. */
const writeState = (h: Int32Array, out: Uint8Array, at: number, n: number): void => {
  for (let i = 0; i < n; i++) out[at + i] = (h[i >> 2]! >>> (24 - 8 * (i & 3))) & 0xff
}

/**
 * HMAC-SHA256 under one key, for messages made of a 4-byte little-endian
 * number followed by bytes (a frame's destination and the frame).
 *
 * @example
 * ```ts
 * const mac = new HmacSha256(new Uint8Array(32).fill(7))
 * const tag = new Uint8Array(32)
 * mac.tag(0xffffffff, frame, frame.length, tag, 0, 32)   // = createHmac("sha256", key).update(u32le(0xffffffff)).update(frame).digest()
 * ```
 */
export class HmacSha256 {
  /** The states after the key's inner and outer pad blocks. */
  private readonly inner = new Int32Array(8)
  private readonly outer = new Int32Array(8)
  private readonly h = new Int32Array(8)
  private readonly block = new Uint8Array(BLOCK)

  /** `key`: at most 64 bytes (RFC 2104 hashes longer keys first; nothing here needs them). */
  constructor(key: Uint8Array) {
    if (key.length > BLOCK) throw new RangeError(`HmacSha256 takes keys of at most ${BLOCK} bytes, got ${key.length}`)
    const pad = new Uint8Array(BLOCK)
    for (const [state, byte] of [[this.inner, 0x36], [this.outer, 0x5c]] as const) {
      for (let i = 0; i < BLOCK; i++) pad[i] = (key[i] ?? 0) ^ byte
      state.set(IV)
      compress(state, pad)
    }
    pad.fill(0)
  }

  /**
   * Writes the first `n` (at most 32) bytes of HMAC(key, u32le(prefix) ‖
   * data[0, length)) into `out` from `at` (which may be the end of `data`
   * itself, past `length`).
   */
  tag(prefix: number, data: Uint8Array, length: number, out: Uint8Array, at: number, n: number): void {
    const h = this.h
    const block = this.block
    h.set(this.inner)
    block[0] = prefix & 0xff
    block[1] = (prefix >>> 8) & 0xff
    block[2] = (prefix >>> 16) & 0xff
    block[3] = (prefix >>> 24) & 0xff
    // The first block: the prefix and up to 60 bytes; then whole blocks straight from `data`; the rest copied.
    const head = Math.min(length, BLOCK - 4)
    for (let i = 0; i < head; i++) block[4 + i] = data[i]!
    let fill = 4 + head
    let i = head
    if (fill === BLOCK) {
      compress(h, block)
      fill = 0
      for (; i + BLOCK <= length; i += BLOCK) compress(h, data, i)
      for (; i < length; i++) block[fill++] = data[i]!
    }
    // Padding: 0x80, zeros, then the bit length of the pad block and the message (FIPS 180-4, 5.1.1).
    block[fill++] = 0x80
    if (fill > BLOCK - 8) {
      block.fill(0, fill, BLOCK)
      compress(h, block)
      fill = 0
    }
    block.fill(0, fill, BLOCK - 8)
    putBitLength(block, (BLOCK + 4 + length) * 8)
    compress(h, block)
    // The outer hash: the outer pad's state, then the inner digest as one padded block.
    writeState(h, block, 0, 32)
    block[32] = 0x80
    block.fill(0, 33, BLOCK - 8)
    putBitLength(block, (BLOCK + 32) * 8)
    h.set(this.outer)
    compress(h, block)
    writeState(h, out, at, Math.min(n, 32))
  }
}

/** The last 8 bytes of a final block: the message's length in bits, big-endian. */
const putBitLength = (block: Uint8Array, bits: number): void => {
  const high = Math.floor(bits / 2 ** 32)
  for (let i = 0; i < 4; i++) {
    block[BLOCK - 8 + i] = (high >>> (24 - 8 * i)) & 0xff
    block[BLOCK - 4 + i] = (bits >>> (24 - 8 * i)) & 0xff
  }
}
