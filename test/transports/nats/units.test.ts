/**
 * The NATS transport's protocol pieces, without a server: frames, chunking
 * and reassembly, sequence numbers and acknowledgements, credits, liveness,
 * the rendezvous, and the options.
 */
import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { TransportError } from "../../../transports/Transport.ts"
import { layoutOf, OutgoingMessage, readDescriptor, Reassembly, singleFrameLength, writeSingleFrame } from "../../../transports/nats/Chunking.ts"
import { connectionOptions, describeConnectError, serversFor } from "../../../transports/nats/Connection.ts"
import { ReceiveCredit, SendCredit } from "../../../transports/nats/Credits.ts"
import * as Frame from "../../../transports/nats/Frame.ts"
import { checkSettings, Liveness, Pacer } from "../../../transports/nats/Heartbeats.ts"
import { FramePool } from "../../../transports/nats/Memory.ts"
import { MAX_BUNDLE, MAX_BUNDLED_FRAME, Outbox } from "../../../transports/nats/Outbox.ts"
import { align8, Slab } from "../../../transports/Slab.ts"
import { Effect } from "effect"
import { layer, Nats, optionsFromFlags } from "../../../transports/nats/Nats.ts"
import { DEFAULT_POLL_MICROS, defaultWindow, type NatsConfig, resolve } from "../../../transports/nats/Options.ts"
import { DUPLICATE, GAP, NEXT, nextSeq, ReceiveSequence, SendWindow, seqDiff } from "../../../transports/nats/Reliability.ts"
import { formatRanks, parseRanks, Rendezvous, runOf } from "../../../transports/nats/Rendezvous.ts"
import * as Subjects from "../../../transports/nats/Subjects.ts"
import * as FrameAuth from "../../../transports/nats/FrameAuth.ts"
import { mkdtempSync, writeFileSync } from "node:fs"
import { availableParallelism, tmpdir } from "node:os"
import { join as joinPath } from "node:path"

const fields = { source: 3, incarnation: 77, run: 0xabc, trailer: 0, seq: 9, ack: 4, credit: 123_456_789_012, message: 5 }
const sender = (source: number, incarnation: number, run = 0, trailer = 0) => ({ source, incarnation, run, trailer })

/** Splits a message into frames of at most `maxFrame` bytes. */
const framesOf = (packet: { envelope: Uint8Array; frames: { header: Uint8Array; buffers: Array<Uint8Array> } }, maxFrame: number) => {
  const m = new OutgoingMessage(packet, 5, () => {})
  const out: Array<Uint8Array> = []
  while (!m.finished) out.push(m.nextFrame(maxFrame, fields, (n) => new Uint8Array(n).fill(0xee)))
  return out
}

/** Reassembles frames (in the given order) into frames as a receiver would. */
const reassemble = (frames: ReadonlyArray<Uint8Array>) => {
  let reassembly: Reassembly | undefined
  let envelope: Uint8Array | undefined
  const pending: Array<[number, Uint8Array]> = []
  for (const frame of frames) {
    const h = Frame.decode(frame)
    if (typeof h === "string" || h.kind !== "data") throw new Error(`not a DATA frame: ${JSON.stringify(h)}`)
    let body = frame.subarray(Frame.DATA_HEADER_BYTES)
    if (h.flags & Frame.FLAG_FIRST) {
      const d = readDescriptor(body, 1 << 30)
      if (typeof d === "string") throw new Error(d)
      envelope = d.envelope
      reassembly = new Reassembly(d.layout)
      body = body.subarray(d.length)
    }
    if (reassembly === undefined) pending.push([h.offset, body])
    else expect(reassembly.write(h.offset, body)).toBeUndefined()
  }
  for (const [offset, body] of pending) expect(reassembly!.write(offset, body)).toBeUndefined()
  return { reassembly: reassembly!, envelope: envelope! }
}

const pattern = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (seed + i * 7) & 255)

