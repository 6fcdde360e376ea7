/**
 * The shm transport's paths (eager, rendezvous into the arena, streamed,
 * zero copy, self-sends) and flow control, with every rank's transport in
 * the test's own thread.
 */
import { afterEach, describe, expect, it } from "@effect/vitest"
import { PeerFailure, TransportError } from "../../transports/Transport.ts"
import type { ShmTransport } from "../../transports/shm/ShmTransport.ts"
import { envelope, fill, matches, pattern, readEnvelope } from "./fixtures/lib.ts"
import { collect, ranks, type Sent, sendTracked, takeFrames, until } from "./fixtures/inThread.ts"
import { Recycler } from "../../transports/Slab.ts"

let open: Array<ShmTransport> = []
const job = (size: number, options = {}): Array<ShmTransport> => {
  const ts = ranks(size, options)
  open.push(...ts)
  return ts
}
afterEach(() => {
  for (const t of open) t.close()
  open = []
})

const env = (seq: number): Uint8Array => envelope(7, seq)

describe("eager path", () => {
  it("a small packet is copied into the ring and its send completes at once", async () => {
    const [a, b] = job(2)
    const inbox = collect(b!)
    const header = Uint8Array.of(1, 2, 3)
    const data = pattern(0, 1, 100)
    const sent = sendTracked(a!, 1, env(1), [data], header)
    expect(sent).toMatchObject({ done: true, sync: true, error: undefined })
    data.fill(0) // the sender may reuse its buffer: the message was copied
    await until(() => inbox.arrivals.length === 1, "the arrival")
    const arrival = inbox.arrivals[0]!
    expect(arrival.source).toBe(0)
    expect(readEnvelope(arrival.envelope)).toEqual([7, 1])
    expect([...arrival.header]).toEqual([1, 2, 3])
    expect(arrival.sizes).toEqual([100])
    const frames = await takeFrames(arrival)
    expect(matches(frames.buffers[0]!, 0, 1)).toBe(true)
  })

  it("messages of 0 and 1 bytes, with no buffer or an empty one, arrive intact", async () => {
    const [a, b] = job(2)
    const inbox = collect(b!)
    sendTracked(a!, 1, new Uint8Array(0), [])
    sendTracked(a!, 1, env(2), [new Uint8Array(0)])
    sendTracked(a!, 1, env(3), [Uint8Array.of(42)])
    await until(() => inbox.arrivals.length === 3, "three arrivals")
    const [none, empty, one] = inbox.arrivals
    expect(none!.envelope.byteLength).toBe(0)
    expect((await takeFrames(none!)).buffers).toEqual([])
    expect((await takeFrames(empty!)).buffers[0]!.byteLength).toBe(0)
    expect([...(await takeFrames(one!)).buffers[0]!]).toEqual([42])
  })
})

describe("eager buffers a caller keeps", () => {
  it("are memory of their own whatever their size; taken into a destination they are copied there", async () => {
    const [a, b] = job(2)
    const inbox = collect(b!)
    const sizes = [8, 64, 65, 1000, 4096, 5000]
    sizes.forEach((size, i) => sendTracked(a!, 1, env(i), [pattern(0, i, size)]))
    sizes.forEach((size, i) => sendTracked(a!, 1, env(100 + i), [pattern(0, 100 + i, size)]))
    await until(() => inbox.arrivals.length === 2 * sizes.length, "the arrivals")
    const kept = await Promise.all(inbox.arrivals.slice(0, sizes.length).map(async (arrival) => (await takeFrames(arrival)).buffers[0]!))
    kept.forEach((buffer, i) => {
      expect(matches(buffer, 0, i)).toBe(true)
      // Its own memory: no piece of a shared slab that would pin it or alias another message.
      expect(buffer.byteOffset).toBe(0)
      expect(buffer.buffer.byteLength).toBe(sizes[i])
    })
    const into = await Promise.all(inbox.arrivals.slice(sizes.length).map(async (arrival, i) => {
      const target = new Uint8Array(sizes[i]!)
      const frames = await takeFrames(arrival, [target])
      expect(frames.buffers[0]).toBe(target)
      return target
    }))
    into.forEach((buffer, i) => expect(matches(buffer, 0, 100 + i)).toBe(true))
    kept.forEach((buffer, i) => expect(matches(buffer, 0, i)).toBe(true)) // untouched by the later receives
  })
})

