/**
 * How an shm rank waits: the defaults by ranks and cores, the core yield,
 * and the sleep on the doorbell that a peer's ring ends even while the
 * rank's `waitAsync` is armed on the same word.
 */
import { Worker } from "node:worker_threads"
import { describe, expect, it, vi } from "@effect/vitest"
import { Effect } from "effect"
import { program, useWorlds } from "../support/worlds.ts"
import { OwnBell } from "../../transports/shm/Doorbell.ts"
import { allocate, DEFAULT_IDLE_CORE_SPIN_MICROS, DEFAULT_SLEEP_MICROS, DEFAULT_SPIN_MICROS, DEFAULT_YIELDING_SPIN_MICROS, geometry } from "../../transports/shm/Layout.ts"
import * as Arena from "../../transports/shm/Arena.ts"
import { ShmTransport } from "../../transports/shm/ShmTransport.ts"
import { spinWhile, waitsInPlace } from "../../core/messaging/completion.ts"
import { until } from "./fixtures/inThread.ts"

describe("waiting defaults", () => {
  it("ranks that fit the cores spin; where they outnumber them only collectives spin, yielding their core; sleeping is opt-in", () => {
    expect(geometry(2, {}, 2)).toMatchObject({ spinMicros: DEFAULT_SPIN_MICROS, yieldingSpinMicros: 0, sleepMicros: DEFAULT_SLEEP_MICROS })
    expect(geometry(3, {}, 2)).toMatchObject({ spinMicros: 0, yieldingSpinMicros: DEFAULT_YIELDING_SPIN_MICROS, sleepMicros: DEFAULT_SLEEP_MICROS })
    expect(DEFAULT_SLEEP_MICROS).toBe(0)
    expect(geometry(8, { spinMicros: 20, sleepMicros: 500 }, 2)).toMatchObject({ spinMicros: 20, yieldingSpinMicros: DEFAULT_YIELDING_SPIN_MICROS, sleepMicros: 500 })
  })

  it("where ranks outnumber cores, a wait for a message spins only while no more ranks run than cores (unless spinMicros was given)", () => {
    expect(geometry(2, {}, 2).idleCoreSpinMicros).toBe(0)
    expect(geometry(3, {}, 2)).toMatchObject({ idleCoreSpinMicros: DEFAULT_IDLE_CORE_SPIN_MICROS, cores: 2 })
    expect(geometry(8, { spinMicros: 0 }, 2).idleCoreSpinMicros).toBe(0)
    expect(DEFAULT_IDLE_CORE_SPIN_MICROS).toBeGreaterThan(0)
  })

  it("a negative sleepMicros, or a parallelScavenge that is not a boolean, is refused with a RangeError naming it", () => {
    expect(() => geometry(2, { sleepMicros: -1 }, 2)).toThrow(/sleepMicros must be >= 0/)
    expect(() => geometry(2, { parallelScavenge: "false" as unknown as boolean }, 2)).toThrow(/parallelScavenge must be true or false, got "false"/)
  })
})