describe("frames", () => {
  it("a DATA header round-trips every field", () => {
    const frame = new Uint8Array(Frame.DATA_HEADER_BYTES + 3).fill(0xaa)
    Frame.writeData(frame, { ...fields, flags: Frame.FLAG_FIRST | Frame.FLAG_LAST, offset: 2 ** 40 })
    expect(Frame.decode(frame)).toEqual({
      kind: "data", type: Frame.DATA, flags: 3, source: 3, incarnation: 77, run: 0xabc, seq: 9, ack: 4, credit: 123_456_789_012, message: 5, offset: 2 ** 40
    })
  })

  it("ACK, JOIN, HEARTBEAT, LEAVE, FAILED and CONFLICT frames round-trip, each with its run", () => {
    expect(Frame.decode(Frame.encodeAck(sender(1, 2, 9), 3, 4096, Frame.FLAG_RESEND))).toMatchObject({ kind: "ack", source: 1, incarnation: 2, run: 9, ack: 3, credit: 4096, flags: 1 })
    const launcher = { launcher: 0xfeed, launcherPid: 4000, ranks: "0-3, 6", worldContext: 65536 }
    expect(Frame.decode(Frame.encodeJoin(sender(4, 5, 77), { size: 8, seen: 3, window: 1 << 20, pid: 4242, host: "hôte-a", ...launcher }, true)))
      .toMatchObject({ kind: "join", source: 4, run: 77, size: 8, seen: 3, window: 1 << 20, flags: 1, pid: 4242, host: "hôte-a", ...launcher })
    expect(Frame.decode(Frame.encodeJoin(sender(4, 5), { size: 8, seen: 3, window: 1 << 20, pid: 1, host: "h".repeat(300), ...launcher }, false)))
      .toMatchObject({ kind: "join", flags: 0, host: "h".repeat(Frame.MAX_HOST_BYTES), ranks: "0-3, 6", worldContext: 65536 })
    // A JOIN without the world context (it ends after the ranks) says 0: not announced.
    const short = Frame.encodeJoin(sender(4, 5), { size: 8, seen: 3, window: 1 << 20, pid: 1, host: "h", ...launcher }, false).slice(0, -4)
    expect(Frame.decode(short)).toMatchObject({ kind: "join", ranks: "0-3, 6", worldContext: 0 })
    expect(Frame.decode(Frame.encodePresence(Frame.HEARTBEAT, sender(6, 7, 3), 8))).toMatchObject({ kind: "heartbeat", source: 6, run: 3, size: 8 })
    expect(Frame.decode(Frame.encodePresence(Frame.LEAVE, sender(6, 7), 8))).toMatchObject({ kind: "leave", source: 6 })
    expect(Frame.decode(Frame.encodeFailed(sender(1, 2), 5, "rank 5 stopped responding"))).toMatchObject({ kind: "failed", rank: 5, reason: "rank 5 stopped responding" })
    expect(Frame.decode(Frame.encodeFailed(sender(1, 2), 5, "claimed twice", Frame.CONFLICT))).toMatchObject({ kind: "conflict", rank: 5, reason: "claimed twice" })
  })

  it("a frame of a job with a key has room for its tag and says so in its prefix", () => {
    const f = Frame.encodeAck(sender(1, 2, 3, 16), 3, 4096)
    expect(f.length).toBe(Frame.ACK_BYTES + 16)
    expect(f[Frame.AUTH_OFFSET]).toBe(Frame.AUTH_HMAC)
    expect(Frame.encodeAck(sender(1, 2), 3, 4096)[Frame.AUTH_OFFSET]).toBe(Frame.AUTH_NONE)
  })

  it("a FAILED reason is cut at 1024 bytes", () => {
    const f = Frame.decode(Frame.encodeFailed(sender(1, 2), 5, "x".repeat(5000)))
    expect(typeof f !== "string" && f.kind === "failed" && f.reason.length).toBe(Frame.MAX_REASON_BYTES)
  })

  it("bytes that are not a frame give a reason instead of throwing", () => {
    expect(Frame.decode(new TextEncoder().encode("hello, rankflow"))).toMatch(/too short/)
    expect(Frame.decode(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n"))).toMatch(/magic/)
    const future = Frame.encodeAck(sender(1, 2), 3, 4)
    future[2] = 9
    expect(Frame.decode(future)).toMatch(/version 9 is not supported/)
    const unknown = Frame.encodeAck(sender(1, 2), 3, 4)
    unknown[3] = 42
    expect(Frame.decode(unknown)).toMatch(/unknown frame type 42/)
    expect(Frame.decode(Frame.encodeAck(sender(1, 2), 3, 4).subarray(0, 30))).toMatch(/needs at least 40 bytes/)
    expect(Frame.decode(Frame.encodeAck(sender(1, 0), 3, 4))).toMatch(/incarnation 0/)
    const version1 = Frame.encodeAck(sender(1, 2), 3, 4)
    version1[2] = 1
    expect(Frame.decode(version1)).toMatch(/version 1 is not supported \(this rank speaks version 2\)/)
  })

  it("a BUNDLE carries DATA frames whole and in order, without their trailers, and says what is wrong with a malformed one", () => {
    const data = (seq: number, payload: number, trailer: number) => {
      const f = new Uint8Array(Frame.DATA_HEADER_BYTES + payload + trailer).fill(0xee)
      Frame.writeData(f, { ...fields, trailer, seq, flags: 3, offset: 0 })
      return f
    }
    for (const trailer of [0, 16]) {
      const frames = [data(1, 0, trailer), data(2, 5, trailer), data(3, 64, trailer)]
      const bytes = frames.reduce((n, f) => n + Frame.bundleEntryBytes(f.length - trailer), 0)
      const b = Frame.encodeBundle(sender(3, 77, 0xabc, trailer), frames, bytes)
      expect(b.length).toBe(Frame.BUNDLE_HEADER_BYTES + bytes + trailer)
      const d = Frame.decode(b.subarray(0, b.length - trailer))
      if (typeof d === "string" || d.kind !== "bundle") throw new Error(String(d))
      expect(d).toMatchObject({ source: 3, incarnation: 77, run: 0xabc })
      expect(d.frames.map((f) => [...f])).toEqual(frames.map((f) => [...f.subarray(0, f.length - trailer)]))
      expect(d.frames.map((f) => (Frame.decode(f) as { seq: number }).seq)).toEqual([1, 2, 3])
    }
    const one = Frame.encodeBundle(sender(1, 2), [data(1, 3, 0)], Frame.bundleEntryBytes(Frame.DATA_HEADER_BYTES + 3))
    const cut = one.subarray(0, one.length - 8)
    expect(Frame.decode(cut)).toMatch(/frame 0 of a bundle \(59 bytes\) runs 3 bytes past its end/)
    const longer = Uint8Array.from([...one, 0, 0, 0, 0, 0, 0, 0, 0])
    expect(Frame.decode(longer)).toMatch(/has 8 bytes beyond them/)
    const counted = one.slice()
    counted[24] = 2
    expect(Frame.decode(counted)).toMatch(/a bundle of 2 frames ends after 1/)
    const notData = Frame.encodeBundle(sender(1, 2), [Frame.encodeAck(sender(1, 2), 3, 4)], Frame.bundleEntryBytes(Frame.ACK_BYTES))
    expect(Frame.decode(notData)).toMatch(/frame 0 of a bundle is not a DATA frame/)
  })

  it("the outbox publishes a turn's frames to a rank as one bundle, a lone frame as it is, in order, never over the limit", async () => {
    const published: Array<{ rank: number; frames: Array<number> }> = []
    const frame = (id: number, length = 100) => {
      const f = new Uint8Array(length)
      f[0] = id
      return f
    }
    let limit = 1 << 20
    const outbox = new Outbox(3, () => limit, 0, (rank, f) => published.push({ rank, frames: [f[0]!] }), (rank, frames, bytes) => {
      expect(Frame.BUNDLE_HEADER_BYTES + bytes).toBeLessThanOrEqual(Math.min(limit, MAX_BUNDLE))
      published.push({ rank, frames: frames.map((f) => f[0]!) })
    })
    outbox.add(1, frame(1))
    outbox.add(2, frame(2))
    outbox.add(1, frame(3))
    expect(outbox.busy).toBe(true)
    expect(published).toEqual([])
    await Promise.resolve()
    expect(published).toEqual([{ rank: 1, frames: [1, 3] }, { rank: 2, frames: [2] }])
    expect(outbox.busy).toBe(false)
    // A frame too large to bundle goes alone, after the ones before it.
    published.length = 0
    outbox.add(1, frame(4))
    outbox.add(1, frame(5, MAX_BUNDLED_FRAME + 1))
    outbox.add(1, frame(6))
    outbox.flush()
    expect(published).toEqual([{ rank: 1, frames: [4] }, { rank: 1, frames: [5] }, { rank: 1, frames: [6] }])
    // A full bundle goes at once; the rest follows at the end of the turn.
    published.length = 0
    limit = 1000
    for (let i = 0; i < 20; i++) outbox.add(0, frame(i))
    await Promise.resolve()
    expect(published.flatMap((p) => p.frames)).toEqual(Array.from({ length: 20 }, (_, i) => i))
    expect(published.length).toBeGreaterThan(2)
    expect(outbox.bundles).toBe(1 + published.filter((p) => p.frames.length > 1).length)
  })

  it("decoding arbitrary bytes never throws", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), fc.boolean(), (bytes, magic) => {
      const b = bytes.slice()
      if (magic && b.length >= 4) {
        b[0] = Frame.MAGIC_0
        b[1] = Frame.MAGIC_1
        b[2] = Frame.VERSION
      }
      const f = Frame.decode(b)
      return typeof f === "string" || typeof f === "object"
    }), { numRuns: 2000 })
  })
})

