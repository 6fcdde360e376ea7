/**
 * The point-to-point benchmark (OSU style): ping-pong latency (half round
 * trip) and streaming bandwidth (windows of 64 non-blocking sends) for the
 * object path (pickle), the buffer path (typed arrays received with `recv`,
 * or into the caller's own buffers with `recvInto`) and the zero-copy path
 * (arrays from the shared arena);
 * a token around 8 ranks; the CPU of a rank blocked in a receive. Baselines
 * in the same run: MessagePort.postMessage between worker threads
 * (structured clone, and a transfer list), and single-thread TypedArray.set.
 *
 * With `--transport nats` the same rank programs run as processes joined
 * through a nats-server started on loopback, and the baselines are the raw
 * NATS client's publish/subscribe ping-pong and one-way streaming between two
 * processes through the same server; the reliability layer's cost is measured
 * against running the transport with acknowledgements off.
 *
 * Run: npm run bench:p2p [-- --quick] [-- --transport shm|nats]
 * Writes bench/results/p2p.json (shm) or bench/results/p2p-nats.json.
 */
import { Effect } from "effect"
import { fork } from "node:child_process"
import { availableParallelism } from "node:os"
import { MessageChannel, Worker } from "node:worker_threads"
import { World } from "rankflow"
import { FrameAuth } from "rankflow/transports"
import { formatNumber, machine, printTable, progress, writeResults } from "./support/results.ts"
import { startServer } from "../test/support/nats-server.ts"

const quick = process.argv.includes("--quick")
const BUDGET = quick ? 100 : 400
const KiB = 1024
const MiB = 1024 * KiB
const LATENCY_SIZES = [0, 1, 8, 64, 512, 4 * KiB, 32 * KiB, 256 * KiB, 1 * MiB, 4 * MiB]
const BANDWIDTH_SIZES = [8, 512, 4 * KiB, 64 * KiB, 1 * MiB, 4 * MiB, 64 * MiB]
const IDLE_SECONDS = quick ? 2 : 10

const programs = new URL("./programs/p2p.ts", import.meta.url)
const baselineWorker = new URL("./baselines/postmessage.ts", import.meta.url)

const transportArg = process.argv.indexOf("--transport")
const TRANSPORT = transportArg > 0 ? process.argv[transportArg + 1]! : "shm"

/** Options for World: shm, or nats through `servers` (with acknowledgements switchable, for the reliability cost). */
let worldTransport: Pick<World.WorldOptions, "transport" | "transportOptions"> = { transport: "shm" }

const rank0 = <A>(size: number, name: string, ...args: ReadonlyArray<unknown>): Promise<A> =>
  Effect.runPromise(World.run<A>({ module: programs, export: name, args }, { size, prefixOutput: true, ...worldTransport })).then((r) => r[0]!)

const inWorker = (data: Record<string, unknown>, transfer: ReadonlyArray<any>): { worker: Worker; result: Promise<any> } => {
  const worker = new Worker(baselineWorker, { workerData: data, transferList: transfer as any })
  const result = new Promise((resolve, reject) => {
    worker.once("message", resolve)
    worker.once("error", reject)
  })
  return { worker, result }
}

const postMessagePingPong = async (transfer: boolean, sizes: ReadonlyArray<number>) => {
  const { port1, port2 } = new MessageChannel()
  const echo = inWorker({ role: "echo", port: port2, transfer }, [port2])
  const pinger = inWorker({ role: "pinger", port: port1, sizes, transfer, budgetMillis: BUDGET }, [port1])
  const result = await pinger.result
  await Promise.all([pinger.worker.terminate(), echo.worker.terminate()])
  return result as Array<{ bytes: number; halfRoundTripMicros: number }>
}

const postMessageBandwidth = async (sizes: ReadonlyArray<number>) => {
  const { port1, port2 } = new MessageChannel()
  const sink = inWorker({ role: "sink", port: port2 }, [port2])
  const source = inWorker({ role: "source", port: port1, sizes, budgetMillis: BUDGET }, [port1])
  const result = await source.result
  await Promise.all([source.worker.terminate(), sink.worker.terminate()])
  return result as Array<{ bytes: number; mbPerSecond: number }>
}