describe("spinning on the cores parked ranks leave", () => {
  // Four ranks on a machine of two cores, in this thread: the "running" words decide, not the threads.
  const four = (): Array<ShmTransport> => {
    const regions = allocate(geometry(4, {}, 2))
    Arena.initialize(regions)
    return Array.from({ length: 4 }, (_, r) => new ShmTransport(regions, r))
  }

  it("counts running ranks: none spin while all run, one does once two others parked, and a parked rank that polls or sends runs again", () => {
    const [t0, t1, t2, t3] = four() as [ShmTransport, ShmTransport, ShmTransport, ShmTransport]
    try {
      expect(t0.spinBudget!()).toBe(0)
      t2.park!()
      expect(t0.spinBudget!()).toBe(0) // three running on two cores
      t3.park!()
      expect(t0.spinBudget!()).toBe(DEFAULT_IDLE_CORE_SPIN_MICROS)
      expect(t1.spinBudget!()).toBe(DEFAULT_IDLE_CORE_SPIN_MICROS)
      t2.poll()
      expect(t0.spinBudget!()).toBe(0)
      t2.park!()
      t3.send(0, { envelope: new Uint8Array(16), frames: { header: new Uint8Array(8), buffers: [] } }, () => {})
      expect(t0.spinBudget!()).toBe(0)
      // A closed rank no longer counts; a rank asking for a budget runs.
      t3.close()
      t1.park!()
      expect(t2.spinBudget!()).toBe(DEFAULT_IDLE_CORE_SPIN_MICROS)
      expect(t0.spinBudget!()).toBe(DEFAULT_IDLE_CORE_SPIN_MICROS)
    } finally {
      for (const t of [t0, t1, t2, t3]) t.close()
    }
  })

  it("news for a parked rank wakes it without counting it as running (the news may not be for a wait of its own)", async () => {
    const ts = four()
    const [t0, , t2, t3] = ts as [ShmTransport, ShmTransport, ShmTransport, ShmTransport]
    try {
      let arrived = 0
      t2.onArrival((a) => {
        arrived++
        a.discard()
      })
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r)) // what onArrival scheduled
      t2.park()
      t3.park()
      const wakes = t2.stats.wakes
      t0.send(2, { envelope: new Uint8Array(16), frames: { header: new Uint8Array(8), buffers: [] } }, () => {})
      // Events, not a count of turns: on a loaded machine the wake-up may take many.
      await until(() => arrived === 1 && t2.stats.wakes > wakes, "the arrival and the armed wait's wake-up")
      expect(arrived).toBe(1)
      expect(t2.stats.wakes).toBeGreaterThan(wakes) // its armed wait fired
      expect(t0.spinBudget()).toBe(DEFAULT_IDLE_CORE_SPIN_MICROS)
    } finally {
      for (const t of ts) t.close()
    }
  })

  it("a transport that only wants to hear of suspending waiters (park, no spin: NATS) is told once per wait, and never polled", () => {
    let parks = 0
    let polls = 0
    const spin = { spinMicros: 0, poll: () => (polls++, false), park: () => parks++ }
    expect(waitsInPlace(spin)).toBe(true)
    expect(waitsInPlace({ spinMicros: 0, poll: () => false })).toBe(false)
    spinWhile(spin, () => true)
    spinWhile(spin, () => true)
    expect([parks, polls]).toEqual([2, 0])
  })

  it("a wait with no budget parks at once without polling; one that spins out parks once; one that ends does not", () => {
    let parks = 0
    let polls = 0
    const spin = (budget: number) => ({ spinMicros: 0, spinBudget: () => budget, poll: () => (polls++, false), park: () => parks++ })
    spinWhile(spin(0), () => true)
    expect([parks, polls]).toEqual([1, 0])
    spinWhile(spin(200), () => true)
    expect(parks).toBe(2)
    expect(polls).toBeGreaterThan(0)
    let left = 3
    spinWhile(spin(1_000_000), () => left-- > 0)
    expect(parks).toBe(2)
  })
})