describe("subjects", () => {
  it("every subject of a job is under rankflow.<job>.", () => {
    const s = Subjects.make("heat-42")
    expect(s.to(3)).toBe("rankflow.heat-42.to.3")
    expect(s.all).toBe("rankflow.heat-42.all")
  })

  it("job ids that are not one subject token are refused with advice", () => {
    expect(Subjects.checkJobId("heat_42-b")).toBeUndefined()
    for (const bad of ["a.b", "a*", ">", "a b", "", "x".repeat(65)]) expect(Subjects.checkJobId(bad)).toMatch(/not usable/)
    expect(Subjects.checkJobId(Subjects.freshJobId())).toBeUndefined()
  })
})

describe("chunking", () => {
  it("buffers are laid out 8-byte aligned after the codec header", () => {
    expect(layoutOf(5, [3, 0, 16])).toEqual({ headerLength: 5, sizes: [3, 0, 16], offsets: [8, 16, 16], bodyLength: 32 })
    expect(layoutOf(0, [])).toEqual({ headerLength: 0, sizes: [], offsets: [], bodyLength: 0 })
  })

  it("a message split into frames of any size reassembles exactly, with aligned buffers", () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 40 }),
      fc.array(fc.integer({ min: 0, max: 700 }), { maxLength: 4 }),
      fc.integer({ min: 200, max: 900 }),
      (headerLength, sizes, maxFrame) => {
        const packet = { envelope: pattern(16, 1), frames: { header: pattern(headerLength, 2), buffers: sizes.map((n, i) => pattern(n, 3 + i)) } }
        const frames = framesOf(packet, maxFrame)
        for (const f of frames) expect(f.length).toBeLessThanOrEqual(maxFrame)
        const { reassembly, envelope } = reassemble(frames)
        expect(reassembly.complete).toBe(true)
        expect(envelope).toEqual(packet.envelope)
        const out = reassembly.frames(undefined)
        expect(out.header).toEqual(packet.frames.header)
        expect(out.buffers).toEqual(packet.frames.buffers)
        for (const b of out.buffers) expect(b.byteOffset % 8).toBe(0)
      }
    ), { numRuns: 300 })
  })

  it("a message keeps its own copy of the envelope: the sender may rewrite its array once send returned", () => {
    const envelope = pattern(16, 1)
    const packet = { envelope, frames: { header: pattern(30, 2), buffers: [pattern(5000, 3)] } }
    const m = new OutgoingMessage(packet, 5, () => {})
    const expected = envelope.slice()
    envelope.fill(0xff)
    const frames: Array<Uint8Array> = []
    while (!m.finished) frames.push(m.nextFrame(600, fields, (n) => new Uint8Array(n)))
    expect(reassemble(frames).envelope).toEqual(expected)
  })

  it("chunks arriving out of order reassemble the same message", () => {
    const packet = { envelope: pattern(16, 1), frames: { header: pattern(30, 2), buffers: [pattern(5000, 3), pattern(77, 4)] } }
    const frames = framesOf(packet, 500)
    expect(frames.length).toBeGreaterThan(8)
    const shuffled = [frames[0]!, ...frames.slice(1).reverse()]
    const { reassembly } = reassemble(shuffled)
    expect(reassembly.frames(undefined).buffers).toEqual(packet.frames.buffers)
  })

  it("the header is ready as soon as its bytes arrived, before the buffers", () => {
    const packet = { envelope: pattern(16, 1), frames: { header: pattern(30, 2), buffers: [pattern(5000, 3)] } }
    const frames = framesOf(packet, 600)
    const { reassembly } = reassemble(frames.slice(0, 1))
    expect(reassembly.headerReady).toBe(true)
    expect(reassembly.complete).toBe(false)
    expect(reassembly.header()).toEqual(packet.frames.header)
  })

  it("a chunk overlapping received bytes or running past the body is refused", () => {
    const r = new Reassembly(layoutOf(0, [100]))
    expect(r.write(0, new Uint8Array(50))).toBeUndefined()
    expect(r.write(40, new Uint8Array(20))).toMatch(/overlaps/)
    expect(r.write(90, new Uint8Array(20))).toMatch(/runs past/)
    expect(r.write(70, new Uint8Array(10))).toBeUndefined()
    expect(r.write(75, new Uint8Array(10))).toMatch(/overlaps/)
    expect(r.write(50, new Uint8Array(20))).toBeUndefined()
    expect(r.write(80, new Uint8Array(20))).toBeUndefined()
    expect(r.complete).toBe(true)
  })

  it("buffers given to take are filled in place", () => {
    const packet = { envelope: pattern(16, 1), frames: { header: pattern(3, 2), buffers: [pattern(40, 3), pattern(9, 4)] } }
    const { reassembly } = reassemble(framesOf(packet, 1000))
    const target = new Uint8Array(40)
    const out = reassembly.frames([target, undefined])
    expect(out.buffers[0]).toBe(target)
    expect(target).toEqual(packet.frames.buffers[0])
    expect(out.buffers[1]).toEqual(packet.frames.buffers[1])
  })

  it("a buffer taken while its message arrives is written in place: what came before is copied, the rest goes straight there", () => {
    const packet = { envelope: pattern(16, 1), frames: { header: pattern(10, 2), buffers: [pattern(3000, 3), pattern(2000, 4)] } }
    const frames = framesOf(packet, 700)
    const allocated: Array<number> = []
    const d = readDescriptor(frames[0]!.subarray(Frame.DATA_HEADER_BYTES), 1 << 20) as Exclude<ReturnType<typeof readDescriptor>, string>
    const r = new Reassembly(d.layout, (n) => {
      allocated.push(n)
      return new Uint8Array(n)
    })
    const write = (frame: Uint8Array) => {
      const h = Frame.decode(frame) as Frame.DataHeader
      let body = frame.subarray(Frame.DATA_HEADER_BYTES)
      if (h.flags & Frame.FLAG_FIRST) body = body.subarray(d.length)
      expect(r.write(h.offset, body)).toBeUndefined()
    }
    const half = Math.floor(frames.length / 3)
    frames.slice(0, half).forEach(write)
    const into = [new Uint8Array(3000), new Uint8Array(2000)]
    r.redirect(into)
    frames.slice(half).forEach(write)
    expect(r.complete).toBe(true)
    const out = r.frames(into)
    expect(out.buffers[0]).toBe(into[0])
    expect(into[0]).toEqual(packet.frames.buffers[0])
    expect(into[1]).toEqual(packet.frames.buffers[1])
    // The header and the first buffer (partly arrived) were allocated; the second buffer never was.
    expect(allocated).toEqual([10, 3000])
  })

  it("a descriptor that lies about its body is refused", () => {
    const frames = framesOf({ envelope: pattern(16, 1), frames: { header: pattern(3, 2), buffers: [pattern(40, 3)] } }, 1000)
    const payload = frames[0]!.subarray(Frame.DATA_HEADER_BYTES)
    const lying = payload.slice()
    Frame.putF64(lying, 8, 999)
    expect(readDescriptor(lying, 1 << 20)).toMatch(/does not match/)
    expect(readDescriptor(payload, 10)).toMatch(/exceeds this rank's limit/)
    expect(readDescriptor(payload.subarray(0, 20), 1 << 20)).toMatch(/needs/)
  })

  it("the small-message fast path builds the same frame as the chunker", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 40 }), fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 5 }), (headerLength, sizes) => {
      const packet = { envelope: pattern(16, 1), frames: { header: pattern(headerLength, 2), buffers: sizes.map((n, i) => pattern(n, 3 + i)) } }
      const [chunked] = framesOf(packet, 1 << 20)
      const frame = new Uint8Array(singleFrameLength(packet.envelope, packet.frames, 0))
      writeSingleFrame(frame, packet.envelope, packet.frames, 5, fields)
      expect(frame).toEqual(chunked)
      // With room for a tag: the same frame, and the tag's 16 bytes after it.
      const tagged = new Uint8Array(singleFrameLength(packet.envelope, packet.frames, 16))
      writeSingleFrame(tagged, packet.envelope, packet.frames, 5, { ...fields, trailer: 16 })
      expect(tagged.length).toBe(frame.length + 16)
      expect(tagged.subarray(Frame.COMMON_BYTES, frame.length)).toEqual(frame.subarray(Frame.COMMON_BYTES))
    }), { numRuns: 200 })
  })

  it("frames built in reused memory carry no stale bytes", () => {
    const packet = { envelope: pattern(16, 1), frames: { header: pattern(3, 2), buffers: [pattern(5, 3), pattern(9, 4)] } }
    const clean = framesOf(packet, 1000)
    const m = new OutgoingMessage(packet, 5, () => {})
    const dirty = m.nextFrame(1000, fields, (n) => new Uint8Array(n).fill(0xff))
    expect(dirty).toEqual(clean[0])
  })
})