const postMessageRing = async (size: number) => {
  const channels = Array.from({ length: size }, () => new MessageChannel())
  // Worker i receives on channels[i].port2 and sends to channels[i + 1].port1.
  const workers = channels.map((ch, i) => {
    const next = channels[(i + 1) % size]!.port1
    return inWorker({ role: "ring", port: ch.port2, next, first: i === 0, size, budgetMillis: BUDGET }, [ch.port2, next])
  })
  const result = await workers[0]!.result
  await Promise.all(workers.map((w) => w.worker.terminate()))
  return result as { microsPerHop: number }
}

/**
 * TypedArray.set bandwidth. "memory": each copy touches fresh lines of a
 * 256 MiB working set, as a stream of messages does; "cached": the same
 * buffers over and over (for sizes that fit a cache this is far faster).
 */
const memcpy = (bytes: number, mode: "memory" | "cached") => {
  const count = mode === "cached" ? 1 : Math.max(1, Math.floor((256 * MiB) / bytes))
  const src = Array.from({ length: count }, () => new Uint8Array(bytes).fill(1))
  const dst = Array.from({ length: count }, () => new Uint8Array(bytes).fill(2))
  let reps = 1
  let elapsed = 0
  for (;;) {
    const t0 = performance.now()
    for (let r = 0; r < reps; r++) for (let i = 0; i < count; i++) dst[i]!.set(src[i]!)
    elapsed = performance.now() - t0
    if (elapsed > BUDGET / 4) break
    reps *= 2
  }
  return (bytes * count * reps) / (elapsed * 1000)
}