describe("yielding the core", () => {
  it("a spin yields between polls once it found nothing for YIELD_AFTER_MICROS; while more ranks run than cores, from the first poll", async () => {
    vi.resetModules()
    const yields = vi.fn()
    vi.doMock("../../transports/yieldThread.ts", () => ({ yieldThread: yields }))
    try {
      const { ShmTransport: Fresh } = await import("../../transports/shm/ShmTransport.ts")
      const { YIELD_AFTER_MICROS } = await import("../../transports/shm/Layout.ts")
      // Rank 0's pauses in a job of `size` on `cores`, with `parked` of the other ranks parked.
      const pausesOf = (size: number, cores: number, spun: Array<number>, parked = 0): number => {
        const regions = allocate(geometry(size, {}, cores))
        Arena.initialize(regions)
        const ts = Array.from({ length: size }, (_, r) => new Fresh(regions, r))
        for (let r = 1; r <= parked; r++) ts[r]!.park()
        yields.mockClear()
        for (const s of spun) ts[0]!.pause(s)
        for (const t of ts) t.close()
        return yields.mock.calls.length
      }
      expect(pausesOf(2, 2, [0, 1, YIELD_AFTER_MICROS - 1])).toBe(0)
      expect(pausesOf(2, 2, [YIELD_AFTER_MICROS, 5 * YIELD_AFTER_MICROS])).toBe(2)
      expect(pausesOf(3, 2, [0, 1])).toBe(2) // three running on two cores
      expect(pausesOf(3, 2, [0, 1, YIELD_AFTER_MICROS], 1)).toBe(1) // two running: a core each
    } finally {
      vi.doUnmock("../../transports/yieldThread.ts")
      vi.resetModules()
    }
  })

  it("yieldThread returns at once, and loading WASI for it prints no experimental warning", async () => {
    vi.resetModules()
    const warnings: Array<string> = []
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`)
    process.on("warning", onWarning)
    try {
      const { yieldThread } = await import("../../transports/yieldThread.ts")
      for (let i = 0; i < 1000; i++) yieldThread()
      await new Promise((r) => setImmediate(r))
    } finally {
      process.off("warning", onWarning)
    }
    expect(warnings.filter((w) => /WASI/.test(w))).toEqual([])
  })
})

describe("sleeping on the doorbell", () => {
  it("a peer's ring wakes a sleeping rank whose waitAsync is armed on the same word: no sleep runs to its end", async () => {
    const regions = allocate(geometry(2, {}, 2))
    const rounds = new SharedArrayBuffer(4)
    const round = new Int32Array(rounds)
    let news = 0
    const bell = new OwnBell(regions.control, 0, () => news++)
    const ringer = new Worker(new URL("./fixtures/ringer.ts", import.meta.url), { workerData: { control: regions.control, rounds } })
    const done = new Promise((resolve, reject) => {
      ringer.once("message", resolve)
      ringer.once("error", reject)
    })
    try {
      // Rounds until the thread has slept through three rings (a ring that comes before it falls asleep
      // is seen without sleeping, and proves nothing): the count of sleeps, not a delay, decides.
      for (let i = 1; bell.sleeps < 3 && i <= 200; i++) {
        bell.arm()
        Atomics.store(round, 0, i)
        Atomics.notify(round, 0)
        // 5 s: a ring that woke only the armed wait would leave this thread asleep until then.
        bell.sleep(5_000_000, () => true)
        bell.acknowledge()
        await new Promise((r) => setImmediate(r)) // lets the armed wait's wake-up run
      }
      Atomics.store(round, 0, -1)
      Atomics.notify(round, 0)
      await done
    } finally {
      await ringer.terminate()
      bell.stop()
    }
    expect(bell.sleepTimeouts).toBe(0)
    expect(bell.sleeps).toBeGreaterThan(0)
    expect(news).toBeGreaterThan(0) // the armed waits were woken too
  }, 60_000)
})

// Ranks that sleep in Atomics.wait between messages (the opt-in stage), and on 8 ranks of a small
// machine also collectives that spin yielding their core: every result is still right.
describe.each([2, 4, 8])("ranks that sleep on their doorbell (sleepMicros), %i ranks", (size) => {
  const worlds = useWorlds({ transportOptions: { sleepMicros: 5_000 } })
  it.effect("a ring relay, wildcards, requests, and the barrier, bcast, allgather and reduction suites", () =>
    Effect.all([
      worlds.run(size, program("p2p.ts", "ringRelay")),
      worlds.run(size, program("p2p.ts", "wildcards")),
      worlds.run(size, program("p2p.ts", "requestVariants")),
      worlds.run(size, program("collectives.ts", "world", "barrier")),
      worlds.run(size, program("collectives.ts", "world", "bcast")),
      worlds.run(size, program("collectives.ts", "world", "allgather")),
      worlds.run(size, program("collectives.ts", "world", "bufferReductions"))
    ], { discard: true }), 120_000)
})