describe("memory", () => {
  it("slab pieces are 8-byte aligned, zeroed, and large requests get their own buffer; copies are exact; align8 is exact for safe integers", () => {
    const slab = new Slab(1024, 256)
    const a = slab.take(13)
    const b = slab.take(7)
    expect(a.buffer).toBe(b.buffer)
    expect(b.byteOffset % 8).toBe(0)
    expect(slab.take(300).byteOffset).toBe(0)
    for (let i = 0; i < 200; i++) expect(slab.take(100).every((x) => x === 0)).toBe(true)
    const src = Uint8Array.from({ length: 300 }, (_, i) => i)
    expect(slab.copy(src, 5, 20)).toEqual(src.subarray(5, 25))
    expect(slab.copy(src, 0, 200)).toEqual(src.subarray(0, 200))
    expect(slab.copy(src, 0, 300).buffer).not.toBe(src.buffer)
    expect([0, 1, 8, 9, 2 ** 31 - 9, 2 ** 31 - 1, 2 ** 40 + 1, 2 ** 53 - 8].map(align8)).toEqual([0, 8, 8, 16, 2 ** 31 - 8, 2 ** 31, 2 ** 40 + 8, 2 ** 53 - 8])
  })

  it("a pool reuses large frames once given back, and keeps at most its limit", () => {
    const pool = new FramePool(1024, 8192)
    const a = pool.take(2000, 4096)
    pool.give(a)
    expect(pool.take(1500, 4096).buffer === a.buffer).toBe(true)
    const many = Array.from({ length: 4 }, () => pool.take(4096, 4096))
    for (const f of many) pool.give(f)
    const again = Array.from({ length: 4 }, () => pool.take(4096, 4096))
    expect(again.filter((f) => many.some((m) => m.buffer === f.buffer)).length).toBe(2)
    expect(pool.take(100, 4096).buffer.byteLength).toBe(100)
  })
})

