/**
 * The shared arena: a first-fit allocator with reference-counted blocks, in
 * shared memory, safe across threads.
 */
import { describe, expect, it } from "@effect/vitest"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { Worker } from "node:worker_threads"
import { Arena, initialize } from "../../transports/shm/Arena.ts"
import { allocate, geometry } from "../../transports/shm/Layout.ts"

const arena = (bytes: number): Arena => {
  const regions = allocate(geometry(1, { arenaBytes: bytes }, 1))
  initialize(regions)
  return new Arena(regions)
}

setFlagsFromString("--expose-gc")
const gc = runInNewContext("gc") as () => void
/** Collects garbage and lets FinalizationRegistry callbacks run. */
const collectGarbage = async (): Promise<void> => {
  for (let i = 0; i < 3; i++) {
    gc()
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe("Arena", () => {
  it("alloc returns a zeroed array of the requested type and length at a 64-byte aligned offset", () => {
    const a = arena(1 << 20)
    const x = a.alloc(Float64Array, 1000)!
    const y = a.alloc(Int16Array, 3)!
    expect(x).toBeInstanceOf(Float64Array)
    expect([x.length, y.length]).toEqual([1000, 3])
    expect([x.byteOffset % 64, y.byteOffset % 64]).toEqual([0, 0])
    expect(x.every((v) => v === 0)).toBe(true)
    expect(x.buffer).toBeInstanceOf(SharedArrayBuffer)
    expect(y.byteOffset).toBeGreaterThanOrEqual(x.byteOffset + x.byteLength)
  })

  it("memory given back is reused first, and handed out zeroed again", () => {
    const a = arena(1 << 20)
    const x = a.alloc(Uint8Array, 5000)!
    x.fill(7)
    const offset = x.byteOffset
    expect(a.release(x)).toBe(true)
    const z = a.alloc(Uint8Array, 5000)!
    expect(z.byteOffset).toBe(offset)
    expect(z.every((v) => v === 0)).toBe(true)
  })

  it("alloc returns undefined when no free block is large enough, and freed neighbours merge so that a large block fits again", () => {
    const a = arena(1 << 20)
    const quarters = [0, 1, 2, 3].map(() => a.alloc(Uint8Array, (1 << 18) - 128))
    expect(quarters.every((q) => q !== undefined)).toBe(true)
    expect(a.alloc(Uint8Array, 1 << 18)).toBeUndefined()
    for (const i of [1, 3, 0, 2]) a.release(quarters[i]!)
    expect(a.alloc(Uint8Array, (1 << 20) - 64)).toBeDefined()
  })

  it("owns tells arena arrays apart; release is false for arrays it did not hand out and for a second release", () => {
    const a = arena(1 << 20)
    const x = a.alloc(Uint32Array, 10)!
    expect(a.owns(x)).toBe(true)
    expect(a.owns(x.subarray(2))).toBe(true)
    expect(a.owns(new Uint32Array(10))).toBe(false)
    expect(a.owns(new Uint8Array(new SharedArrayBuffer(8)))).toBe(false)
    expect(a.release(new Uint8Array(4))).toBe(false)
    expect(a.release(x)).toBe(true)
    expect(a.release(x)).toBe(false)
  })

  it("a block stays allocated until its last reference is dropped", () => {
    const a = arena(1 << 20)
    const x = a.alloc(Uint8Array, 700_000)!
    const block = a.blockOf(x)
    a.retain(block)
    a.release(x)
    expect(a.alloc(Uint8Array, 700_000)).toBeUndefined()
    a.releaseBlock(block)
    expect(a.alloc(Uint8Array, 700_000)).toBeDefined()
  })

  it("blockOf finds the block of any view inside it, and none for views reaching past it", () => {
    const a = arena(1 << 20)
    const x = a.alloc(Uint8Array, 1000)!
    const block = a.blockOf(x)
    expect(block).toBeGreaterThanOrEqual(0)
    expect(a.blockOf(x.subarray(500, 600))).toBe(block)
    expect(a.blockOf(new Uint8Array(x.buffer, x.byteOffset, 5000))).toBe(-1)
    expect(a.blockOf(new Uint8Array(10))).toBe(-1)
  })

  it("an array that is collected gives its block back, but not while a view derived from it lives", async () => {
    const a = arena(1 << 20)
    let x: Uint8Array | undefined = a.alloc(Uint8Array, 800_000)!
    let derived: Float64Array | undefined = new Float64Array(x.buffer, x.byteOffset, 1000) // what a decoder makes of a frame
    x = undefined
    await collectGarbage()
    expect(a.alloc(Uint8Array, 800_000)).toBeUndefined()
    expect(derived.length).toBe(1000)
    derived = undefined
    await collectGarbage()
    expect(a.alloc(Uint8Array, 800_000)).toBeDefined()
  })

  it("threads allocating and releasing at once never get overlapping memory", async () => {
    const regions = allocate(geometry(4, { arenaBytes: 4 << 20 }, 4))
    initialize(regions)
    const url = new URL("./fixtures/arenaWorker.ts", import.meta.url)
    const reports = await Promise.all(
      [1, 2, 3, 4].map(
        (mark) =>
          new Promise<{ problems: Array<string> }>((resolve, reject) => {
            const w = new Worker(url, { workerData: { regions, mark, iterations: 30_000 } })
            w.once("message", resolve)
            w.once("error", reject)
          })
      )
    )
    expect(reports.flatMap((r) => r.problems)).toEqual([])
    const a = new Arena(regions)
    expect(a.alloc(Uint8Array, (4 << 20) - 64)).toBeDefined() // everything was given back and merged
  }, 120_000)
})
