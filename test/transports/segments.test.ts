/**
 * Shared segments on shm (transports/shm/Segments.ts): the memory and flags
 * that collectives meet through, created by one rank and attached by the
 * others, freed by the last to detach.
 */
import { describe, expect, it } from "@effect/vitest"
import { initialize } from "../../transports/shm/Arena.ts"
import { allocate, geometry } from "../../transports/shm/Layout.ts"
import { ShmTransport } from "../../transports/shm/ShmTransport.ts"

/** Two ranks' transports over one job's memory, in this thread. */
const pair = (arenaBytes = 1 << 20) => {
  const regions = allocate(geometry(2, { arenaBytes }, 2))
  initialize(regions)
  return [new ShmTransport(regions, 0), new ShmTransport(regions, 1)] as const
}

describe("shared segments", () => {
  it("are the same memory on every rank that attaches: bytes and flags written on one are read on the other", () => {
    const [a, b] = pair()
    const mine = a.segments.create(4096, 2)!
    const theirs = b.segments.attach(mine.handle, 4096)
    mine.bytes[100] = 42
    mine.store(7, 123456)
    expect(theirs.bytes[100]).toBe(42)
    expect(theirs.load(7)).toBe(123456)
    theirs.store(0, -5)
    expect(mine.load(0)).toBe(-5)
    expect(mine.bytes.byteOffset % 8).toBe(0)
    a.close()
    b.close()
  })

  it("are freed when the last member detaches, not before", () => {
    const [a, b] = pair()
    const first = a.segments.create(64 * 1024, 2)!
    const other = b.segments.attach(first.handle, 64 * 1024)
    first.detach()
    first.detach() // a second detach by the same rank is ignored
    // Still held by rank 1: a new segment does not get the same memory.
    const second = a.segments.create(64 * 1024, 1)!
    expect(second.handle).not.toBe(first.handle)
    other.detach()
    second.detach()
    // Both gone: the memory is reused, zeroed.
    const third = a.segments.create(64 * 1024, 1)!
    expect([first.handle, second.handle]).toContain(third.handle)
    expect(third.load(0)).toBe(0)
    a.close()
    b.close()
  })

  it("take at most half the arena: beyond, create says so with undefined", () => {
    const [a, b] = pair(1 << 20)
    expect(a.segments.create(768 * 1024, 2)).toBeUndefined()
    const half = a.segments.create(256 * 1024, 1)
    expect(half).toBeDefined()
    expect(() => a.segments.create(100, 1)).toThrow(RangeError)
    expect(() => a.segments.attach(1 << 30, 64)).toThrow(RangeError)
    a.close()
    b.close()
  })

  it("tell watchers when the transport handles news, until they unsubscribe", async () => {
    const [a, b] = pair()
    let first = 0
    let second = 0
    const stopFirst = b.segments.watch(() => first++)
    b.segments.watch(() => second++)
    const segment = a.segments.create(4096, 2)!
    // Rank 1 is not spinning, so the signal rings its doorbell: its next poll handles the news.
    segment.signal(1)
    expect(b.poll()).toBe(true)
    expect(first).toBeGreaterThan(0)
    expect(second).toBe(first)
    stopFirst()
    const before = first
    // The poll started a spin; when it ends (the event loop's next check phase) rank 1 handles news again.
    await new Promise((r) => setImmediate(r))
    expect(second).toBeGreaterThan(before)
    expect(first).toBe(before)
    a.close()
    b.close()
  })

})
