/**
 * HmacSha256 (transports/nats/HmacSha256.ts) gives OpenSSL's HMAC-SHA256:
 * RFC 4231's known answers, and any key, prefix and length against
 * `createHmac`; FrameAuth signs short frames with it and longer ones with
 * OpenSSL, and either verifies the other's tags.
 */
import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { createHmac } from "node:crypto"
import * as FrameAuth from "../../../transports/nats/FrameAuth.ts"
import { HmacSha256 } from "../../../transports/nats/HmacSha256.ts"

const u32le = (n: number) => Buffer.from(Uint32Array.of(n >>> 0).buffer)
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex")

/** The whole tag of `u32le(prefix) ‖ data` under `key`, by HmacSha256. */
const ours = (key: Uint8Array, prefix: number, data: Uint8Array, n = 32) => {
  const out = new Uint8Array(n)
  new HmacSha256(key).tag(prefix, data, data.length, out, 0, n)
  return out
}

describe("HmacSha256", () => {
  it("RFC 4231's test cases 1, 2, 4 and 7's truncation agree (messages split as a 4-byte prefix and the rest)", () => {
    const split = (message: Buffer) => [message.readUInt32LE(0), message.subarray(4)] as const
    const cases: Array<[Buffer, Buffer, string]> = [
      [Buffer.alloc(20, 0x0b), Buffer.from("Hi There"), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"],
      [Buffer.from("Jefe"), Buffer.from("what do ya want for nothing?"), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"],
      [Buffer.from(Array.from({ length: 25 }, (_, i) => i + 1)), Buffer.alloc(50, 0xcd), "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"]
    ]
    for (const [key, message, digest] of cases) {
      const [prefix, rest] = split(message)
      expect(hex(ours(key, prefix, rest))).toBe(digest)
    }
    // Test case 5: truncated to 128 bits.
    const [prefix, rest] = split(Buffer.from("Test With Truncation"))
    expect(hex(ours(Buffer.alloc(20, 0x0c), prefix, rest, 16))).toBe("a3b6167473100ee06e0c796c2955552b")
  })

  it("any key of 1 to 64 bytes, any prefix and 0 to 3,000 bytes give createHmac's tag, every block boundary included", () => {
    fc.assert(fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.uint8Array({ maxLength: 3000 }),
      (key, prefix, data) => hex(ours(key, prefix, data)) === createHmac("sha256", key).update(u32le(prefix)).update(data).digest("hex")
    ), { numRuns: 400 })
    const key = new Uint8Array(32).fill(9)
    for (let n = 0; n <= 300; n++) {
      const data = Uint8Array.from({ length: n }, (_, i) => (i * 7 + n) & 0xff)
      expect(hex(ours(key, n, data))).toBe(createHmac("sha256", key).update(u32le(n)).update(data).digest("hex"))
    }
  })

  it("writes the tag after the bytes it covers, in the same buffer, and refuses keys over 64 bytes", () => {
    const key = new Uint8Array(32).fill(3)
    const frame = Uint8Array.from({ length: 100 }, (_, i) => i)
    new HmacSha256(key).tag(7, frame, 84, frame, 84, 16)
    expect(hex(frame.subarray(84))).toBe(createHmac("sha256", key).update(u32le(7)).update(frame.subarray(0, 84)).digest("hex").slice(0, 32))
    expect(() => new HmacSha256(new Uint8Array(65))).toThrow(/at most 64 bytes/)
  })
})

describe("FrameAuth on both sides of SHORT_FRAME_BYTES", () => {
  it("frames just under, at and over the limit sign and verify, with the same tag OpenSSL gives", () => {
    const key = new Uint8Array(32).fill(5)
    const auth = FrameAuth.make(key, "heat")
    const macKey = createHmac("sha256", key).update("rankflow frames v2 heat").digest()
    for (const length of [0, 1, 63, 64, FrameAuth.SHORT_FRAME_BYTES - 1, FrameAuth.SHORT_FRAME_BYTES, FrameAuth.SHORT_FRAME_BYTES + 1, 4096]) {
      const frame = new Uint8Array(length + FrameAuth.TAG_BYTES).map((_, i) => i & 0xff)
      auth.sign(frame, 3)
      const tag = createHmac("sha256", macKey).update(u32le(3)).update(frame.subarray(0, length)).digest().subarray(0, FrameAuth.TAG_BYTES)
      expect(hex(frame.subarray(length))).toBe(hex(tag))
      expect(auth.verify(frame, 3)).toBe(true)
      expect(auth.verify(frame, 4)).toBe(false)
      frame[length]! ^= 1
      expect(auth.verify(frame, 3)).toBe(false)
    }
  })
})