describe("bounce memory (buffers of 65 B to 4 KiB copied out of the ring until taken)", () => {
  it("messages left untaken keep their bytes while others are taken or discarded and their memory serves later copies", async () => {
    const [a, b] = job(2, { ringBytes: 1 << 20 })
    const inbox = collect(b!)
    // 40 messages of 4 KiB: more than one 64 KiB chunk of bounce memory.
    for (let i = 0; i < 40; i++) sendTracked(a!, 1, env(i), [pattern(0, i, 4096)])
    await until(() => inbox.arrivals.length === 40, "the first 40")
    const first = inbox.arrivals.splice(0)
    // Every third is left waiting, every third discarded, the rest taken into destinations.
    const waiting = first.filter((_, i) => i % 3 === 0)
    first.filter((_, i) => i % 3 === 1).forEach((arrival) => arrival.discard())
    for (const [i, arrival] of first.entries()) {
      if (i % 3 !== 2) continue
      const target = new Uint8Array(4096)
      await takeFrames(arrival, [target])
      expect(matches(target, 0, i)).toBe(true)
    }
    // 60 more, taken as they come: they reuse what was given back, never what still waits.
    for (let round = 0; round < 6; round++) {
      for (let i = 0; i < 10; i++) sendTracked(a!, 1, env(100 + round * 10 + i), [pattern(0, 100 + round * 10 + i, 1000 + 300 * i)])
      await until(() => inbox.arrivals.length === 10, "ten more")
      for (const [i, arrival] of inbox.arrivals.splice(0).entries()) {
        const target = new Uint8Array(1000 + 300 * i)
        await takeFrames(arrival, [target])
        expect(matches(target, 0, 100 + round * 10 + i)).toBe(true)
      }
    }
    for (const [k, arrival] of waiting.entries()) {
      const kept = (await takeFrames(arrival)).buffers[0]!
      expect(matches(kept, 0, 3 * k)).toBe(true)
      expect(kept.byteOffset).toBe(0) // its own memory once taken
    }
  })

  it("a Recycler starts a chunk over once nothing of it is held, keeps held pieces intact, and gives large copies memory of their own", () => {
    const bounce = new Recycler(1024, 256)
    const src = Uint8Array.from({ length: 600 }, (_, i) => i & 0xff)
    const p1 = bounce.copy(src, 0, 200)
    bounce.release(p1)
    const p2 = bounce.copy(src, 10, 200)
    expect(p2.buffer).toBe(p1.buffer)
    expect(p2.byteOffset).toBe(p1.byteOffset) // started over: the same warm bytes
    expect(p2).toEqual(src.subarray(10, 210))
    // Held pieces push later copies along and into a new chunk; none is overwritten.
    const held = [p2, ...Array.from({ length: 8 }, (_, i) => bounce.copy(src, i, 250))]
    expect(new Set(held.map((p) => p.buffer)).size).toBeGreaterThan(1)
    held.slice(1).forEach((p, i) => expect(p).toEqual(src.subarray(i, i + 250)))
    expect(p2).toEqual(src.subarray(10, 210))
    // A chunk whose pieces were all given back serves again.
    const old = p2.buffer
    for (const p of held.filter((p) => p.buffer === old)) bounce.release(p)
    const later = Array.from({ length: 12 }, () => bounce.copy(src, 0, 250))
    expect(later.some((p) => p.buffer === old)).toBe(true)
    for (let j = 1; j < held.length; j++) if (held[j]!.buffer !== old) expect(held[j]).toEqual(src.subarray(j - 1, j + 249))
    expect(bounce.copy(src, 0, 300).buffer.byteLength).toBe(300)
  })
})

