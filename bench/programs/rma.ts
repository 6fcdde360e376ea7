/**
 * Rank programs of the RMA benchmark: rank 0 measures against rank 1's window,
 * and the same transfer by send/recv; every rank hammers a counter on rank 0.
 */
import { Effect } from "effect"
import { Comm, Op, Win } from "rankflow"

const now = () => performance.now()

/** Microseconds per put+flush, get, and send/recv round trip (bytes out, 8 back) of `bytes` bytes, over `seconds`. */
export const latency = (bytes: number, seconds: number) =>
  Effect.gen(function*() {
    const w = yield* Comm.World
    const win = yield* Win.allocate(w, bytes, "uint8")
    const data = new Uint8Array(bytes).fill(1)
    const ack = new Uint8Array(8)
    const timed = (op: Effect.Effect<unknown, unknown>) =>
      Effect.gen(function*() {
        let n = 0
        const deadline = now() + seconds * 1000
        const t0 = now()
        for (let i = 0; i < 20; i++) yield* op // warm-up
        const t1 = now()
        while (now() < deadline || n < 20) {
          yield* op
          n++
        }
        void t0
        return ((now() - t1) * 1000) / n
      })
    let put = 0
    let get = 0
    yield* win.lockAll()
    if (w.rank === 0) {
      put = yield* timed(Effect.andThen(win.put(data, 1, 0), win.flush(1)))
      get = yield* timed(win.get(data, 1, 0))
    }
    yield* win.unlockAll()
    yield* win.free()
    // The same transfer by messages: the bytes out, 8 bytes back (what a put's completion costs).
    let pingPong = 0
    const rounds = Math.max(50, Math.round(seconds * 2000))
    if (w.rank === 0) {
      for (let i = 0; i < 20; i++) {
        yield* w.send(data, { dest: 1 })
        yield* w.recvInto(ack, { source: 1 })
      }
      const t = now()
      for (let i = 0; i < rounds; i++) {
        yield* w.send(data, { dest: 1 })
        yield* w.recvInto(ack, { source: 1 })
      }
      pingPong = ((now() - t) * 1000) / rounds
    } else if (w.rank === 1) {
      const into = new Uint8Array(bytes)
      for (let i = 0; i < rounds + 20; i++) {
        yield* w.recvInto(into, { source: 0 })
        yield* w.send(ack, { dest: 0 })
      }
    }
    // A shared window (shm only): put and get are copies by the origin itself.
    let sharedPut: number | undefined
    let sharedGet: number | undefined
    const shared = yield* Effect.result(Win.allocateShared(w, bytes, "uint8"))
    if (shared._tag === "Success") {
      const s = shared.success
      yield* s.lockAll()
      if (w.rank === 0) {
        sharedPut = yield* timed(Effect.andThen(s.put(data, 1, 0), s.flush(1)))
        sharedGet = yield* timed(s.get(data, 1, 0))
      }
      yield* s.unlockAll()
      yield* s.free()
    }
    return { put, get, pingPong, sharedPut, sharedGet }
  })

/** fetchAndOp(1, rank 0) operations per second, all ranks together, for `seconds`. */
export const counter = (seconds: number) =>
  Effect.gen(function*() {
    const w = yield* Comm.World
    const win = yield* Win.allocate(w, w.rank === 0 ? 1 : 0, "float64")
    yield* win.lockAll()
    yield* w.barrier()
    let n = 0
    const t = now()
    const deadline = t + seconds * 1000
    while (now() < deadline) {
      yield* win.fetchAndOp(1, 0, 0, Op.SUM)
      n++
    }
    const elapsed = (now() - t) / 1000
    yield* win.unlockAll()
    const total = yield* w.allreduce(n, Op.SUM)
    const slowest = yield* w.allreduce(elapsed, Op.MAX)
    yield* win.free()
    return total / slowest
  })
