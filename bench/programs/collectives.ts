/**
 * Rank programs of the collectives benchmark (bench/collectives.ts), OSU
 * style: each rank times the collective alone (a barrier separates the
 * iterations and is not timed), and rank 0 collects every rank's mean.
 *
 * Plain timing loops rather than tinybench: every rank must run exactly the
 * same number of iterations in lockstep (a collective with a rank missing
 * never completes), while tinybench picks its iteration count per process
 * from its own clock. Rank 0 picks the count after a warm-up and broadcasts it.
 *
 * The baselines are the same operations written naively over the public
 * point-to-point API: the root sends to each rank in turn, and gathers by
 * receiving from each rank in turn.
 */
import { Effect } from "effect"
import { Comm, Op } from "rankflow"

export type Collective = "barrier" | "bcast" | "allreduce" | "allgather" | "alltoall"

/**
 * The implementations measured per collective: rankflow's as it chooses
 * ("rankflow"), for allreduce also each algorithm forced, and the naive one.
 */
export const implementations: Record<Collective, ReadonlyArray<string>> = {
  barrier: ["rankflow", "linear"],
  bcast: ["rankflow", "linear"],
  allreduce: ["rankflow", "recursive-doubling", "rabenseifner", "tree", "linear"],
  allgather: ["rankflow", "linear"],
  alltoall: ["rankflow", "linear"]
}

export interface Row {
  readonly collective: Collective
  readonly ranks: number
  /** Message size: the whole buffer (bcast, allreduce), one rank's part (allgather), one pair's part (alltoall). */
  readonly bytes: number
  readonly impl: string
  readonly iterations: number
  /** Mean over ranks of each rank's mean time per call (OSU's "average latency"). */
  readonly avgMicros: number
  readonly minMicros: number
  readonly maxMicros: number
}

const TAG = 7

// ---------------------------------------------------------------------------
// The naive baselines, over point-to-point only

const linearBarrier = (w: Comm.Comm) =>
  Effect.gen(function*() {
    if (w.rank === 0) {
      for (let r = 1; r < w.size; r++) yield* w.recv({ source: r, tag: TAG })
      for (let r = 1; r < w.size; r++) yield* w.send(null, { dest: r, tag: TAG })
    } else {
      yield* w.send(null, { dest: 0, tag: TAG })
      yield* w.recv({ source: 0, tag: TAG })
    }
  })

const linearBcast = (w: Comm.Comm, buffer: Uint8Array) =>
  Effect.gen(function*() {
    if (w.rank !== 0) return yield* w.recv<Uint8Array>({ source: 0, tag: TAG })
    for (let r = 1; r < w.size; r++) yield* w.send(buffer, { dest: r, tag: TAG })
    return buffer
  })

const linearAllreduce = (w: Comm.Comm, buffer: Float64Array) =>
  Effect.gen(function*() {
    if (w.rank !== 0) {
      yield* w.send(buffer, { dest: 0, tag: TAG })
      return yield* w.recv<Float64Array>({ source: 0, tag: TAG })
    }
    const acc = buffer.slice()
    for (let r = 1; r < w.size; r++) Op.reduceLocal(Op.SUM, acc, yield* w.recv<Float64Array>({ source: r, tag: TAG }), acc)
    for (let r = 1; r < w.size; r++) yield* w.send(acc, { dest: r, tag: TAG })
    return acc
  })

const linearAllgather = (w: Comm.Comm, buffer: Uint8Array) =>
  Effect.gen(function*() {
    if (w.rank !== 0) {
      yield* w.send(buffer, { dest: 0, tag: TAG })
      return yield* w.recv<Uint8Array>({ source: 0, tag: TAG })
    }
    const n = buffer.length
    const all = new Uint8Array(n * w.size)
    all.set(buffer)
    for (let r = 1; r < w.size; r++) all.set(yield* w.recv<Uint8Array>({ source: r, tag: TAG }), r * n)
    for (let r = 1; r < w.size; r++) yield* w.send(all, { dest: r, tag: TAG })
    return all
  })

