/**
 * The rankflow side of bench/mpi.ts: the same OSU-style figures as
 * bench/baselines/mpi4py/osu.py, measured the same way, so that the two
 * compare one to one. The whole list runs `passes` times and every figure
 * carries its pass; bench/mpi.ts reports the last: V8 compiles a job's code
 * while it runs, and the first passes pay for it (a JIT runtime's warm-up,
 * which Open MPI's compiled code does not have; docs/shm.md gives the
 * figures of every pass). Per-iteration samples after a 10 % warm-up; for a
 * collective, each iteration's time is the slowest rank's (a barrier
 * separates iterations, untimed); ping-pongs give half a round trip between
 * ranks 0 and 1. Every result is checked. Rank 0 returns the figures.
 */
import { Effect } from "effect"
import { Comm, Op } from "rankflow"
import { registerClass } from "rankflow/codecs"
import { Complex } from "../payloads/codecs.ts"

/** Microseconds: a figure's mean, median and p99. */
export interface Stats {
  readonly mean: number
  readonly median: number
  readonly p99: number
}

export interface Figure extends Stats {
  readonly name: string
  readonly bytes: number
  readonly ranks: number
  readonly iterations: number
  /** The pass of the whole list that measured it (0 first). */
  readonly pass: number
}

const iterations = (bytes: number, scale: number, base = 20_000): number => {
  const n = bytes <= 4096 ? base : Math.max(20, Math.floor(base * 4096 / bytes))
  return Math.max(10, Math.floor(n * scale))
}

const stats = (samples: ArrayLike<number>): Stats => {
  // A typed copy: a plain array of 20,000 numbers would land in V8's large-object space, part of the old generation, every figure.
  const s = Float64Array.from(samples).sort()
  const at = (q: number) => {
    // numpy's default (linear) percentile, as osu.py reports.
    const pos = q * (s.length - 1)
    const lo = Math.floor(pos)
    return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (pos - lo)
  }
  return { mean: s.reduce((a, b) => a + b, 0) / s.length, median: at(0.5), p99: at(0.99) }
}

const check = (ok: boolean, what: string): Effect.Effect<void, Error> => ok ? Effect.void : Effect.fail(new Error(`wrong result: ${what}`))

/*
 * The loops below are module-level functions (`Effect.fnUntraced`), not a
 * generator made inside each call: V8 keeps a function's optimized code
 * only while a closure made at its site is alive, and a loop's generator
 * made per call died after each figure, so every pass compiled the
 * benchmark's own loops again (TurboFan compiles of 10-27 ms each on a
 * helper thread, which took a core from a rank in the middle of the
 * measured figures). The library's hot paths follow the same rule
 * (core/messaging/completion.ts).
 */

/**
 * A rank's private buffer for the ping-pongs of `bytes`, made once per job
 * and reused by every pass, as OSU's benchmarks allocate their buffers once
 * (osu.py does the same): a fresh 64 MiB array per pass would bring on a
 * major collection in every pass, timed wherever it lands.
 */
const buffers = new Map<number, Uint8Array>()
const bufferOf = (bytes: number): Uint8Array => {
  let buf = buffers.get(bytes)
  if (buf === undefined) buffers.set(bytes, buf = new Uint8Array(bytes))
  return buf
}

/** Half round trips of a typed array between ranks 0 and 1 (send, then recvInto a buffer of one's own). */
const pingPong = Effect.fnUntraced(function*(w: Comm.Comm, bytes: number, scale: number, arena: boolean) {
  const n = iterations(bytes, scale)
  const warm = Math.floor(n / 10)
  const times = new Float64Array(n)
  if (w.rank <= 1) {
    const peer = 1 - w.rank
    if (arena) {
      // The arena path: the same shared array bounces, no copy (sent and received whole).
      let buf: Uint8Array = yield* w.alloc(Uint8Array, bytes)
      if (w.rank === 0) buf.fill(7)
      for (let i = 0; i < n + warm; i++) {
        const t = performance.now()
        if (w.rank === 0) {
          yield* w.send(buf, { dest: peer, tag: 1 })
          buf = (yield* w.recv({ source: peer, tag: 1 })) as Uint8Array
          if (i >= warm) times[i - warm] = (performance.now() - t) * 1000 / 2
        } else {
          buf = (yield* w.recv({ source: peer, tag: 1 })) as Uint8Array
          yield* w.send(buf, { dest: peer, tag: 1 })
        }
      }
      yield* check(bytes === 0 || (buf[0] === 7 && buf[bytes - 1] === 7), `arena ping-pong of ${bytes} B`)
      yield* w.release(buf)
    } else {
      const buf = bufferOf(bytes)
      buf.fill(w.rank === 0 ? 7 : 0)
      for (let i = 0; i < n + warm; i++) {
        const t = performance.now()
        if (w.rank === 0) {
          yield* w.send(buf, { dest: peer, tag: 1 })
          yield* w.recvInto(buf, { source: peer, tag: 1 })
          if (i >= warm) times[i - warm] = (performance.now() - t) * 1000 / 2
        } else {
          yield* w.recvInto(buf, { source: peer, tag: 1 })
          yield* w.send(buf, { dest: peer, tag: 1 })
        }
      }
      yield* check(bytes === 0 || (buf[0] === 7 && buf[bytes - 1] === 7), `ping-pong of ${bytes} B`)
    }
  }
  yield* w.barrier()
  return w.rank === 0 ? [{ name: arena ? "pingpong-arena" : "pingpong", bytes, ranks: 2, iterations: n, ...stats(times) }] : []
})