describe("reliability", () => {
  it("sequence numbers compare across the u32 wrap and skip 0", () => {
    expect(nextSeq(0xffffffff)).toBe(1)
    expect(seqDiff(1, 0xffffffff)).toBeGreaterThan(0)
    expect(seqDiff(0xfffffff0, 5)).toBeLessThan(0)
  })

  it("a cumulative acknowledgement frees every frame up to it, in order", () => {
    const freed: Array<number> = []
    const w = new SendWindow(true, (f) => freed.push(f[0]!))
    for (let i = 1; i <= 5; i++) expect(w.assign(Uint8Array.of(i))).toBe(i)
    expect(w.ack(3)).toBe(3)
    expect(freed).toEqual([1, 2, 3])
    expect(w.unacked).toBe(2)
    expect(w.unackedBytes).toBe(2)
    const left: Array<number> = []
    w.forEachUnacked((_f, seq) => left.push(seq))
    expect(left).toEqual([4, 5])
  })

  it("stale, repeated and impossible acknowledgements change nothing", () => {
    const w = new SendWindow()
    for (let i = 0; i < 5; i++) w.assign(new Uint8Array(1))
    expect(w.ack(4)).toBe(4)
    expect(w.ack(2)).toBe(0)
    expect(w.ack(4)).toBe(0)
    expect(w.ack(9)).toBe(0)
    expect(w.unacked).toBe(1)
  })

  it("frames are kept across many acknowledgements without growing (compaction)", () => {
    const w = new SendWindow()
    for (let i = 1; i <= 100_000; i++) {
      w.assign(new Uint8Array(1))
      if (i % 10 === 0) w.ack(i)
    }
    expect(w.unacked).toBe(0)
  })

  it("the receiver accepts the next frame, drops duplicates and spots gaps", () => {
    const r = new ReceiveSequence()
    expect(r.classify(1)).toBe(NEXT)
    r.accept(100)
    expect(r.classify(1)).toBe(DUPLICATE)
    expect(r.classify(3)).toBe(GAP)
    expect(r.classify(2)).toBe(NEXT)
    r.accept(100)
    expect(r.last).toBe(2)
  })

  it("acknowledgements are due by frame count or bytes, and reset when sent", () => {
    const r = new ReceiveSequence()
    for (let i = 0; i < 63; i++) r.accept(10)
    expect(r.ackDue(64, 1 << 20)).toBe(false)
    r.accept(10)
    expect(r.ackDue(64, 1 << 20)).toBe(true)
    r.acknowledged()
    r.accept(1 << 20)
    expect(r.ackDue(64, 1 << 20)).toBe(true)
  })

  it("a lossy, duplicating, reordering link delivers every frame exactly once, in order (go-back-N)", () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 99 }), { minLength: 200, maxLength: 400 }), (dice) => {
      const w = new SendWindow()
      const r = new ReceiveSequence()
      const delivered: Array<number> = []
      let roll = 0
      const next = () => dice[roll++ % dice.length]!
      const total = 60
      let sent = 0
      for (let round = 0; round < 400 && delivered.length < total; round++) {
        while (sent < total && w.unacked < 8) w.assign(Uint8Array.of(++sent))
        const inFlight: Array<Uint8Array> = []
        w.forEachUnacked((f) => {
          const d = next()
          if (d < 20) return // lost
          inFlight.push(f)
          if (d > 90) inFlight.push(f) // duplicated
        })
        if (next() > 80) inFlight.reverse() // reordered
        for (const f of inFlight) {
          if (r.classify(f[0]!) === NEXT) {
            r.accept(1)
            delivered.push(f[0]!)
          }
        }
        if (next() > 10) w.ack(r.last) // the acknowledgement itself may be lost
      }
      expect(delivered).toEqual(Array.from({ length: total }, (_, i) => i + 1))
    }), { numRuns: 200 })
  })
})

describe("credits", () => {
  it("a sender spends up to the granted limit and waits for more", () => {
    const c = new SendCredit()
    expect(c.allows(1)).toBe(false)
    c.grant(1000)
    expect(c.allows(1000)).toBe(true)
    c.spend(600)
    expect(c.allows(500)).toBe(false)
    expect(c.available).toBe(400)
    expect(c.grant(900)).toBe(false)
    expect(c.grant(1600)).toBe(true)
    expect(c.allows(1000)).toBe(true)
  })

  it("held bytes of untaken arrivals never pass the window while the sender obeys its credit", () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 300 }), fc.boolean()), { maxLength: 300 }), (steps) => {
      const window = 1000
      const rc = new ReceiveCredit(window)
      const sc = new SendCredit()
      sc.grant(rc.granting())
      const untaken: Array<number> = []
      for (const [bytes, take] of steps) {
        if (sc.allows(bytes)) {
          sc.spend(bytes)
          rc.hold(bytes)
          untaken.push(bytes)
        }
        expect(rc.held).toBeLessThanOrEqual(window)
        if (take && untaken.length > 0) rc.release(untaken.shift()!)
        if (rc.grantDue) sc.grant(rc.granting())
      }
    }), { numRuns: 300 })
  })

  it("a grant is due once a quarter of the window (at most 4 MiB) was consumed", () => {
    const big = new ReceiveCredit(64 * 1024 * 1024)
    big.pass(4 * 1024 * 1024 - 1)
    expect(big.grantDue).toBe(false)
    big.pass(1)
    expect(big.grantDue).toBe(true)
    const rc = new ReceiveCredit(1000)
    rc.hold(249)
    rc.release(249)
    expect(rc.grantDue).toBe(false)
    rc.pass(1)
    expect(rc.grantDue).toBe(true)
    expect(rc.granting()).toBe(1250)
    expect(rc.grantDue).toBe(false)
  })
})