const main = async () => {
  const cores = availableParallelism()
  const shm: Record<string, unknown> = {}
  for (const path of ["buffer", "into", "object", "zero-copy"] as const) {
    progress(`ping-pong, ${path} path`)
    shm[`latency/${path}`] = await rank0(2, "pingPong", path, LATENCY_SIZES, BUDGET)
  }
  for (const path of ["buffer", "into", "object", "zero-copy"] as const) {
    progress(`bandwidth, ${path} path`)
    shm[`bandwidth/${path}`] = await rank0(2, "bandwidth", path, BANDWIDTH_SIZES, BUDGET)
  }
  progress("token ring on 8 ranks")
  const ring = await rank0<{ microsPerHop: number }>(8, "tokenRing", BUDGET)
  progress(`idle rank blocked in recv for ${IDLE_SECONDS} s`)
  const idle = await rank0<{ cpuPercentOfOneCore: number }>(2, "idle", IDLE_SECONDS)

  progress("baseline: postMessage ping-pong (clone, transfer)")
  const pmClone = await postMessagePingPong(false, LATENCY_SIZES)
  const pmTransfer = await postMessagePingPong(true, LATENCY_SIZES.filter((b) => b >= 64 * KiB))
  progress("baseline: postMessage bandwidth")
  const pmBandwidth = await postMessageBandwidth(BANDWIDTH_SIZES)
  progress("baseline: postMessage token ring on 8 workers")
  const pmRing = await postMessageRing(8)
  progress("baseline: memcpy")
  const copies = BANDWIDTH_SIZES.filter((b) => b >= 64 * KiB).map((bytes) => ({ bytes, memory: memcpy(bytes, "memory"), cached: memcpy(bytes, "cached") }))

  type Lat = Array<{ bytes: number; halfRoundTripMicros: number; medianMicros: number }>
  type Bw = Array<{ bytes: number; mbPerSecond: number }>
  const lat = (k: string) => shm[`latency/${k}`] as Lat
  const bw = (k: string) => shm[`bandwidth/${k}`] as Bw
  const at = <T extends { bytes: number }>(rows: ReadonlyArray<T>, bytes: number) => rows.find((r) => r.bytes === bytes)

  console.log(`\nPoint-to-point benchmark (shm) — ${machine().cpu}, ${cores} cores, Node ${process.version}\n`)
  console.log("Latency: half round trip, µs (mean over the iterations, as OSU reports; medians at the right)")
  printTable(LATENCY_SIZES.map((bytes) => ({
    bytes,
    buffer: at(lat("buffer"), bytes)?.halfRoundTripMicros ?? NaN,
    "buffer into": at(lat("into"), bytes)?.halfRoundTripMicros ?? NaN,
    object: at(lat("object"), bytes)?.halfRoundTripMicros ?? NaN,
    "zero-copy": at(lat("zero-copy"), bytes)?.halfRoundTripMicros ?? NaN,
    "(postMessage)": at(pmClone, bytes)?.halfRoundTripMicros ?? NaN,
    "(postMessage transfer)": at(pmTransfer, bytes)?.halfRoundTripMicros ?? NaN,
    "buffer / postMessage": (at(lat("buffer"), bytes)?.halfRoundTripMicros ?? NaN) / (at(pmClone, bytes)?.halfRoundTripMicros ?? NaN),
    "buffer median": at(lat("buffer"), bytes)?.medianMicros ?? NaN,
    "object median": at(lat("object"), bytes)?.medianMicros ?? NaN
  })))
  console.log("\nBandwidth: MB/s (windows of up to 64 non-blocking sends)")
  printTable(BANDWIDTH_SIZES.map((bytes) => ({
    bytes,
    buffer: at(bw("buffer"), bytes)?.mbPerSecond ?? NaN,
    "buffer into": at(bw("into"), bytes)?.mbPerSecond ?? NaN,
    object: at(bw("object"), bytes)?.mbPerSecond ?? NaN,
    "zero-copy": at(bw("zero-copy"), bytes)?.mbPerSecond ?? NaN,
    "(postMessage)": at(pmBandwidth, bytes)?.mbPerSecond ?? NaN,
    "(memcpy, memory)": at(copies, bytes)?.memory ?? NaN,
    "(memcpy, cached)": at(copies, bytes)?.cached ?? NaN
  })))
  console.log(`\nToken around 8 ranks on ${cores} cores: ${formatNumber(ring.microsPerHop)} µs per hop (postMessage: ${formatNumber(pmRing.microsPerHop)} µs)`)
  console.log(`Idle: a rank blocked in recv for ${IDLE_SECONDS} s, whole process: ${formatNumber(idle.cpuPercentOfOneCore)} % of one core`)

  const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined ? a / b : NaN)
  const targets = [
    { target: "8 B latency, buffer path / postMessage", value: ratio(at(lat("buffer"), 8)?.halfRoundTripMicros, at(pmClone, 8)?.halfRoundTripMicros), goal: "<= 0.05" },
    { target: "8 B latency (median), buffer path / postMessage", value: ratio(at(lat("buffer"), 8)?.medianMicros, at(pmClone, 8)?.halfRoundTripMicros), goal: "(reported)" },
    { target: "8 B latency (median), object path / postMessage", value: ratio(at(lat("object"), 8)?.medianMicros, at(pmClone, 8)?.halfRoundTripMicros), goal: "(reported)" },
    { target: "8 B latency, object path / postMessage", value: ratio(at(lat("object"), 8)?.halfRoundTripMicros, at(pmClone, 8)?.halfRoundTripMicros), goal: "<= 0.1" },
    { target: "token ring on 8 ranks, per hop / postMessage", value: ring.microsPerHop / pmRing.microsPerHop, goal: "<= 1" },
    ...[4 * MiB, 64 * MiB].flatMap((bytes) => [
      { target: `${bytes / MiB} MiB bandwidth, buffer path / memcpy (memory)`, value: ratio(at(bw("buffer"), bytes)?.mbPerSecond, at(copies, bytes)?.memory), goal: ">= 0.5" },
      { target: `${bytes / MiB} MiB bandwidth, buffer path / memcpy (cached)`, value: ratio(at(bw("buffer"), bytes)?.mbPerSecond, at(copies, bytes)?.cached), goal: "(reported)" },
      { target: `${bytes / MiB} MiB bandwidth, buffer path / postMessage`, value: ratio(at(bw("buffer"), bytes)?.mbPerSecond, at(pmBandwidth, bytes)?.mbPerSecond), goal: ">= 3" }
    ]),
    { target: "zero-copy latency, 4 MiB / 8 B", value: ratio(at(lat("zero-copy"), 4 * MiB)?.halfRoundTripMicros, at(lat("zero-copy"), 8)?.halfRoundTripMicros), goal: "~1 (size-independent)" },
    { target: `idle CPU, % of one core`, value: idle.cpuPercentOfOneCore, goal: "< 5" }
  ]
  console.log("\nTargets")
  printTable(targets.map((t) => ({ target: t.target, ratio: t.value, goal: t.goal, met: met(t) })))
  const file = writeResults("p2p", {
    transport: "shm",
    quick,
    shm,
    tokenRing: ring,
    idle,
    baselines: { postMessage: pmClone, postMessageTransfer: pmTransfer, postMessageBandwidth: pmBandwidth, postMessageRing: pmRing, memcpy: copies },
    targets: targets.map((t) => ({ ...t, met: met(t) }))
  })
  console.log(`\nwrote ${file}`)
}