/** A collective timed per iteration; the figure per iteration is the slowest rank's. */
const timed = Effect.fnUntraced(function*<A>(w: Comm.Comm, name: string, bytes: number, scale: number, op: Effect.Effect<A, unknown>, ok: (a: A) => boolean) {
  const n = iterations(bytes, scale, 5000)
  const warm = Math.floor(n / 10)
  const times = new Float64Array(n)
  let result: A | undefined
  for (let i = 0; i < n + warm; i++) {
    yield* w.barrier()
    const t = performance.now()
    result = yield* op
    if (i >= warm) times[i - warm] = (performance.now() - t) * 1000
  }
  yield* check(ok(result as A), `${name} of ${bytes} B on ${w.size} ranks`)
  const worst = yield* w.reduce(times, Op.MAX, { root: 0 })
  return w.rank === 0 ? [{ name, bytes, ranks: w.size, iterations: n, ...stats(worst!) }] : []
})

// mpi4py's `2+3j`: a registered class, as examples/bcast-dict.ts has it.
registerClass(Complex, { name: "Complex" })

/** The tutorial's dict: `{"key1": [7, 2.72, 2+3j], "key2": ("abc", "xyz")}`. */
const DICT = { key1: [7, 2.72, new Complex(2, 3)], key2: ["abc", "xyz"] }

/** The tutorial's dict: ping-pong by send/recv (pickle), between ranks 0 and 1. */
const objectPingPong = Effect.fnUntraced(function*(w: Comm.Comm, scale: number) {
  const n = iterations(0, scale)
  const warm = Math.floor(n / 10)
  const times = new Float64Array(n)
  let got: unknown
  if (w.rank <= 1) {
    for (let i = 0; i < n + warm; i++) {
      const t = performance.now()
      if (w.rank === 0) {
        yield* w.send(DICT, { dest: 1, tag: 2 })
        got = yield* w.recv({ source: 1, tag: 2 })
        if (i >= warm) times[i - warm] = (performance.now() - t) * 1000 / 2
      } else {
        got = yield* w.recv({ source: 0, tag: 2 })
        yield* w.send(got, { dest: 0, tag: 2 })
      }
    }
    yield* check(JSON.stringify(got) === JSON.stringify(DICT), "object ping-pong")
  }
  yield* w.barrier()
  return w.rank === 0 ? [{ name: "pingpong-object", bytes: 0, ranks: 2, iterations: n, ...stats(times) }] : []
})

/** Every figure osu.py gives for this many ranks, in its order, `passes` times over (osu.py does the same). */
export const osu = Effect.fnUntraced(function*(scale: number, passes: number) {
  const w = yield* Comm.World
  const out: Array<Figure> = []
  for (let pass = 0; pass < passes; pass++) {
    for (const f of yield* figures(w, scale)) out.push({ ...f, pass })
  }
  return out
})

/** One pass over the figures. */
const figures = Effect.fnUntraced(function*(w: Comm.Comm, scale: number) {
  const { size } = w
  const out: Array<Omit<Figure, "pass">> = []
  if (size >= 2) {
    for (const bytes of [8, 4096, 1 << 20, 64 << 20]) {
      if (size === 2 || bytes <= 4096) out.push(...yield* pingPong(w, bytes, scale, false))
    }
    if (size === 2) for (const bytes of [1 << 20, 64 << 20]) out.push(...yield* pingPong(w, bytes, scale, true))
    out.push(...yield* timed(w, "bcast-object", 0, scale, w.bcast(w.rank === 0 ? DICT : undefined, { root: 0 }), (r) => JSON.stringify(r) === JSON.stringify(DICT)))
    if (size === 2) out.push(...yield* objectPingPong(w, scale))
  }
  out.push(...yield* timed(w, "barrier", 0, scale, w.barrier(), () => true))
  const b8 = new Float64Array(1)
  out.push(...yield* timed(w, "bcast", 8, scale, Effect.suspend(() => {
    if (w.rank === 0) b8[0] = 42
    return w.bcast(b8, { root: 0, into: b8 })
  }), (r) => r[0] === 42))
  const expected = size * (size + 1) / 2
  for (const count of [1, 131072]) {
    const send = new Float64Array(count).fill(w.rank + 1)
    const recv = new Float64Array(count)
    out.push(...yield* timed(w, "allreduce", count * 8, scale, w.allreduce(send, Op.SUM, { into: recv }), (r) => r[0] === expected && r[count - 1] === expected))
  }
  for (const count of [1, 8192]) {
    const send = new Float64Array(count).fill(w.rank)
    const recv = new Float64Array(count * size)
    out.push(...yield* timed(w, "allgather", count * 8, scale, w.allgather(send, { into: recv }), (r) => r[r.length - 1] === size - 1))
  }
  return out
})