describe("heartbeats", () => {
  it("a peer silent for longer than the timeout expires; one heard from does not", () => {
    const l = new Liveness(3, 1000, 0)
    l.saw(1, 900)
    expect(l.expired(1500, (r) => r !== 0)).toEqual([2])
    l.restart(1500)
    expect(l.expired(2400, (r) => r !== 0)).toEqual([])
    expect(l.silentFor(2, 2400)).toBe(900)
  })

  it("a pacer is due once per interval, and hurrying makes it due at once", () => {
    const p = new Pacer(100)
    expect(p.due(0)).toBe(true)
    expect(p.due(50)).toBe(false)
    expect(p.due(100)).toBe(true)
    p.hurry()
    expect(p.due(101)).toBe(true)
  })

  it("a timeout shorter than two intervals is refused", () => {
    expect(checkSettings({ intervalMs: 1000, timeoutMs: 1500 })).toMatch(/at least twice/)
    expect(checkSettings({ intervalMs: 1000, timeoutMs: 4000 })).toBeUndefined()
  })
})

describe("rendezvous", () => {
  // By default each process is its own launcher, starting only its rank.
  const join = (source: number, incarnation: number, size = 4, run = 0, pid = 100 + source, host = "h", launcher = incarnation, ranks = String(source)) =>
    ({
      kind: "join", type: Frame.JOIN, flags: run !== 0 ? Frame.FLAG_COMPLETE : 0, source, incarnation, run, size, seen: 1, window: 4096, pid, host,
      launcher, launcherPid: pid, ranks, worldContext: 65536
    }) as const
  const self = (incarnation: number) => ({ incarnation, window: 4096, pid: 1, host: "me" })

  it("starts only once every rank joined and every peer proposed the same run; settles once every peer runs it", () => {
    const r = new Rendezvous("job", 0, 3, self(1))
    expect(r.join(join(1, 11, 3))._tag).toBe("New")
    expect(r.missing()).toEqual([2])
    expect(r.run).toBe(0)
    expect(r.join(join(1, 11, 3))._tag).toBe("Known")
    expect(r.join(join(2, 12, 3))._tag).toBe("New")
    expect(r.complete).toBe(true)
    const run = r.run
    expect(run).toBe(runOf("job", [1, 11, 12]))
    expect(r.agreed).toBe(false)
    expect(r.unconfirmed()).toEqual([1, 2])
    r.join(join(1, 11, 3, run))
    expect(r.agreed).toBe(false)
    r.join(join(2, 12, 3, run))
    expect(r.agreed).toBe(true)
    expect(r.settled).toBe(false)
    r.peerRunning(1, run)
    r.peerRunning(2, run + 1)
    expect(r.settled).toBe(false)
    r.peerRunning(2, run)
    expect(r.settled).toBe(true)
  })

  it("the run depends on the job and on every rank's process", () => {
    const base = runOf("job", [1, 2, 3])
    expect(runOf("job", [1, 2, 3])).toBe(base)
    expect(runOf("job", [1, 2, 4])).not.toBe(base)
    expect(runOf("job", [2, 1, 3])).not.toBe(base)
    expect(runOf("jab", [1, 2, 3])).not.toBe(base)
    expect(runOf("job", [1, 2, 3])).not.toBe(0)
  })

  it("two processes claiming one rank are a conflict naming the rank and both processes", () => {
    // Two processes of one launcher (a launcher's own ranks never overlap: this is the check behind that one).
    const r = new Rendezvous("heat", 0, 4, self(1))
    r.join(join(2, 20, 4, 0, 4242, "host-a", 5, "2"))
    const twice = r.join(join(2, 21, 4, 0, 5151, "host-b", 5, "2"))
    expect(twice._tag).toBe("Conflict")
    expect(twice._tag === "Conflict" && twice.rank).toBe(2)
    expect(twice._tag === "Conflict" && twice.message).toMatch(/two processes claim rank 2 of job heat: pid 4242 on host-a and pid 5151 on host-b; .*--ranks/)
    // A second process claiming this rank's own rank, too.
    const mine = new Rendezvous("heat", 0, 2, self(1), { id: 5, pid: 1, host: "me", ranks: [0] }).join(join(0, 9, 2, 0, 77, "host-c", 5, "0"))
    expect(mine._tag === "Conflict" && mine.message).toMatch(/claim rank 0 of job heat: pid 1 on me and pid 77 on host-c/)
    // From two launchers, the same claim names the launchers.
    const launchers = new Rendezvous("heat", 0, 2, self(1)).join(join(0, 9, 2, 0, 77, "host-c"))
    expect(launchers._tag === "Conflict" && launchers.message).toMatch(/claim rank 0 of job heat: the launcher pid 1 on me \(ranks 0\) and the launcher pid 77 on host-c \(ranks 0\)/)
  })

  it("a launcher whose ranks overlap another's is a conflict as soon as one of its processes is heard, naming the rank and both launchers", () => {
    // This rank (0) was started by launcher 7 (pid 70, ranks 0-2); a process of launcher 8 (pid 80, ranks 2-3) joins as rank 3.
    const r = new Rendezvous("job", 0, 4, self(1), { id: 7, pid: 70, host: "host-a", ranks: [0, 1, 2] })
    const other = r.join(join(3, 33, 4, 0, 303, "host-b", 8, "2-3"))
    expect(other._tag).toBe("Conflict")
    expect(other._tag === "Conflict" && other.rank).toBe(2)
    expect(other._tag === "Conflict" && other.message).toMatch(
      /two processes claim rank 2 of job job: the launcher pid 70 on host-a \(ranks 0-2\) and the launcher pid 303 on host-b \(ranks 2-3\) both start it/
    )
    // Disjoint launchers (two hosts of one job) are fine; a process outside its own launcher's ranks is refused.
    const fine = new Rendezvous("job", 0, 4, self(1), { id: 7, pid: 70, host: "host-a", ranks: [0, 1] })
    expect(fine.join(join(3, 33, 4, 0, 303, "host-b", 8, "2-3"))._tag).toBe("New")
    expect(fine.join(join(2, 22, 4, 0, 202, "host-b", 8, "2-3"))._tag).toBe("New")
    const liar = fine.join(join(1, 11, 4, 0, 101, "host-c", 9, "3"))
    expect(liar._tag === "Refused" && liar.message).toMatch(/ranks "3" do not include it/)
  })

  it("a peer proposing another run is a conflict; so is a different job size (its notice reaches the other host)", () => {
    const r = new Rendezvous("job", 0, 2, self(1))
    expect(r.join(join(1, 11, 2))._tag).toBe("New")
    const other = r.join(join(1, 11, 2, r.run + 1))
    expect(other._tag === "Conflict" && other.message).toMatch(/rank 1 of job job \(pid 101 on h\) agreed on another set of processes/)
    const size = new Rendezvous("job", 0, 4, self(1)).join(join(3, 30, 8))
    expect(size._tag === "Conflict" && size.message).toMatch(/8 ranks, this rank for 4.*--size/)
  })

  it("missing ranks are named as compact ranges", () => {
    expect(formatRanks([0, 1, 2, 3, 5, 7, 8])).toBe("0-3, 5, 7-8")
    expect(formatRanks([4])).toBe("4")
  })

  it("--ranks specs parse into ascending ranks, and bad ones say why", () => {
    expect(parseRanks("4-7", 8)).toEqual([4, 5, 6, 7])
    expect(parseRanks("6, 0-1,3", 8)).toEqual([0, 1, 3, 6])
    expect(parseRanks("0-8", 8)).toMatch(/rank 8 does not exist in a job of 8 ranks/)
    expect(parseRanks("3-1", 8)).toMatch(/backwards/)
    expect(parseRanks("a", 8)).toMatch(/not a rank or a range/)
  })
})