describe("rendezvous path", () => {
  it("a large buffer stays with the sender until taken, then is copied once straight into arena memory", async () => {
    const [a, b] = job(2)
    const inbox = collect(b!)
    const data = pattern(0, 5, 1 << 20)
    const sent = sendTracked(a!, 1, env(5), [data])
    expect(sent.done).toBe(false)
    await until(() => inbox.arrivals.length === 1, "the announcement")
    await new Promise((r) => setTimeout(r, 5))
    expect(sent.done).toBe(false) // nothing moves before the receiver takes it
    const frames = await takeFrames(inbox.arrivals[0]!)
    const got = frames.buffers[0]!
    expect(b!.alloc.owns(got)).toBe(true)
    expect(matches(got, 0, 5)).toBe(true)
    await until(() => sent.done, "the send's completion")
    expect(sent.error).toBeUndefined()
  })

  it("when the arena cannot hold the buffer it is streamed through the ring into private memory", async () => {
    const [a, b] = job(2, { arenaBytes: 64 * 1024, ringBytes: 16 * 1024 })
    const inbox = collect(b!)
    const sent = sendTracked(a!, 1, env(6), [pattern(0, 6, 1 << 20)])
    await until(() => inbox.arrivals.length === 1, "the announcement")
    const frames = await takeFrames(inbox.arrivals[0]!)
    expect(b!.alloc.owns(frames.buffers[0]!)).toBe(false)
    expect(matches(frames.buffers[0]!, 0, 6)).toBe(true)
    await until(() => sent.done, "the send's completion")
  })

  it("take(into) writes every path's buffers into a private destination", async () => {
    const [a, b] = job(2, { eagerLimit: 4096 })
    const inbox = collect(b!)
    const shared = a!.alloc.alloc(Uint8Array, 3000)!
    fill(shared, 0, 3)
    sendTracked(a!, 1, env(1), [pattern(0, 1, 500), pattern(0, 2, 200_000), shared])
    await until(() => inbox.arrivals.length === 1, "the arrival")
    const into = [new Uint8Array(500), new Uint8Array(200_000), new Uint8Array(3000)]
    const frames = await takeFrames(inbox.arrivals[0]!, into)
    expect(frames.buffers[0]).toBe(into[0])
    expect(frames.buffers[1]).toBe(into[1])
    expect(frames.buffers[2]).toBe(into[2])
    expect([matches(into[0]!, 0, 1), matches(into[1]!, 0, 2), matches(into[2]!, 0, 3)]).toEqual([true, true, true])
  })

  it("take(into) with an arena destination receives a large buffer there directly", async () => {
    const [a, b] = job(2)
    const inbox = collect(b!)
    sendTracked(a!, 1, env(1), [pattern(0, 9, 300_000)])
    await until(() => inbox.arrivals.length === 1, "the arrival")
    const into = b!.alloc.alloc(Uint8Array, 300_000)!
    const frames = await takeFrames(inbox.arrivals[0]!, [into])
    expect(frames.buffers[0]).toBe(into)
    expect(matches(into, 0, 9)).toBe(true)
  })

  it("a destination of the wrong size fails the take and leaves the message to take again", async () => {
    const [a, b] = job(2)
    const inbox = collect(b!)
    sendTracked(a!, 1, env(1), [pattern(0, 1, 100_000)])
    await until(() => inbox.arrivals.length === 1, "the arrival")
    await expect(takeFrames(inbox.arrivals[0]!, [new Uint8Array(10)])).rejects.toBeInstanceOf(TransportError)
    const frames = await takeFrames(inbox.arrivals[0]!)
    expect(matches(frames.buffers[0]!, 0, 1)).toBe(true)
  })

  it("a discarded announcement completes the sender's send", async () => {
    const [a, b] = job(2)
    const inbox = collect(b!)
    const sent = sendTracked(a!, 1, env(1), [new Uint8Array(100_000)])
    await until(() => inbox.arrivals.length === 1, "the arrival")
    inbox.arrivals[0]!.discard()
    await until(() => sent.done, "the send's completion")
    expect(sent.error).toBeUndefined()
  })

  it("a header larger than a ring record is streamed behind its record", async () => {
    const [a, b] = job(2, { ringBytes: 16 * 1024 })
    const inbox = collect(b!)
    const header = pattern(0, 77, 200_000)
    const sent = sendTracked(a!, 1, env(1), [pattern(0, 78, 10)], header)
    await until(() => inbox.arrivals.length === 1, "the arrival")
    expect(matches(inbox.arrivals[0]!.header, 0, 77)).toBe(true)
    const frames = await takeFrames(inbox.arrivals[0]!)
    expect(matches(frames.buffers[0]!, 0, 78)).toBe(true)
    await until(() => sent.done, "the send's completion")
  })
})