/** Every rank sends its whole buffer to rank 0, which sends each rank its column. */
const linearAlltoall = (w: Comm.Comm, buffer: Uint8Array) =>
  Effect.gen(function*() {
    const p = w.size
    const n = buffer.length / p
    if (w.rank !== 0) {
      yield* w.send(buffer, { dest: 0, tag: TAG })
      return yield* w.recv<Uint8Array>({ source: 0, tag: TAG })
    }
    const rows: Array<Uint8Array> = [buffer]
    for (let r = 1; r < p; r++) rows.push(yield* w.recv<Uint8Array>({ source: r, tag: TAG }))
    const column = (j: number) => {
      const out = new Uint8Array(n * p)
      for (let i = 0; i < p; i++) out.set(rows[i]!.subarray(j * n, (j + 1) * n), i * n)
      return out
    }
    for (let j = 1; j < p; j++) yield* w.send(column(j), { dest: j, tag: TAG })
    return column(0)
  })

// ---------------------------------------------------------------------------

/** One call of `impl` of `collective` on `bytes`, as an Effect to repeat. */
const operation = (w: Comm.Comm, collective: Collective, impl: string, bytes: number): Effect.Effect<unknown, unknown> => {
  const naive = impl === "linear"
  switch (collective) {
    case "barrier":
      return naive ? linearBarrier(w) : w.barrier()
    case "bcast": {
      const buffer = new Uint8Array(bytes).fill(w.rank)
      return naive ? linearBcast(w, buffer) : w.bcast(buffer, { root: 0 })
    }
    case "allreduce": {
      const buffer = new Float64Array(Math.max(1, bytes / 8)).fill(w.rank)
      if (naive) return linearAllreduce(w, buffer)
      return w.allreduce(buffer, Op.SUM, impl === "rankflow" ? {} : { algorithm: impl as "recursive-doubling" | "rabenseifner" | "tree" })
    }
    case "allgather": {
      const buffer = new Uint8Array(bytes).fill(w.rank)
      return naive ? linearAllgather(w, buffer) : w.allgather(buffer)
    }
    case "alltoall": {
      const buffer = new Uint8Array(bytes * w.size).fill(w.rank)
      return naive ? linearAlltoall(w, buffer) : w.alltoall(buffer)
    }
  }
}

const now = () => performance.now()

/**
 * Measures every collective at every size with each implementation and
 * returns the rows at rank 0 (other ranks return an empty list).
 */
export const sweep = (
  collectives: ReadonlyArray<Collective>,
  sizes: ReadonlyArray<number>,
  budgetMillis: number,
  only?: ReadonlyArray<string>,
  label?: string
) =>
  Effect.gen(function*() {
    const w = yield* Comm.World
    const rows: Array<Row> = []
    for (const collective of collectives) {
      for (const bytes of collective === "barrier" ? [0] : sizes) {
        for (const impl of implementations[collective].filter((i) => only === undefined || only.includes(i))) {
          const op = operation(w, collective, impl, bytes)
          // Warm up (JIT, first-touch of buffers) as OSU does: 200 calls for small messages,
          // 10 above 8 KiB; then time a few calls to size the run.
          const warmUp = bytes <= 8192 ? 200 : 10
          for (let i = 0; i < warmUp; i++) {
            yield* op
            yield* w.barrier()
          }
          const t0 = now()
          for (let i = 0; i < 3; i++) yield* op
          const probe = (now() - t0) / 3
          yield* w.barrier()
          const iterations = yield* w.bcast(w.rank === 0 ? Math.max(5, Math.min(2000, Math.round(budgetMillis / Math.max(probe, 0.001)))) : 0)
          let total = 0
          for (let i = 0; i < iterations; i++) {
            const start = now()
            yield* op
            total += now() - start
            yield* w.barrier()
          }
          const means = yield* w.gather((total * 1000) / iterations, { root: 0 })
          if (means !== undefined) {
            const row: Row = {
              collective,
              ranks: w.size,
              bytes,
              impl: label ?? impl,
              iterations,
              avgMicros: means.reduce((a, b) => a + b, 0) / means.length,
              minMicros: Math.min(...means),
              maxMicros: Math.max(...means)
            }
            rows.push(row)
            process.stderr.write(`… ${w.size} ranks  ${collective.padEnd(9)} ${String(bytes).padStart(8)} B  ${row.impl.padEnd(18)} ${row.avgMicros.toFixed(1).padStart(9)} µs\n`)
          }
        }
      }
    }
    return rows
  })
