/**
 * Rank programs of the point-to-point benchmark (OSU style). Rank 0 measures;
 * every program returns its figures from rank 0.
 */
import { Effect } from "effect"
import { Comm, Request } from "rankflow"

/**
 * object: a pickled object holding the bytes; buffer: a typed array, received
 * with `recv` (the transport chooses where it lands); into: a typed array
 * received into the caller's own (private) buffer with `recvInto`;
 * zero-copy: an array from the shared arena.
 */
export type Path = "object" | "buffer" | "into" | "zero-copy"

const now = () => performance.now()

/** The message of `bytes` bytes for a path: a pickled object holding the bytes, a typed array, or an arena array. */
const messageFor = (w: Comm.Comm, path: Path, bytes: number) =>
  Effect.gen(function*() {
    if (path === "zero-copy") return yield* w.alloc(Uint8Array, bytes)
    const data = new Uint8Array(bytes).fill(1)
    return path === "object" ? { data } : data
  })

/** Large received arrays may live in the arena: give them back at once, as a program in a loop should. */
const releaseReceived = (w: Comm.Comm, path: Path, v: unknown) =>
  path === "object" ? w.release((v as { data: Uint8Array }).data) : path === "into" ? Effect.void : w.release(v as Uint8Array)

/** One round trip of `msg` between ranks 0 and 1; returns what rank 0 holds afterwards. */
const roundTrip = (w: Comm.Comm, path: Path, msg: unknown, into: Uint8Array) =>
  Effect.gen(function*() {
    const peer = 1 - w.rank
    const receive = Effect.gen(function*() {
      if (path === "into") {
        yield* w.recvInto(into, { source: peer, tag: 1 })
        return into
      }
      const got = yield* w.recv({ source: peer, tag: 1 })
      // The zero-copy path bounces the same arena array; the others give theirs back.
      if (path === "zero-copy") return got
      yield* releaseReceived(w, path, got)
      return msg
    })
    if (w.rank === 0) {
      yield* w.send(msg, { dest: peer, tag: 1 })
      return yield* receive
    }
    const got = yield* receive
    yield* w.send(got, { dest: peer, tag: 1 })
    return got
  })

/**
 * Half round trip in µs for each size (OSU's mean, and the median): ranks 0
 * and 1 bounce one message back and forth, after a warm-up.
 */