/** The raw NATS client between two processes: ping-pong half round trip, or one-way streaming. */
const rawNats = async (url: string, kind: "pingpong" | "stream", bytes: number, count: number): Promise<any> => {
  const script = new URL("./baselines/nats-raw.ts", import.meta.url).pathname
  const b = fork(script, ["b", url, kind, String(bytes), String(count)])
  await new Promise((r) => b.once("message", r))
  const a = fork(script, ["a", url, kind, String(bytes), String(count)])
  const from = kind === "pingpong" ? a : b
  const result = await new Promise((r) => from.on("message", (m) => typeof m === "object" && r(m)))
  a.send("bye")
  b.send("bye")
  await Promise.all([new Promise((r) => a.once("exit", r)), new Promise((r) => b.once("exit", r))])
  return result
}

const NATS_LATENCY_SIZES = [0, 8, 512, 4 * KiB, 32 * KiB, 256 * KiB, 1 * MiB]
const NATS_BANDWIDTH_SIZES = [8, 512, 4 * KiB, 64 * KiB, 1 * MiB, 4 * MiB]
/** Whether a target's goal (`<= x`, `>= x`, `< x`) is met: "yes", "NO", or "" for a figure only reported. */
const met = (t: { value: number; goal: string }): string => {
  const m = /^(<=|>=|<) ([\d.]+)/.exec(t.goal)
  if (m === null) return ""
  const g = Number(m[2])
  return (m[1] === ">=" ? t.value >= g : m[1] === "<=" ? t.value <= g : t.value < g) ? "yes" : "NO"
}

/** Small messages streamed one way without a round trip per window, the raw client's shape. */
const NATS_STREAMING_SIZES = [8, 512, 4 * KiB]

