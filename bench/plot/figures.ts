/**
 * What to plot from each results file of bench/results: one or more figures
 * per file, each a Vega-Lite spec over rows drawn from the file. A file with
 * no figures here is reported, not skipped silently.
 */
import type { TopLevelSpec } from "vega-lite"

export interface Figure {
  /** File name stem, e.g. `p2p-latency`. */
  readonly name: string
  readonly spec: TopLevelSpec
}

type Row = Record<string, unknown>
type Json = any

const WIDTH = 420
const HEIGHT = 260

/** A line chart of `y` against `x` with one line per `series`; logarithmic axes where asked. */
const lines = (title: string, rows: ReadonlyArray<Row>, x: string, y: string, series: string, o: { logX?: boolean; logY?: boolean; xTitle?: string; yTitle?: string; facet?: string } = {}): TopLevelSpec => {
  const unit = {
    mark: { type: "line" as const, point: true },
    encoding: {
      x: { field: x, type: "quantitative" as const, title: o.xTitle ?? x, scale: o.logX === true ? { type: "log" as const } : { zero: false } },
      // A file may record a point more than once (repeated rounds): the line goes through their median.
      y: { field: y, type: "quantitative" as const, aggregate: "median" as const, title: o.yTitle ?? y, scale: o.logY === true ? { type: "log" as const } : {} },
      color: { field: series, type: "nominal" as const, title: series }
    }
  }
  return o.facet === undefined
    ? { $schema: "https://vega.github.io/schema/vega-lite/v5.json", title, width: WIDTH, height: HEIGHT, data: { values: rows as Array<Row> }, ...unit }
    : {
      $schema: "https://vega.github.io/schema/vega-lite/v5.json",
      title,
      data: { values: rows as Array<Row> },
      facet: { field: o.facet, type: "nominal", title: null },
      columns: 3,
      resolve: { scale: { y: "independent" } },
      spec: { width: 260, height: 180, ...unit }
    }
}

/** Grouped dots (bars cannot start on a log scale): `value` per `group`, one dot per `series`. */
const dots = (title: string, rows: ReadonlyArray<Row>, group: string, value: string, series: string, o: { logX?: boolean; xTitle?: string } = {}): TopLevelSpec => ({
  $schema: "https://vega.github.io/schema/vega-lite/v5.json",
  title,
  width: WIDTH,
  height: { step: 9 },
  data: { values: rows as Array<Row> },
  mark: { type: "circle", size: 60, opacity: 1 },
  encoding: {
    y: { field: group, type: "nominal", title: null },
    yOffset: { field: series },
    x: { field: value, type: "quantitative", title: o.xTitle ?? value, scale: o.logX === true ? { type: "log" } : {} },
    color: { field: series, type: "nominal", title: null }
  }
})

const positive = (rows: Array<Row>, field: string) => rows.filter((r) => typeof r[field] === "number" && (r[field] as number) > 0)

/** The baselines' names in the p2p results, as the legends say them. */
const BASELINE_NAMES: Record<string, string> = {
  postMessage: "postMessage (structured clone)",
  postMessageTransfer: "postMessage, transferred",
  postMessageBandwidth: "postMessage",
  rawPingPong: "raw NATS client",
  rawStreaming: "raw NATS client, streaming"
}

const p2p = (j: Json, transport: string): Array<Figure> => {
  const mine = j[transport] as Record<string, Array<Row>>
  const latency: Array<Row> = []
  const bandwidth: Array<Row> = []
  for (const [key, points] of Object.entries(mine)) {
    const [kind, path] = key.split("/")
    for (const p of points) {
      if (kind === "latency") latency.push({ bytes: Math.max(1, p.bytes as number), micros: p.halfRoundTripMicros, series: `rankflow ${path}` })
      if (kind === "bandwidth" || kind === "streaming") bandwidth.push({ bytes: p.bytes, mbPerSecond: p.mbPerSecond, series: `rankflow ${key}` })
    }
  }
  for (const [key, points] of Object.entries(j.baselines as Record<string, unknown>)) {
    if (!Array.isArray(points)) continue // a single figure (a ring's time per hop), not a curve
    const series = BASELINE_NAMES[key] ?? key
    for (const p of points as Array<Row>) {
      if (typeof p.halfRoundTripMicros === "number") latency.push({ bytes: Math.max(1, p.bytes as number), micros: p.halfRoundTripMicros, series })
      if (typeof p.mbPerSecond === "number") bandwidth.push({ bytes: p.bytes, mbPerSecond: p.mbPerSecond, series })
      if (typeof p.memory === "number") bandwidth.push({ bytes: p.bytes, mbPerSecond: p.memory, series: "memcpy (beyond the caches)" })
    }
  }
  return [
    { name: `p2p-${transport}-latency`, spec: lines(`Point-to-point latency (${transport}): half a round trip`, positive(latency, "micros"), "bytes", "micros", "series", { logX: true, logY: true, xTitle: "message bytes (0 B plotted at 1)", yTitle: "µs" }) },
    { name: `p2p-${transport}-bandwidth`, spec: lines(`Point-to-point bandwidth (${transport})`, positive(bandwidth, "mbPerSecond"), "bytes", "mbPerSecond", "series", { logX: true, logY: true, xTitle: "message bytes", yTitle: "MB/s" }) }
  ]
}