describe("frame authentication", () => {
  const key = new TextEncoder().encode("0123456789abcdef0123456789abcdef")
  const signed = (auth: FrameAuth.FrameAuth, dest: number) => {
    const f = Frame.encodeAck(sender(1, 2, 3, FrameAuth.TAG_BYTES), 4, 4096)
    auth.sign(f, dest)
    return f
  }

  it("a signed frame verifies for its destination only, under its job and key only", () => {
    const auth = FrameAuth.make(key, "heat")
    const f = signed(auth, 3)
    expect(auth.verify(f, 3)).toBe(true)
    expect(auth.verify(f, 4)).toBe(false)
    expect(auth.verify(f, FrameAuth.ALL)).toBe(false)
    expect(FrameAuth.make(key, "heat-2").verify(f, 3)).toBe(false)
    expect(FrameAuth.make(key.map((b) => b ^ 1), "heat").verify(f, 3)).toBe(false)
  })

  it("any altered bit, a truncated frame, or a made-up tag fails verification", () => {
    const auth = FrameAuth.make(key, "heat")
    const f = signed(auth, FrameAuth.ALL)
    fc.assert(fc.property(fc.integer({ min: 0, max: f.length * 8 - 1 }), (bit) => {
      const g = f.slice()
      g[bit >> 3]! ^= 1 << (bit & 7)
      return !auth.verify(g, FrameAuth.ALL)
    }), { numRuns: 500 })
    expect(auth.verify(f.subarray(0, f.length - 1), FrameAuth.ALL)).toBe(false)
    expect(auth.verify(new Uint8Array(8), FrameAuth.ALL)).toBe(false)
    const forged = f.slice()
    forged.fill(0x5a, forged.length - FrameAuth.TAG_BYTES)
    expect(auth.verify(forged, FrameAuth.ALL)).toBe(false)
  })

  it("keys come from a file (one trailing newline dropped); short or missing files say what to do", () => {
    const dir = mkdtempSync(joinPath(tmpdir(), "rankflow-key-"))
    const good = joinPath(dir, "good.key")
    writeFileSync(good, "a".repeat(64) + "\n")
    expect(FrameAuth.readKeyFile(good)).toEqual(new TextEncoder().encode("a".repeat(64)))
    const short = joinPath(dir, "short.key")
    writeFileSync(short, "tiny\n")
    expect(FrameAuth.readKeyFile(short)).toMatch(/the key has 4 bytes, at least 16 are needed \(make one with: openssl rand -hex 32/)
    expect(FrameAuth.readKeyFile(joinPath(dir, "missing.key"))).toMatch(/--job-key-file .*missing\.key: ENOENT/)
    expect(() => FrameAuth.make(new Uint8Array(8), "j")).toThrow(/at least 16 bytes/)
  })

  it("a launcher that starts every rank makes a key; a host running some ranks needs a key file, or runs without one", () => {
    const whole = resolve({}, 4) as NatsConfig
    expect(whole.jobKey).toMatch(/^[0-9a-f]{64}$/)
    expect((resolve({}, 4) as NatsConfig).jobKey).not.toBe(whole.jobKey)
    expect((resolve({ job: "j", ranks: "0-1" }, 4) as NatsConfig).jobKey).toBeUndefined()
    const dir = mkdtempSync(joinPath(tmpdir(), "rankflow-key-"))
    const file = joinPath(dir, "job.key")
    writeFileSync(file, "0f1e2d3c4b5a69788796a5b4c3d2e1f0")
    expect((resolve({ job: "j", ranks: "0-1", jobKeyFile: file }, 4) as NatsConfig).jobKey).toBe(Buffer.from("0f1e2d3c4b5a69788796a5b4c3d2e1f0").toString("hex"))
    expect((resolve({ frameAuth: false }, 4) as NatsConfig).jobKey).toBeUndefined()
    expect((resolve({ frameAuth: false, jobKeyFile: file }, 4) as TransportError).message).toMatch(/exclude each other/)
    expect((resolve({ jobKey: new Uint8Array(4) }, 4) as TransportError).message).toMatch(/at least 16 bytes/)
    expect(optionsFromFlags({ jobKeyFile: file })).toEqual({ jobKeyFile: file })
  })
})

describe("options", () => {
  it("defaults: one local server, every rank, a fresh job id, 30 s to join, 1 s / 10 s heartbeats", () => {
    const c = resolve({}, 4) as NatsConfig
    expect(c.servers).toEqual(["nats://127.0.0.1:4222"])
    expect(c.localRanks).toEqual([0, 1, 2, 3])
    expect(Subjects.checkJobId(c.job)).toBeUndefined()
    expect(c.joinTimeoutMs).toBe(30_000)
    expect(c.heartbeat).toEqual({ intervalMs: 1000, timeoutMs: 10_000 })
    expect(c.reliable).toBe(true)
  })

  it("the window shares 32 MiB among the peers, at least 256 KiB each", () => {
    expect(defaultWindow(1)).toBe(32 * 1024 * 1024)
    expect(defaultWindow(2)).toBe(32 * 1024 * 1024)
    expect(defaultWindow(3)).toBe(16 * 1024 * 1024)
    expect(defaultWindow(9)).toBe(4 * 1024 * 1024)
    expect(defaultWindow(1000)).toBe(256 * 1024)
    expect(defaultWindow(64) * 63).toBeLessThanOrEqual(64 * 1024 * 1024)
  })

  it("a host running part of a job must name the job", () => {
    expect((resolve({ ranks: "0-1" }, 4) as TransportError).message).toMatch(/same --job/)
    expect((resolve({ ranks: "0-1", job: "j1" }, 4) as NatsConfig).localRanks).toEqual([0, 1])
  })

  it("bad options fail with messages that name the option", () => {
    expect((resolve({ job: "a.b" }, 2) as TransportError).message).toMatch(/not usable/)
    expect((resolve({ servers: " , " }, 2) as TransportError).message).toMatch(/no NATS server/)
    expect((resolve({ joinTimeout: -5 }, 2) as TransportError).message).toMatch(/joinTimeout/)
    expect((resolve({ heartbeat: { interval: 1000, timeout: 1000 } }, 2) as TransportError).message).toMatch(/at least twice/)
    expect((resolve({ password: "x" }, 2) as TransportError).message).toMatch(/needs a user/)
    expect((resolve({ window: 10 }, 2) as TransportError).message).toMatch(/window/)
    expect(resolve({}, 0)).toBeInstanceOf(TransportError)
  })

  it("pollMicros: the default where this host runs no more ranks than cores, none where it runs more; given values win; bad ones are refused", () => {
    const cores = availableParallelism()
    expect((resolve({}, cores) as NatsConfig).pollMicros).toBe(DEFAULT_POLL_MICROS)
    expect((resolve({}, cores + 1) as NatsConfig).pollMicros).toBe(0)
    // A host that runs one rank of a larger job polls.
    expect((resolve({ job: "j", ranks: "0" }, cores + 1) as NatsConfig).pollMicros).toBe(DEFAULT_POLL_MICROS)
    expect((resolve({ pollMicros: 0 }, 1) as NatsConfig).pollMicros).toBe(0)
    expect((resolve({ pollMicros: 250 }, cores + 1) as NatsConfig).pollMicros).toBe(250)
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect((resolve({ pollMicros: bad }, 2) as TransportError).message).toMatch(/pollMicros/)
    }
  })

  it("durations may be milliseconds or Effect durations", () => {
    const c = resolve({ joinTimeout: "5 seconds", heartbeat: { interval: 200, timeout: "1 second" } }, 2) as NatsConfig
    expect(c.joinTimeoutMs).toBe(5000)
    expect(c.heartbeat).toEqual({ intervalMs: 200, timeoutMs: 1000 })
  })

  it.effect("Nats.layer provides the options and a launcher with them", () =>
    Effect.gen(function*() {
      const nats = yield* Nats
      expect(nats.options).toEqual({ servers: "nats://a:4222", token: "t" })
      expect(nats.launcher.kind).toBe("nats")
    }).pipe(Effect.provide(layer({ servers: "nats://a:4222", token: "t" }))))

  it("the CLI's flags map onto the options", () => {
    expect(optionsFromFlags({ nats: "nats://a:4222,nats://b:4222", job: "heat-42", ranks: "0-3", joinTimeout: 60, user: "u", password: "p", tlsCa: "/ca.pem" })).toEqual({
      servers: "nats://a:4222,nats://b:4222", job: "heat-42", ranks: "0-3", joinTimeout: 60_000, user: "u", password: "p", tls: { ca: "/ca.pem", cert: undefined, key: undefined }
    })
    expect(optionsFromFlags({ pollMicros: 0 })).toEqual({ pollMicros: 0 })
  })
})

