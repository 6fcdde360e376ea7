/**
 * The RMA benchmark: put+flush and get latency against another rank's window
 * next to the same transfer by send/recv (the bytes out, 8 bytes back), on
 * 2 ranks (and through a shared window on shm, where put and get are copies by
 * the origin itself), and the rate of a fetchAndOp counter on rank 0 hammered by every
 * rank, on 2, 4 and 8 ranks; on shm and on NATS (a nats-server on loopback).
 * mpi4py with Open MPI runs the same programs in the same run
 * (bench/baselines/mpi4py/rma.py) where `mpiexec` and `python3-mpi4py` are
 * installed (`npm run setup:mpi`); otherwise they are skipped with a note.
 *
 * Run: npm run bench:rma [-- --quick]
 * Writes bench/results/rma.json.
 */
import { Effect } from "effect"
import { World } from "rankflow"
import { formatNumber, machine, plan, printTable, progress, writeResults } from "./support/results.ts"
import { openMpiMissing, runMpi4py } from "./support/openmpi.ts"
import { startServer } from "../test/support/nats-server.ts"

const quick = process.argv.includes("--quick")
const SECONDS = quick ? 0.3 : 1
const SIZES = [8, 4096, 1 << 20]
const RANKS = [2, 4, 8]
const programs = new URL("./programs/rma.ts", import.meta.url)

const mpiMissing = openMpiMissing()
const openMpi = (n: number, args: ReadonlyArray<string>) => runMpi4py<Record<string, number>>(n, "rma.py", args).then((lines) => lines.at(-1)!)

const main = Effect.gen(function*() {
  plan(2 * (SIZES.length + RANKS.length) + (mpiMissing === undefined ? SIZES.length + RANKS.length : 0))
  const server = yield* Effect.promise(() => startServer())
  const transports = [["shm", {}], ["nats", { servers: server.url }]] as const
  const latency: Array<Record<string, unknown>> = []
  const counter: Array<Record<string, unknown>> = []
  try {
    for (const [transport, transportOptions] of transports) {
      for (const bytes of SIZES) {
        progress(`latency ${transport} ${bytes} B`)
        const [r] = yield* World.run<{ put: number; get: number; pingPong: number; sharedPut?: number; sharedGet?: number }>(
          { module: programs, export: "latency", args: [bytes, SECONDS] },
          { size: 2, transport, transportOptions, prefixOutput: false }
        )
        latency.push({
          transport, bytes, putFlushMicros: r!.put, getMicros: r!.get, sendRecvMicros: r!.pingPong, putVsSendRecv: r!.put / r!.pingPong,
          ...(r!.sharedPut === undefined ? {} : { sharedPutFlushMicros: r!.sharedPut, sharedGetMicros: r!.sharedGet })
        })
      }
      for (const n of RANKS) {
        progress(`counter ${transport} ${n} ranks`)
        const [rate] = yield* World.run<number>({ module: programs, export: "counter", args: [SECONDS] }, { size: n, transport, transportOptions, prefixOutput: false })
        counter.push({ transport, ranks: n, fetchAndOpPerSecond: rate })
      }
    }
  } finally {
    yield* Effect.promise(() => server.stop())
  }
  const openmpi: { latency: Array<Record<string, unknown>>; counter: Array<Record<string, unknown>>; skipped?: string } = { latency: [], counter: [] }
  if (mpiMissing !== undefined) openmpi.skipped = mpiMissing
  else {
    for (const bytes of SIZES) {
      progress(`latency Open MPI ${bytes} B`)
      const r = yield* Effect.promise(() => openMpi(2, ["latency", String(bytes), String(SECONDS)]))
      openmpi.latency.push({ bytes, putFlushMicros: r.put, getMicros: r.get, sendRecvMicros: r.pingPong })
    }
    for (const n of RANKS) {
      progress(`counter Open MPI ${n} ranks`)
      const r = yield* Effect.promise(() => openMpi(n, ["counter", String(SECONDS)]))
      openmpi.counter.push({ ranks: n, fetchAndOpPerSecond: r.rate })
    }
  }
  const mpiLatency = (bytes: number) => openmpi.latency.find((r) => r.bytes === bytes)
  const mpiCounter = (n: number) => openmpi.counter.find((r) => r.ranks === n)
  printTable(latency.map((r) => ({
    transport: r.transport as string,
    bytes: r.bytes as number,
    "put+flush µs": formatNumber(r.putFlushMicros as number),
    "get µs": formatNumber(r.getMicros as number),
    "send/recv µs": formatNumber(r.sendRecvMicros as number),
    "put / send-recv": formatNumber(r.putVsSendRecv as number),
    "shared put µs": r.sharedPutFlushMicros === undefined ? "" : formatNumber(r.sharedPutFlushMicros as number),
    "shared get µs": r.sharedGetMicros === undefined ? "" : formatNumber(r.sharedGetMicros as number),
    "Open MPI put µs": r.transport === "shm" && mpiLatency(r.bytes as number) ? formatNumber(mpiLatency(r.bytes as number)!.putFlushMicros as number) : "",
    "put / Open MPI": r.transport === "shm" && mpiLatency(r.bytes as number)
      ? formatNumber((r.putFlushMicros as number) / (mpiLatency(r.bytes as number)!.putFlushMicros as number))
      : ""
  })))
  printTable(counter.map((r) => ({
    transport: r.transport as string,
    ranks: r.ranks as number,
    "fetchAndOp/s": formatNumber(r.fetchAndOpPerSecond as number),
    "Open MPI /s": r.transport === "shm" && mpiCounter(r.ranks as number) ? formatNumber(mpiCounter(r.ranks as number)!.fetchAndOpPerSecond as number) : "",
    "rate / Open MPI": r.transport === "shm" && mpiCounter(r.ranks as number)
      ? formatNumber((r.fetchAndOpPerSecond as number) / (mpiCounter(r.ranks as number)!.fetchAndOpPerSecond as number))
      : ""
  })))
  if (openmpi.skipped !== undefined) console.log(`Open MPI baseline skipped: ${openmpi.skipped}`)
  console.log(`wrote ${writeResults("rma", { machine: machine(), seconds: SECONDS, latency, counter, openmpi })}`)
})

Effect.runPromise(main).catch((e) => {
  console.error(e)
  process.exit(1)
})