describe("zero-copy path", () => {
  it("an arena buffer is sent without a copy: the receiver's frame is a view of the same memory", async () => {
    const [a, b] = job(2)
    const inbox = collect(b!)
    const mine = a!.alloc.alloc(Float64Array, 100_000)!
    mine.fill(1.5)
    const bytes = new Uint8Array(mine.buffer, mine.byteOffset, mine.byteLength)
    const sent = sendTracked(a!, 1, env(1), [bytes])
    expect(sent.sync).toBe(true)
    await until(() => inbox.arrivals.length === 1, "the arrival")
    const frame = (await takeFrames(inbox.arrivals[0]!)).buffers[0]!
    expect(frame.byteOffset).toBe(bytes.byteOffset)
    const theirs = new Float64Array(frame.buffer, frame.byteOffset, 100_000)
    expect(theirs[99_999]).toBe(1.5)
    theirs[0] = 42 // same memory: the sender sees the receiver's write
    expect(mine[0]).toBe(42)
  })

  it("a block lives until every holder released it", async () => {
    const [a, b] = job(2, { arenaBytes: 1 << 20 })
    const inbox = collect(b!)
    const mine = a!.alloc.alloc(Uint8Array, 600_000)!
    sendTracked(a!, 1, env(1), [mine])
    await until(() => inbox.arrivals.length === 1, "the arrival")
    const frame = (await takeFrames(inbox.arrivals[0]!)).buffers[0]!
    expect(a!.alloc.release(mine)).toBe(true)
    expect(a!.alloc.alloc(Uint8Array, 600_000)).toBeUndefined() // the receiver still holds it
    expect(b!.alloc.release(frame)).toBe(true)
    expect(a!.alloc.alloc(Uint8Array, 600_000)).toBeDefined()
  })
})

describe("self-sends", () => {
  it("a rank's packets to itself arrive in order on every path", async () => {
    const [a] = job(1)
    const inbox = collect(a!)
    const shared = a!.alloc.alloc(Uint8Array, 64)!
    fill(shared, 0, 3)
    const small = sendTracked(a!, 0, env(1), [pattern(0, 1, 10)])
    const large = sendTracked(a!, 0, env(2), [pattern(0, 2, 1 << 20)])
    sendTracked(a!, 0, env(3), [shared])
    expect(small.sync).toBe(true)
    expect(large.done).toBe(false)
    await until(() => inbox.arrivals.length === 3, "three arrivals")
    const got = await Promise.all(inbox.arrivals.map((x) => takeFrames(x)))
    expect(got.map((f, i) => matches(f.buffers[0]!, 0, i + 1))).toEqual([true, true, true])
    expect(got[2]!.buffers[0]!.byteOffset).toBe(shared.byteOffset)
    expect(large.done).toBe(true)
  })

  it("small ones are copied as they are sent, header and buffers: rewriting them at once changes nothing that arrives, taken or kept", async () => {
    const [a] = job(1)
    const inbox = collect(a!)
    // Memory of its own (8 B), a bounce piece (3,000 B), and both in one packet; each array is rewritten after its send.
    const shapes = [[8], [3000], [8, 3000, 0]]
    for (let i = 0; i < 30; i++) {
      const header = pattern(1, i, 5)
      const buffers = shapes[i % shapes.length]!.map((size, k) => pattern(0, i * 10 + k, size))
      const s = sendTracked(a!, 0, env(i), buffers, header)
      expect(s.sync).toBe(true)
      header.fill(0xee)
      for (const b of buffers) b.fill(0xee)
    }
    await until(() => inbox.arrivals.length === 30, "thirty arrivals")
    for (let i = 0; i < 30; i++) {
      const arrival = inbox.arrivals[i]!
      expect(matches(arrival.header, 1, i)).toBe(true)
      expect(arrival.sizes).toEqual(shapes[i % shapes.length])
      // Every other packet is taken into arrays of the receiver's, the rest kept as delivered.
      const into = i % 2 === 0 ? arrival.sizes.map((n) => new Uint8Array(n)) : undefined
      const frames = await takeFrames(arrival, into)
      frames.buffers.forEach((b, k) => expect(matches(b, 0, i * 10 + k)).toBe(true))
    }
  })
})

describe("order", () => {
  it("packets from one sender arrive in send order whatever their sizes and paths", async () => {
    const [a, b] = job(2, { ringBytes: 16 * 1024, arenaBytes: 2 << 20 })
    const inbox = collect(b!)
    const sizes = [0, 1, 10, 4000, 5000, 100_000, 3, 600_000, 20, 1 << 20, 7, 64]
    const n = 300
    const sends: Array<Sent> = []
    for (let i = 0; i < n; i++) {
      const size = sizes[i % sizes.length]!
      if (i % 5 === 4) {
        const s = a!.alloc.alloc(Uint8Array, size)
        if (s !== undefined) {
          fill(s, 0, i)
          sends.push(sendTracked(a!, 1, env(i), [s]))
          continue
        }
      }
      sends.push(sendTracked(a!, 1, env(i), [pattern(0, i, size)]))
    }
    let next = 0
    while (next < n) {
      await until(() => inbox.arrivals.length > 0, `arrival ${next}`)
      const arrival = inbox.arrivals.shift()!
      expect(readEnvelope(arrival.envelope)[1]).toBe(next)
      const frame = (await takeFrames(arrival)).buffers[0]!
      expect(matches(frame, 0, next)).toBe(true)
      b!.alloc.release(frame)
      next++
    }
    await until(() => sends.every((s) => s.done), "every send's completion")
  })
})