export const pingPong = (path: Path, sizes: ReadonlyArray<number>, budgetMillis: number) =>
  Effect.gen(function*() {
    const w = yield* Comm.World
    const out: Array<{ bytes: number; iterations: number; halfRoundTripMicros: number; medianMicros: number }> = []
    if (w.rank > 1) return out
    const peer = 1 - w.rank
    /** One size's figure: round trips timed in loops that grow 4x until one takes a quarter of the budget. */
    const timeSize = (bytes: number) =>
      Effect.gen(function*() {
        let msg: unknown = yield* messageFor(w, path, bytes)
        const into = new Uint8Array(bytes)
        let iterations = 4
        let elapsed = 0
        let stamps = new Float64Array(0)
        for (;;) {
          stamps = new Float64Array(iterations + 1)
          const trip = roundTrip(w, path, msg, into)
          yield* w.barrier()
          stamps[0] = now()
          for (let i = 0; i < iterations; i++) {
            msg = yield* (path === "zero-copy" ? roundTrip(w, path, msg, into) : trip)
            stamps[i + 1] = now()
          }
          elapsed = stamps[iterations]! - stamps[0]!
          // Both ranks must agree on whether to go on: rank 0 decides.
          const decision = elapsed < budgetMillis / 4 && iterations < 1 << 20
          const theirs = yield* w.sendrecv<boolean>(decision, { dest: peer, source: peer, tag: 2 })
          if (!(w.rank === 0 ? decision : theirs)) break
          iterations *= 4
        }
        if (path === "zero-copy") yield* releaseReceived(w, path, msg)
        const each = Array.from({ length: iterations }, (_, i) => stamps[i + 1]! - stamps[i]!).sort((a, b) => a - b)
        return {
          bytes,
          iterations,
          halfRoundTripMicros: (elapsed * 1000) / iterations / 2,
          medianMicros: (each[iterations >> 1]! * 1000) / 2
        }
      })
    // Warm-up: let the JIT compile the whole path before anything is measured, then time an 8-byte
    // message once without keeping the figure, so that what the timed loops run between them (the
    // barrier, the exchange of decisions) has run too. The job's first collective after a long run
    // of point-to-point deoptimizes functions both use: on NATS (2 cores) the ~1,000 round trips
    // after it ran at 130-165 µs against ~90 µs, and the first timed loop of 1,024 measured that.
    {
      let msg: unknown = yield* messageFor(w, path, 8)
      const into = new Uint8Array(8)
      for (let i = 0; i < 20_000; i++) msg = yield* roundTrip(w, path, msg, into)
      if (path === "zero-copy") yield* releaseReceived(w, path, msg)
      yield* timeSize(8)
    }
    for (const bytes of sizes) out.push(yield* timeSize(bytes))
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
      const intos = path === "into" && w.rank === 1 ? Array.from({ length: window }, () => new Uint8Array(bytes)) : []
      // The first window is a warm-up: it touches fresh memory (the arena's pages, the receive buffers).
      let windows = 1
      let elapsed = 0
      let warm = false
      for (;;) {
        yield* w.barrier()
        const t0 = now()
        for (let k = 0; k < windows; k++) {
          if (w.rank === 0) {
            const reqs = yield* Effect.forEach(msgs, (m) => w.isend(m, { dest: 1, tag: 3 }))
            yield* Request.waitAll(reqs)
            yield* w.recv({ source: 1, tag: 4 })
          } else {
            if (path === "into") {
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
        if (!warm) {
          warm = true
          continue
        }
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

/**
 * One-way streaming in MB/s, shaped like the raw client's baseline: rank 0
 * sends `count` messages back to back in batches of 64 non-blocking sends
 * (the raw client flushes every 64), rank 1 receives them in batches of 64
 * receives, and one reply at the end stops the clock. Flow control is the
 * transport's own (credits), with no round trip per batch, unlike `bandwidth`.
 */
export const streaming = (sizes: ReadonlyArray<number>, budgetMillis: number) =>
  Effect.gen(function*() {
    const w = yield* Comm.World
    const out: Array<{ bytes: number; messages: number; mbPerSecond: number; messagesPerSecond: number }> = []
    if (w.rank > 1) return out
    const batch = 64
    for (const bytes of sizes) {
      const msgs = Array.from({ length: batch }, () => new Uint8Array(bytes).fill(1))
      // The first pass is a warm-up (the code paths compile, the credit window opens).
      let batches = 16
      let warm = false
      for (;;) {
        yield* w.barrier()
        const t0 = now()
        for (let k = 0; k < batches; k++) {
          if (w.rank === 0) {
            const reqs = yield* Effect.forEach(msgs, (m) => w.isend(m, { dest: 1, tag: 6 }))
            yield* Request.waitAll(reqs)
          } else {
            const reqs = yield* Effect.forEach(msgs, () => w.irecv<Uint8Array>({ source: 0, tag: 6 }))
            const got = yield* Request.waitAll(reqs)
            if (got[batch - 1]!.length !== bytes) return yield* Effect.die(new Error(`a ${bytes}-byte message arrived with ${got[batch - 1]!.length} bytes`))
          }
        }
        if (w.rank === 0) yield* w.recv({ source: 1, tag: 7 })
        else yield* w.send(0, { dest: 0, tag: 7 })
        const elapsed = now() - t0
        const decision = elapsed < budgetMillis / 2 && batches < 1 << 14
        const goOn = yield* w.sendrecv<boolean>(decision, { dest: 1 - w.rank, source: 1 - w.rank, tag: 8 })
        if (!warm) {
          warm = true
          continue
        }
        if ((w.rank === 0 ? decision : goOn) && batches < 1 << 14) {
          batches *= 2
          continue
        }
        const messages = batches * batch
        out.push({ bytes, messages, mbPerSecond: (bytes * messages) / (elapsed * 1000), messagesPerSecond: (messages * 1000) / elapsed })
        break
      }
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
    const lap = Effect.gen(function*() {
      if (w.rank === 0) {
        yield* w.send(token, { dest: next, tag: 6 })
        yield* w.recvInto(token, { source: prev, tag: 6 })
      } else {
        yield* w.recvInto(token, { source: prev, tag: 6 })
        yield* w.send(token, { dest: next, tag: 6 })
      }
    })
    // Warm-up: compile the path before measuring.
    for (let i = 0; i < 500; i++) yield* lap
    let laps = 4
    let elapsed = 0
    for (;;) {
      yield* w.barrier()
      const t0 = now()
      for (let i = 0; i < laps; i++) yield* lap
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
