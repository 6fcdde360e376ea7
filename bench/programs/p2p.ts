/**
 * Rank programs of the point-to-point benchmark (OSU style). Rank 0 measures;
 * every program returns its figures from rank 0.
 */
import { Effect } from "effect"
import { Comm, Request } from "rankflow"

export type Path = "object" | "buffer" | "zero-copy"

const now = () => performance.now()

/** The message of `bytes` bytes for a path: a pickled object holding the bytes, a typed array, or an arena array. */
const messageFor = (w: Comm.Comm, path: Path, bytes: number) =>
  Effect.gen(function*() {
    if (path === "zero-copy") return yield* w.alloc(Uint8Array, bytes)
    const data = new Uint8Array(bytes).fill(1)
    return path === "object" ? { data } : data
  })

const releaseReceived = (w: Comm.Comm, path: Path, v: unknown) =>
  path === "object" ? w.release((v as { data: Uint8Array }).data) : path === "buffer" ? Effect.void : w.release(v as Uint8Array)

/** Half round trip in µs for each size: ranks 0 and 1 bounce one message back and forth. */
export const pingPong = (path: Path, sizes: ReadonlyArray<number>, budgetMillis: number) =>
  Effect.gen(function*() {
    const w = yield* Comm.World
    const out: Array<{ bytes: number; iterations: number; halfRoundTripMicros: number }> = []
    if (w.rank > 1) return out
    const peer = 1 - w.rank
    for (const bytes of sizes) {
      let msg: unknown = yield* messageFor(w, path, bytes)
      const into = new Uint8Array(bytes)
      // Warm up, then find how many round trips fit the budget.
      let iterations = 4
      let elapsed = 0
      for (;;) {
        yield* w.barrier()
        const t0 = now()
        for (let i = 0; i < iterations; i++) {
          if (w.rank === 0) {
            yield* w.send(msg, { dest: peer, tag: 1 })
            if (path === "buffer") yield* w.recvInto(into, { source: peer, tag: 1 })
            else msg = yield* w.recv({ source: peer, tag: 1 })
          } else {
            if (path === "buffer") yield* w.recvInto(into, { source: peer, tag: 1 })
            else msg = yield* w.recv({ source: peer, tag: 1 })
            yield* w.send(path === "buffer" ? into : msg, { dest: peer, tag: 1 })
          }
        }
        elapsed = now() - t0
        // Both ranks must agree on whether to go on: rank 0 decides.
        const more = yield* w.sendrecv<boolean>(elapsed < budgetMillis / 4 && iterations < 1 << 22, { dest: peer, source: peer, tag: 2 })
        const goOn = w.rank === 0 ? elapsed < budgetMillis / 4 && iterations < 1 << 22 : more
        if (!goOn) break
        iterations *= 4
      }
      if (path !== "buffer") yield* releaseReceived(w, path, msg)
      out.push({ bytes, iterations, halfRoundTripMicros: (elapsed * 1000) / iterations / 2 })
    }
    return out
  })

/** Streaming bandwidth in MB/s: rank 0 sends windows of non-blocking sends, rank 1 acknowledges each window. */
export const bandwidth = (path: Path, sizes: ReadonlyArray<number>, budgetMillis: number) =>
  Effect.gen(function*() {
    const w = yield* Comm.World
    const out: Array<{ bytes: number; window: number; windows: number; mbPerSecond: number }> = []
    if (w.rank > 1) return out
    for (const bytes of sizes) {
      // At most 256 MiB in flight (64 MiB from the shared arena on the zero-copy path).
      const inFlight = (path === "zero-copy" ? 64 : 256) * 1024 * 1024
      const window = Math.max(1, Math.min(64, Math.floor(inFlight / Math.max(bytes, 1))))
      const msgs = w.rank === 0 ? yield* Effect.forEach(Array.from({ length: window }), () => messageFor(w, path, bytes)) : []
      const intos = path === "buffer" && w.rank === 1 ? Array.from({ length: window }, () => new Uint8Array(bytes)) : []
      let windows = 1
      let elapsed = 0
      for (;;) {
        yield* w.barrier()
        const t0 = now()
        for (let k = 0; k < windows; k++) {
          if (w.rank === 0) {
            const reqs = yield* Effect.forEach(msgs, (m) => w.isend(m, { dest: 1, tag: 3 }))
            yield* Request.waitAll(reqs)
            yield* w.recv({ source: 1, tag: 4 })
          } else {
            if (path === "buffer") {
              const reqs = yield* Effect.forEach(intos, (b) => w.irecvInto(b, { source: 0, tag: 3 }))
              yield* Request.waitAll(reqs)
            } else {
              const reqs = yield* Effect.forEach(Array.from({ length: window }), () => w.irecv({ source: 0, tag: 3 }))
              const got = yield* Request.waitAll(reqs)
              for (const v of got) yield* releaseReceived(w, path, v)
            }
            yield* w.send(0, { dest: 0, tag: 4 })
          }
        }
        elapsed = now() - t0
        const decision = elapsed < budgetMillis / 4 && windows < 1 << 16
        const goOn = yield* w.sendrecv<boolean>(decision, { dest: 1 - w.rank, source: 1 - w.rank, tag: 5 })
        if (!(w.rank === 0 ? decision : goOn)) break
        windows *= 2
      }
      if (path === "zero-copy" && w.rank === 0) for (const m of msgs) yield* w.release(m as Uint8Array)
      out.push({ bytes, window, windows, mbPerSecond: (bytes * window * windows) / (elapsed * 1000) })
    }
    return out
  })

/** Microseconds per hop of a token passed around every rank. */
export const tokenRing = (budgetMillis: number) =>
  Effect.gen(function*() {
    const w = yield* Comm.World
    const next = (w.rank + 1) % w.size
    const prev = (w.rank - 1 + w.size) % w.size
    const token = new Float64Array(1)
    let laps = 4
    let elapsed = 0
    for (;;) {
      yield* w.barrier()
      const t0 = now()
      for (let lap = 0; lap < laps; lap++) {
        if (w.rank === 0) {
          yield* w.send(token, { dest: next, tag: 6 })
          yield* w.recvInto(token, { source: prev, tag: 6 })
        } else {
          yield* w.recvInto(token, { source: prev, tag: 6 })
          yield* w.send(token, { dest: next, tag: 6 })
        }
      }
      elapsed = now() - t0
      // Rank 0 decides whether to double the laps; the decision goes around the ring too.
      const decision = w.rank === 0
        ? elapsed < budgetMillis / 4 && laps < 1 << 20
        : yield* w.recv<boolean>({ source: prev, tag: 8 })
      if (w.size > 1 && next !== 0) yield* w.send(decision, { dest: next, tag: 8 })
      if (!decision) break
      laps *= 2
    }
    return { laps, microsPerHop: (elapsed * 1000) / (laps * w.size) }
  })

/** CPU used by the whole process while rank 1 is blocked in a receive for `seconds` and rank 0 sleeps. */
export const idle = (seconds: number) =>
  Effect.gen(function*() {
    const w = yield* Comm.World
    yield* w.barrier()
    const cpu0 = process.cpuUsage()
    const t0 = now()
    if (w.rank === 0) {
      yield* Effect.sleep(seconds * 1000)
      yield* w.send("wake up", { dest: 1, tag: 7 })
    } else if (w.rank === 1) yield* w.recv({ source: 0, tag: 7 })
    const cpu = process.cpuUsage(cpu0)
    const wall = now() - t0
    return { seconds: wall / 1000, cpuPercentOfOneCore: ((cpu.user + cpu.system) / 1000 / wall) * 100 }
  })