describe("the envelope", () => {
  it("is read before send returns: one array rewritten for every send reaches each packet intact, on every path and to itself", async () => {
    const [a, b] = job(2, { ringBytes: 16 * 1024, arenaBytes: 2 << 20 })
    const sizes = [10, 3000, 100_000, 3, 3500, 600_000, 20, 3000]
    const one = new Uint8Array(8)
    const view = new DataView(one.buffer)
    const sendWith = (dest: number, i: number): Sent => {
      view.setUint32(0, 7, true)
      view.setUint32(4, i, true)
      const sent = sendTracked(a!, dest, one, [pattern(0, i, sizes[i % sizes.length]!)])
      view.setUint32(4, 0xffffffff, true) // scribbled over at once, as the next send would
      return sent
    }
    for (const dest of [1, 0]) {
      const inbox = collect(dest === 1 ? b! : a!)
      const n = 60
      const sends: Array<Sent> = []
      // The ring fills, so later packets wait in the outbox: they must keep copies of their envelopes.
      for (let i = 0; i < n; i++) sends.push(sendWith(dest, i))
      for (let next = 0; next < n; next++) {
        await until(() => inbox.arrivals.length > 0, `arrival ${next}`)
        const arrival = inbox.arrivals.shift()!
        expect(readEnvelope(arrival.envelope)).toEqual([7, next])
        expect(matches((await takeFrames(arrival)).buffers[0]!, 0, next)).toBe(true)
      }
      await until(() => sends.every((x) => x.done), "every send's completion")
      expect(sends.some((x) => !x.sync)).toBe(true)
    }
  })

  it("a self-send's completion may send again: that packet comes after it", async () => {
    const [a] = job(1)
    const inbox = collect(a!)
    a!.send(0, { envelope: env(1), frames: { header: new Uint8Array(0), buffers: [pattern(0, 1, 10)] } }, () => {
      a!.send(0, { envelope: env(2), frames: { header: new Uint8Array(0), buffers: [pattern(0, 2, 10)] } }, () => {})
    })
    await until(() => inbox.arrivals.length === 2, "two arrivals")
    expect(inbox.arrivals.map((x) => readEnvelope(x.envelope)[1])).toEqual([1, 2])
  })
})

describe("64 ranks", () => {
  it("every one of 64 ranks reaches every other, eagerly and by rendezvous, with rings that fit the ring budget", async () => {
    const size = 64
    const ts = job(size)
    expect(ts[0]!.geometry.ringBytes).toBe(16 * 1024)
    const inboxes = ts.map((t) => collect(t))
    const sends: Array<Sent> = []
    for (const t of ts) {
      for (let d = 0; d < size; d++) {
        if (d === t.rank) continue
        sends.push(sendTracked(t, d, env(0), [pattern(t.rank, d, 100)]))
        if ((t.rank + d) % 16 === 0) sends.push(sendTracked(t, d, env(1), [pattern(t.rank, d + 1000, 50_000)]))
      }
    }
    const expected = ts.map((t) => 2 * (size - 1) - ts.filter((u) => u.rank !== t.rank && (u.rank + t.rank) % 16 !== 0).length)
    await until(() => inboxes.every((x, r) => x.arrivals.length === expected[r]), "every arrival", 20_000)
    for (const [r, x] of inboxes.entries()) {
      for (const a of x.arrivals) {
        const [, seq] = readEnvelope(a.envelope)
        const frame = (await takeFrames(a)).buffers[0]!
        expect(matches(frame, a.source, seq === 0 ? r : r + 1000)).toBe(true)
        ts[r]!.alloc.release(frame)
      }
    }
    await until(() => sends.every((s) => s.done), "every send's completion")
  }, 120_000)
})