describe("connection", () => {
  const config = resolve({ servers: "nats://a:1,nats://b:2,nats://c:3", user: "alice", password: "pw", tls: { ca: "/ca.pem", cert: "/c.pem", key: "/k.pem" } }, 4) as NatsConfig

  it("ranks start on different servers of the list and fail over to the next ones", () => {
    expect(serversFor(["a", "b", "c"], 0)).toEqual(["a", "b", "c"])
    expect(serversFor(["a", "b", "c"], 4)).toEqual(["b", "c", "a"])
  })

  it("credentials and TLS files pass through to the client", () => {
    const o = connectionOptions(config, 1)
    expect(o).toMatchObject({ servers: ["nats://b:2", "nats://c:3", "nats://a:1"], noRandomize: true, user: "alice", pass: "pw", tls: { caFile: "/ca.pem", certFile: "/c.pem", keyFile: "/k.pem" }, noEcho: true })
    const t = connectionOptions(resolve({ token: "s3cret" }, 2) as NatsConfig, 0)
    expect(t).toMatchObject({ token: "s3cret" })
  })

  it("an unreadable credentials file is a TransportError naming it", () => {
    const o = connectionOptions(resolve({ creds: "/nonexistent/user.creds" }, 2) as NatsConfig, 0)
    expect(o).toBeInstanceOf(TransportError)
    expect((o as TransportError).message).toMatch(/\/nonexistent\/user.creds/)
  })

  it("connection errors say what to check", () => {
    const auth = Object.assign(new Error("Authorization Violation"), { name: "AuthorizationError" })
    expect(describeConnectError(config, auth).message).toMatch(/refused user "alice".*check --user\/--password/)
    const refused = Object.assign(new Error("connection refused"), { name: "ConnectionError" })
    expect(describeConnectError(config, refused).message).toMatch(/cannot reach a NATS server at nats:\/\/a:1.*is nats-server running/)
  })
})