const collectives = (j: Json, label: string): Array<Figure> => {
  const rows = (j.rows as Array<Row>).filter((r) => typeof r.avgMicros === "number")
  const maxRanks = Math.max(...rows.map((r) => r.ranks as number))
  const bySize = rows.filter((r) => r.ranks === maxRanks && (r.bytes as number) > 0).map((r) => ({ ...r, algorithm: r.impl }))
  const largest = Math.max(...rows.map((r) => r.bytes as number))
  const byRanks = rows.filter((r) => r.bytes === largest || r.collective === "barrier").map((r) => ({ ...r, algorithm: r.impl }))
  return [
    { name: `${label}-by-size`, spec: lines(`Collectives on ${maxRanks} ranks (${j.transport}): time against message size`, bySize, "bytes", "avgMicros", "algorithm", { logX: true, logY: true, xTitle: "bytes per rank", yTitle: "µs (mean)", facet: "collective" }) },
    { name: `${label}-by-ranks`, spec: lines(`Collectives (${j.transport}): time against ranks (${largest} B; barrier: none)`, byRanks, "ranks", "avgMicros", "algorithm", { logY: true, xTitle: "ranks", yTitle: "µs (mean)", facet: "collective" }) }
  ]
}

const vsOpenMpi = (j: Json): Array<Figure> => {
  const rows: Array<Row> = []
  for (const r of j.rows as Array<Json>) {
    for (const who of ["rankflow", "openmpi"]) {
      if (typeof r[who]?.mean === "number") rows.push({ figure: r.jobRanks !== undefined && r.jobRanks !== r.ranks ? `${r.figure} (${r.ranks} of ${r.jobRanks} ranks)` : `${r.figure} (${r.ranks} ranks)`, bytes: Math.max(1, r.bytes), micros: r[who].mean, implementation: who === "openmpi" ? "Open MPI (mpi4py)" : "rankflow" })
    }
  }
  return [{ name: "vs-openmpi", spec: lines("rankflow against Open MPI through mpi4py (shm): mean time per call", rows, "bytes", "micros", "implementation", { logX: true, logY: true, xTitle: "bytes (0 B plotted at 1)", yTitle: "µs", facet: "figure" }) }]
}

const codecs = (j: Json): Array<Figure> => [{
  name: "codecs",
  spec: dots("Codecs: round trips per second by payload", (j.rows as Array<Row>).filter((r) => typeof r.roundTripOps === "number"), "payload", "roundTripOps", "subject", { logX: true, xTitle: "round trips / s" })
}]

const futures = (j: Json): Array<Figure> => {
  const rows: Array<Row> = []
  for (const r of j.results as Array<Json>) {
    rows.push({ workers: r.workers, tasksPerSecond: r.rankflow.submitPerSecond, pool: "rankflow PoolExecutor" })
    rows.push({ workers: r.workers, tasksPerSecond: r.piscina.submitPerSecond, pool: "piscina" })
    if (r.openMpi !== undefined) rows.push({ workers: r.workers, tasksPerSecond: r.openMpi.submitPerSecond, pool: "mpi4py.futures" })
  }
  const speedup: Array<Row> = []
  for (const r of j.results as Array<Json>) {
    speedup.push({ workers: r.workers, speedup: j.inlineMs / r.rankflow.cpuMs, pool: "rankflow PoolExecutor" })
    speedup.push({ workers: r.workers, speedup: j.inlineMs / r.piscina.cpuMs, pool: "piscina" })
    if (r.openMpi !== undefined) speedup.push({ workers: r.workers, speedup: r.openMpi.inlineMs / r.openMpi.cpuMs, pool: "mpi4py.futures" })
  }
  return [
    { name: "futures-tiny-tasks", spec: lines("Pools: tiny tasks per second", rows, "workers", "tasksPerSecond", "pool", { logY: true, yTitle: "tasks / s" }) },
    { name: "futures-speedup", spec: lines(`Pools: speed-up of ${j.cpuTasks} CPU-bound tasks over running them inline`, speedup, "workers", "speedup", "pool", { yTitle: "speed-up" }) }
  ]
}

const pipelines = (j: Json, label: string): Array<Figure> => {
  const rows: Array<Row> = []
  const names: Record<string, string> = {
    pipelineItemsPerSecond: "rankflow pipeline",
    oneThreadItemsPerSecond: "one thread",
    plainThreadsItemsPerSecond: "plain worker threads",
    piscinaPerItemItemsPerSecond: "piscina, per item",
    piscinaBatchedItemsPerSecond: "piscina, batched"
  }
  for (const r of (j.cpuMap?.rows ?? []) as Array<Row>) {
    for (const [field, series] of Object.entries(names)) if (typeof r[field] === "number") rows.push({ ranks: r.ranks, itemsPerSecond: r[field], series })
  }
  return [{ name: `${label}-scaling`, spec: lines(`Pipelines (${j.transport}): a CPU-bound map stage (${j.cpuMap?.microsPerItem} µs per item), items per second`, rows, "ranks", "itemsPerSecond", "series", { yTitle: "items / s" }) }]
}