describe("flow control", () => {
  it("a full ring makes the sender wait, and its sends complete once the receiver drains", async () => {
    const [a, b] = job(2, { ringBytes: 16 * 1024 })
    const sends = Array.from({ length: 100 }, (_, i) => sendTracked(a!, 1, env(i), [pattern(0, i, 2000)]))
    await new Promise((r) => setTimeout(r, 10))
    const waiting = sends.filter((s) => !s.done).length
    expect(waiting).toBeGreaterThan(80) // ~8 fit in a 16 KiB ring; the rest wait, by reference
    expect(a!.pendingOperations).toBe(waiting)
    const inbox = collect(b!)
    await until(() => inbox.arrivals.length === 100, "every arrival")
    expect(sends.every((s) => s.done && s.error === undefined)).toBe(true)
    for (const [i, x] of inbox.arrivals.entries()) expect(matches((await takeFrames(x)).buffers[0]!, 0, i)).toBe(true)
    expect(a!.pendingOperations).toBe(0)
  })

  it("untaken arrivals count against the budget: past it the ring is not drained and senders wait", async () => {
    const [a, b] = job(2, { ringBytes: 16 * 1024, unexpectedBudget: 40_000 })
    const inbox = collect(b!)
    const sends = Array.from({ length: 100 }, (_, i) => sendTracked(a!, 1, env(i), [pattern(0, i, 3000)]))
    // The receiver drains until its untaken arrivals reach the budget (13 of 3,000 bytes fit 40,000)...
    await until(() => inbox.arrivals.length >= 13, "arrivals up to the budget")
    // ...and then no further, however long it is given.
    await new Promise((r) => setTimeout(r, 50))
    const held = inbox.arrivals.length
    expect(held * 3000).toBeLessThan(40_000 + 3100)
    expect(sends.filter((s) => s.done).length).toBeLessThan(40)
    let taken = 0
    while (taken < 100) {
      await until(() => inbox.arrivals.length > 0, "more arrivals")
      const x = inbox.arrivals.shift()!
      expect(matches((await takeFrames(x)).buffers[0]!, 0, taken)).toBe(true)
      taken++
    }
    await until(() => sends.every((s) => s.done), "every send's completion")
  })
})

describe("peer failure", () => {
  it("pending and later sends to a failed rank fail with PeerFailure, and the failure is reported", async () => {
    const [a] = job(2, { ringBytes: 16 * 1024 })
    const mine = collect(a!)
    const big = sendTracked(a!, 1, env(0), [new Uint8Array(1 << 20)])
    const queued = Array.from({ length: 50 }, (_, i) => sendTracked(a!, 1, env(i + 1), [new Uint8Array(2000)]))
    expect(queued.some((s) => !s.done)).toBe(true)
    a!.peerFailed(1, "rank 1 crashed")
    expect(big.error).toBeInstanceOf(PeerFailure)
    expect(queued.filter((s) => !s.done)).toEqual([])
    expect(queued.filter((s) => s.error !== undefined).every((s) => s.error instanceof PeerFailure)).toBe(true)
    const later = sendTracked(a!, 1, env(99), [])
    expect(later.error).toMatchObject({ _tag: "PeerFailure", rank: 1, reason: "rank 1 crashed" })
    expect(mine.failures.map((f) => f.rank)).toEqual([1])
    expect(a!.pendingOperations).toBe(0)
  })

  it("taking a rendezvous message whose sender failed fails with a TransportError caused by the PeerFailure", async () => {
    const [a, b] = job(2)
    const inbox = collect(b!)
    sendTracked(a!, 1, env(0), [new Uint8Array(1 << 20)])
    sendTracked(a!, 1, env(1), [Uint8Array.of(5)])
    await until(() => inbox.arrivals.length === 2, "the arrivals")
    b!.peerFailed(0, "gone")
    const error = await takeFrames(inbox.arrivals[0]!).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TransportError)
    expect((error as TransportError).cause).toBeInstanceOf(PeerFailure)
    expect([...(await takeFrames(inbox.arrivals[1]!)).buffers[0]!]).toEqual([5]) // delivered arrivals stay valid
  })
})

describe("closing", () => {
  it("close fails pending sends and holds nothing alive", () => {
    const [a] = job(2, { ringBytes: 16 * 1024 })
    const sends = Array.from({ length: 20 }, (_, i) => sendTracked(a!, 1, env(i), [new Uint8Array(4000)]))
    a!.close()
    expect(sends.every((s) => s.done)).toBe(true)
    expect(sends.some((s) => s.error instanceof TransportError)).toBe(true)
    expect(a!.pendingOperations).toBe(0)
    expect(sendTracked(a!, 1, env(0), []).error).toBeInstanceOf(TransportError)
  })
})