const mainNats = async () => {
  const server = await startServer()
  try {
    const figures: Record<string, unknown> = {}
    worldTransport = { transport: "nats", transportOptions: { servers: server.url } }
    for (const path of ["buffer", "into", "object"] as const) {
      progress(`nats: ping-pong, ${path} path`)
      figures[`latency/${path}`] = await rank0(2, "pingPong", path, NATS_LATENCY_SIZES, BUDGET)
      progress(`nats: bandwidth, ${path} path`)
      figures[`bandwidth/${path}`] = await rank0(2, "bandwidth", path, NATS_BANDWIDTH_SIZES, BUDGET)
    }
    progress("nats: one-way streaming of small messages, buffer path")
    // A longer budget than the others: the raw client streams 200,000 messages of 8 B; rankflow gets about as many.
    figures["streaming/buffer"] = await rank0(2, "streaming", NATS_STREAMING_SIZES, BUDGET * 5)
    // Frame authentication on against off, alternating (on, off, on, off, …) so that drifts of a shared
    // machine fall on both sides; the medians of the rounds are compared.
    progress("nats: 8 B ping-pong and 4 MiB bandwidth, frame authentication on and off, alternating")
    // The raw client's 8 B ping-pong runs in each round too: the latency target compares the medians
    // of the rounds (rankflow with its defaults against the raw client), not two measurements minutes apart.
    const authRounds: Array<{ auth: boolean; latency: number; latencyMedian: number; bandwidth: number }> = []
    const rawRounds: Array<number> = []
    for (let round = 0; round < (quick ? 2 : 5); round++) {
      for (const auth of [true, false]) {
        worldTransport = { transport: "nats", transportOptions: { servers: server.url, frameAuth: auth } }
        const [l] = await rank0<Array<{ bytes: number; halfRoundTripMicros: number; medianMicros: number }>>(2, "pingPong", "buffer", [8], BUDGET)
        const [b] = await rank0<Array<{ bytes: number; mbPerSecond: number }>>(2, "bandwidth", "buffer", [4 * MiB], BUDGET)
        authRounds.push({ auth, latency: l!.halfRoundTripMicros, latencyMedian: l!.medianMicros, bandwidth: b!.mbPerSecond })
      }
      rawRounds.push((await rawNats(server.url, "pingpong", 8, quick ? 1000 : 4000)).halfRoundTripMicros)
    }
    const rawRoundsMedian = [...rawRounds].sort((a, b) => a - b)[Math.floor(rawRounds.length / 2)]!
    worldTransport = { transport: "nats", transportOptions: { servers: server.url } }
    // The CPU a frame's tag costs: signing at the sender plus verifying at the receiver, by frame size.
    const key = new Uint8Array(32).fill(7)
    const auth = FrameAuth.make(key, "bench")
    const tagCpu = [64, 4 * KiB, 256 * KiB].map((bytes) => {
      const frame = new Uint8Array(bytes + FrameAuth.TAG_BYTES)
      const n = bytes >= 256 * KiB ? 400 : 20_000
      for (let i = 0; i < n / 10; i++) auth.sign(frame, 1)
      const started = performance.now()
      for (let i = 0; i < n; i++) {
        auth.sign(frame, 1)
        if (!auth.verify(frame, 1)) throw new Error("a frame signed here does not verify")
      }
      return { bytes, signAndVerifyMicros: ((performance.now() - started) * 1000) / n }
    })
    const medianOf = (auth: boolean, key: "latency" | "latencyMedian" | "bandwidth") => {
      const xs = authRounds.filter((r) => r.auth === auth).map((r) => r[key]).sort((a, b) => a - b)
      return xs[Math.floor(xs.length / 2)]!
    }
    progress("nats: bandwidth with acknowledgements off (the reliability layer's cost)")
    worldTransport = { transport: "nats", transportOptions: { servers: server.url, acks: false } }
    const noAcks = await rank0<Array<{ bytes: number; mbPerSecond: number }>>(2, "bandwidth", "buffer", NATS_BANDWIDTH_SIZES, BUDGET)
    progress("baseline: the raw client's ping-pong and streaming")
    const rawLatency: Array<{ bytes: number; halfRoundTripMicros: number }> = []
    for (const bytes of NATS_LATENCY_SIZES) {
      const r = await rawNats(server.url, "pingpong", bytes, quick ? 1000 : 4000)
      rawLatency.push({ bytes, halfRoundTripMicros: r.halfRoundTripMicros })
    }
    // The raw client cannot publish more than the server's max_payload (1 MiB): it streams 1 MiB messages for the 4 MiB row.
    const rawStream: Array<{ bytes: number; mbPerSecond: number; sentAs: number }> = []
    for (const bytes of NATS_BANDWIDTH_SIZES) {
      const sentAs = Math.min(bytes, 1 * MiB)
      const count = Math.max(200, Math.min(200_000, Math.floor((quick ? 64 : 256) * MiB / sentAs)))
      const r = await rawNats(server.url, "stream", sentAs, count)
      rawStream.push({ bytes, mbPerSecond: r.mbPerSecond, sentAs })
    }

    type Lat = Array<{ bytes: number; halfRoundTripMicros: number; medianMicros: number }>
    type Bw = Array<{ bytes: number; mbPerSecond: number }>
    const lat = (k: string) => figures[`latency/${k}`] as Lat
    const bw = (k: string) => figures[`bandwidth/${k}`] as Bw
    const at = <T extends { bytes: number }>(rows: ReadonlyArray<T>, bytes: number) => rows.find((r) => r.bytes === bytes)
    console.log(`\nPoint-to-point benchmark (nats, one local nats-server) — ${machine().cpu}, ${availableParallelism()} cores, Node ${process.version}\n`)
    console.log("Latency: half round trip, µs (mean)")
    printTable(NATS_LATENCY_SIZES.map((bytes) => ({
      bytes,
      buffer: at(lat("buffer"), bytes)?.halfRoundTripMicros ?? NaN,
      "buffer into": at(lat("into"), bytes)?.halfRoundTripMicros ?? NaN,
      object: at(lat("object"), bytes)?.halfRoundTripMicros ?? NaN,
      "(raw client)": at(rawLatency, bytes)?.halfRoundTripMicros ?? NaN,
      "buffer / raw": (at(lat("buffer"), bytes)?.halfRoundTripMicros ?? NaN) / (at(rawLatency, bytes)?.halfRoundTripMicros ?? NaN)
    })))
    console.log("\nBandwidth: MB/s")
    printTable(NATS_BANDWIDTH_SIZES.map((bytes) => ({
      bytes,
      buffer: at(bw("buffer"), bytes)?.mbPerSecond ?? NaN,
      "buffer into": at(bw("into"), bytes)?.mbPerSecond ?? NaN,
      object: at(bw("object"), bytes)?.mbPerSecond ?? NaN,
      "buffer, acks off": at(noAcks, bytes)?.mbPerSecond ?? NaN,
      "(raw client)": at(rawStream, bytes)?.mbPerSecond ?? NaN,
      "buffer / raw": (at(bw("buffer"), bytes)?.mbPerSecond ?? NaN) / (at(rawStream, bytes)?.mbPerSecond ?? NaN)
    })))
    const streamed = figures["streaming/buffer"] as Array<{ bytes: number; mbPerSecond: number; messagesPerSecond: number }>
    console.log("\nOne-way streaming of small messages (batches of 64 sends, no round trip per batch; the raw client flushes every 64): MB/s")
    printTable(NATS_STREAMING_SIZES.map((bytes) => ({
      bytes,
      buffer: at(streamed, bytes)?.mbPerSecond ?? NaN,
      "messages/s": at(streamed, bytes)?.messagesPerSecond ?? NaN,
      "(raw client)": at(rawStream, bytes)?.mbPerSecond ?? NaN,
      "buffer / raw": (at(streamed, bytes)?.mbPerSecond ?? NaN) / (at(rawStream, bytes)?.mbPerSecond ?? NaN)
    })))
    const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined ? a / b : NaN)
    const targets = [
      ...NATS_STREAMING_SIZES.map((bytes) => ({
        target: `${bytes} B streaming, buffer path / raw client`,
        value: ratio(at(streamed, bytes)?.mbPerSecond, at(rawStream, bytes)?.mbPerSecond),
        goal: ">= 0.5"
      })),
      { target: "8 B latency, buffer path / raw client ping-pong (medians of alternating rounds)", value: medianOf(true, "latency") / rawRoundsMedian, goal: "<= 1.3" },
      { target: "8 B latency, buffer path / raw client ping-pong (the table's single measurements)", value: ratio(at(lat("buffer"), 8)?.halfRoundTripMicros, at(rawLatency, 8)?.halfRoundTripMicros), goal: "(reported)" },
      { target: "4 MiB streaming, buffer path / raw client (1 MiB messages)", value: ratio(at(bw("buffer"), 4 * MiB)?.mbPerSecond, at(rawStream, 4 * MiB)?.mbPerSecond), goal: ">= 0.8" },
      { target: "4 MiB streaming, acks on / acks off", value: ratio(at(bw("buffer"), 4 * MiB)?.mbPerSecond, at(noAcks, 4 * MiB)?.mbPerSecond), goal: ">= 0.85" }
    ]
    console.log("\nTargets")
    printTable(targets.map((t) => ({ target: t.target, ratio: t.value, goal: t.goal, met: met(t) })))
    // Frame authentication (HMAC-SHA256 per frame, on by default for a single launcher): its cost, measured, no goal.
    const authCost = [
      { figure: "8 B latency (mean µs), median of rounds", on: medianOf(true, "latency"), off: medianOf(false, "latency"), "on / off": medianOf(true, "latency") / medianOf(false, "latency") },
      { figure: "8 B latency (median µs), median of rounds", on: medianOf(true, "latencyMedian"), off: medianOf(false, "latencyMedian"), "on / off": medianOf(true, "latencyMedian") / medianOf(false, "latencyMedian") },
      { figure: "4 MiB bandwidth (MB/s), median of rounds", on: medianOf(true, "bandwidth"), off: medianOf(false, "bandwidth"), "on / off": medianOf(true, "bandwidth") / medianOf(false, "bandwidth") }
    ]
    console.log("\nFrame authentication's cost")
    printTable(authCost)
    console.log("\nCPU of one frame's tag (sign + verify), µs")
    printTable(tagCpu)
    const file = writeResults("p2p-nats", {
      transport: "nats",
      quick,
      nats: figures,
      acksOff: noAcks,
      authRounds,
      tagCpu,
      authCost,
      baselines: { rawPingPong: rawLatency, rawStreaming: rawStream, rawPingPong8BRounds: rawRounds },
      targets: targets.map((t) => ({ ...t, met: met(t) }))
    })
    console.log(`\nwrote ${file}`)
  } finally {
    await server.stop()
  }
}

if (TRANSPORT === "nats") await mainNats()
else await main()