const rma = (j: Json): Array<Figure> => {
  const latency: Array<Row> = []
  for (const r of j.latency as Array<Json>) {
    latency.push({ bytes: r.bytes, micros: r.putFlushMicros, series: `rankflow put + flush (${r.transport})` })
    latency.push({ bytes: r.bytes, micros: r.sendRecvMicros, series: `rankflow send/recv (${r.transport})` })
  }
  for (const r of (j.openmpi?.latency ?? []) as Array<Json>) latency.push({ bytes: r.bytes, micros: r.putFlushMicros, series: "Open MPI put + flush" })
  const counter: Array<Row> = (j.counter as Array<Json>).map((r) => ({ ranks: r.ranks, perSecond: r.fetchAndOpPerSecond, series: `rankflow (${r.transport})` }))
  for (const r of (j.openmpi?.counter ?? []) as Array<Json>) counter.push({ ranks: r.ranks, perSecond: r.fetchAndOpPerSecond, series: "Open MPI" })
  return [
    { name: "rma-latency", spec: lines("One-sided: put + flush against send/recv", positive(latency, "micros"), "bytes", "micros", "series", { logX: true, logY: true, yTitle: "µs" }) },
    { name: "rma-counter", spec: lines("One-sided: a shared counter (fetchAndOp) per second", positive(counter, "perSecond"), "ranks", "perSecond", "series", { logY: true, yTitle: "operations / s" }) }
  ]
}

const io = (j: Json): Array<Figure> => {
  const rows: Array<Row> = []
  for (const r of j.results as Array<Json>) {
    rows.push({ ranks: r.ranks, ms: r.fileMs, series: "rankflow writeAtAll" }, { ranks: r.ranks, ms: r.openMpiMs, series: "Open MPI write_at_all" })
    rows.push({ ranks: r.ranks, ms: r.readFileMs, series: "rankflow readAtAll" }, { ranks: r.ranks, ms: r.readOpenMpiMs, series: "Open MPI read_at_all" })
  }
  return [{ name: "io", spec: lines(`Parallel files: a ${j.rows}×${j.cols} array in 2-D blocks`, positive(rows, "ms"), "ranks", "ms", "series", { logY: true, yTitle: "ms" }) }]
}

const startup = (j: Json): Array<Figure> => {
  const rows: Array<Row> = []
  for (const r of j.rows as Array<Json>) {
    for (const [key, series] of [["rankflow", "rankflow (bundled)"], ["rankflowFromFiles", "rankflow (from files)"], ["openmpi", "Open MPI (mpi4py)"]] as const) {
      if (typeof r[key]?.seconds === "number") rows.push({ ranks: r.ranks, seconds: r[key].seconds, series })
    }
  }
  return [{ name: "startup", spec: lines("Starting a job of hello-world ranks", rows, "ranks", "seconds", "series", { yTitle: "seconds" }) }]
}

const gpu = (j: Json): Array<Figure> => {
  const rows: Array<Row> = []
  for (const k of j.kernels as Array<Json>) rows.push({ kernel: `${k.kernel} (${k.size})`, ms: k.gpuMs, series: `GPU (${j.adapter?.description ?? j.adapter?.architecture ?? "adapter"})` }, { kernel: `${k.kernel} (${k.size})`, ms: k.cpuMs, series: "plain JS" })
  return [{ name: "gpu-kernels", spec: dots("GPU kernels against plain JS", positive(rows, "ms"), "kernel", "ms", "series", { logX: true, xTitle: "ms" }) }]
}

const dashboard = (j: Json): Array<Figure> => {
  const rows: Array<Row> = []
  for (const r of j.rows as Array<Json>) rows.push({ figure: r.figure, value: r.off, series: "dashboard off" }, { figure: r.figure, value: r.on, series: "dashboard open" })
  return [{ name: "dashboard-overhead", spec: dots("What an open dashboard costs (2 shm ranks, best of each)", positive(rows, "value"), "figure", "value", "series", { logX: true, xTitle: "µs or items/s" }) }]
}

/** The figures of one results file, by its name (without `.json`); undefined when there is no plot for it. */
export const figuresOf = (file: string, j: Json): Array<Figure> | undefined => {
  if (file === "p2p") return p2p(j, "shm")
  if (file === "p2p-nats") return p2p(j, "nats")
  if (file === "collectives" || file === "collectives-nats") return collectives(j, file)
  if (file === "vs-openmpi") return vsOpenMpi(j)
  if (file === "codecs") return codecs(j)
  if (file === "futures") return futures(j)
  if (file === "pipelines" || file === "pipelines-nats") return pipelines(j, file)
  if (file === "rma") return rma(j)
  if (file === "io") return io(j)
  if (file === "startup") return startup(j)
  if (file === "dashboard") return dashboard(j)
  if (file.startsWith("gpu")) return gpu(j)
  return undefined
}
