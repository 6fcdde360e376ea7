/**
 * What watching a job costs: the 8 B ping-pong (object and buffer paths) and
 * a pipeline's items/s on 2 shm ranks, with no dashboard and with one whose
 * page is open (a live Dashboard, its server-sent events read by a client:
 * the ranks answer status rounds every 200 ms). Runs alternate between the
 * two, three of each; the best of each is compared.
 *
 * With the dashboard off, ranks do no extra work but count the bytes of each
 * message (two additions in the engine); that part is not measured apart.
 *
 * Run: npm run bench:dashboard [-- --quick]
 * Writes bench/results/dashboard.json.
 */
import { Effect, Scope, Exit } from "effect"
import { Dashboard, World } from "rankflow"
import { formatNumber, machine, plan, printTable, progress, writeResults } from "./support/results.ts"

const quick = process.argv.includes("--quick")
const RUNS = quick ? 1 : 3
const BUDGET_MS = quick ? 300 : 1500
const ITEMS = quick ? 50_000 : 400_000
const p2p = new URL("./programs/p2p.ts", import.meta.url)
const pipelines = new URL("./programs/pipelines.ts", import.meta.url)

type PingPong = ReadonlyArray<{ readonly bytes: number; readonly halfRoundTripMicros: number; readonly medianMicros: number }>

/** One measurement of each figure, with `observer` watching the runs (or not). */
const measure = (observer: World.RunObserver | undefined) =>
  Effect.gen(function*() {
    const options = { size: 2, transport: "shm" as const, prefixOutput: false, ...(observer === undefined ? {} : { observer }) }
    const [object] = yield* World.run<PingPong>({ module: p2p, export: "pingPong", args: ["object", [8], BUDGET_MS] }, options)
    const [buffer] = yield* World.run<PingPong>({ module: p2p, export: "pingPong", args: ["buffer", [8], BUDGET_MS] }, options)
    const [pipe] = yield* World.run<{ itemsPerSecond: number }>({ module: pipelines, export: "noop", args: [ITEMS, [0, 1, 0], 64] }, options)
    return {
      objectMicros: object![0]!.halfRoundTripMicros,
      objectMedianMicros: object![0]!.medianMicros,
      bufferMicros: buffer![0]!.halfRoundTripMicros,
      bufferMedianMicros: buffer![0]!.medianMicros,
      itemsPerSecond: pipe!.itemsPerSecond
    }
  })

/** A dashboard whose events a client reads while the runs go on: the cost of being watched. */
const watched = Effect.gen(function*() {
  const dashboard = yield* Dashboard.make({ port: 0 })
  const reader = new AbortController()
  let events = 0
  void fetch(new URL("events", dashboard.url), { signal: reader.signal }).then(async (r) => {
    const body = r.body!.getReader()
    while (!(await body.read()).done) events++
  }).catch(() => {})
  yield* Effect.addFinalizer(() => Effect.sync(() => reader.abort()))
  return { observer: dashboard.observer, events: () => events }
})

const main = Effect.gen(function*() {
  const off: Array<Effect.Success<ReturnType<typeof measure>>> = []
  const on: Array<Effect.Success<ReturnType<typeof measure>>> = []
  let events = 0
  plan(2 * RUNS)
  for (let i = 0; i < RUNS; i++) {
    progress(`run ${i + 1}/${RUNS}: no dashboard`)
    off.push(yield* measure(undefined))
    progress(`run ${i + 1}/${RUNS}: dashboard open`)
    const scope = yield* Scope.make()
    const w = yield* Scope.provide(watched, scope)
    on.push(yield* measure(w.observer))
    events += w.events()
    yield* Scope.close(scope, Exit.void)
  }
  const best = (runs: typeof off, key: keyof (typeof off)[number], low: boolean) =>
    runs.map((r) => r[key]).reduce((a, b) => (low ? Math.min(a, b) : Math.max(a, b)))
  const figures = [
    { figure: "8 B ping-pong, object path (µs, mean)", key: "objectMicros", low: true },
    { figure: "8 B ping-pong, object path (µs, median)", key: "objectMedianMicros", low: true },
    { figure: "8 B ping-pong, buffer path (µs, mean)", key: "bufferMicros", low: true },
    { figure: "8 B ping-pong, buffer path (µs, median)", key: "bufferMedianMicros", low: true },
    { figure: "pipeline source → map → sink (items/s)", key: "itemsPerSecond", low: false }
  ] as const
  const rows = figures.map((f) => {
    const a = best(off, f.key, f.low)
    const b = best(on, f.key, f.low)
    // The cost in percent: more time, or fewer items.
    const overheadPercent = f.low ? (b / a - 1) * 100 : (a / b - 1) * 100
    return { figure: f.figure, off: a, on: b, overheadPercent }
  })
  printTable(rows.map((r) => ({ figure: r.figure, "dashboard off": formatNumber(r.off), "dashboard open": formatNumber(r.on), overhead: `${r.overheadPercent.toFixed(1)} %` })))
  const file = writeResults("dashboard", { machine: machine(), runs: RUNS, budgetMillis: BUDGET_MS, items: ITEMS, eventsRead: events, rows, off, on })
  console.log(`written: ${file}`)
})

Effect.runPromise(Effect.scoped(main)).catch((e) => {
  console.error(e)
  process.exit(1)
})
