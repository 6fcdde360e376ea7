/**
 * What every benchmark records next to its figures: when, on what machine,
 * and under which Node; and writing `bench/results/<name>.json`.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import * as os from "node:os"

export interface Machine {
  readonly date: string
  readonly cpu: string
  readonly cores: number
  readonly memoryGiB: number
  readonly node: string
  readonly platform: string
}

export const machine = (): Machine => ({
  date: new Date().toISOString(),
  cpu: os.cpus()[0]?.model ?? "unknown",
  cores: os.availableParallelism(),
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
  platform: `${os.platform()} ${os.release()} ${os.arch()}`
})

/** Writes `bench/results/<name>.json` and returns its path. */
export const writeResults = (name: string, data: Record<string, unknown>): string => {
  const dir = new URL("../results/", import.meta.url)
  mkdirSync(dir, { recursive: true })
  const file = new URL(`${name}.json`, dir)
  writeFileSync(file, JSON.stringify({ machine: machine(), ...data }, null, 2) + "\n")
  return file.pathname
}

/** Prints rows as an aligned text table. */
export const printTable = (rows: ReadonlyArray<Record<string, string | number>>): void => {
  if (rows.length === 0) return
  const cols = Object.keys(rows[0]!)
  const cell = (v: string | number | undefined) => (v === undefined ? "" : typeof v === "number" ? formatNumber(v) : v)
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)))
  const line = (vals: ReadonlyArray<string>) => vals.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join("  ")
  console.log(line(cols))
  console.log(widths.map((w) => "-".repeat(w)).join("  "))
  for (const r of rows) console.log(line(cols.map((c) => cell(r[c]))))
}

export const formatNumber = (v: number): string =>
  !Number.isFinite(v) ? String(v) : Math.abs(v) >= 100 ? Math.round(v).toLocaleString("en-US") : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3)

const started = performance.now()
let step = 0
let total: number | undefined
let current = ""
let since = 0
let ticker: ReturnType<typeof setInterval> | undefined
const clock = (ms: number) => {
  const s = Math.floor(ms / 1000)
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`
}
const line = () => `… [${clock(performance.now() - started)}] ${total === undefined ? `step ${step}` : `${step}/${total}`}: ${current}`

/** How many `progress` steps the benchmark will take, where it knows: its lines then say how far it is (`3/18`). */
export const plan = (steps: number): void => {
  total = steps
}

/**
 * A line of progress on stderr: what runs now, its step (of the planned
 * ones), and the time since the benchmark started. While a step runs, a line
 * says so every second on a terminal, every 10 s elsewhere (logs, CI).
 */
export const progress = (message: string): void => {
  step++
  current = message
  since = performance.now()
  process.stderr.write(`${line()}\n`)
  ticker ??= setInterval(() => {
    const running = Math.round((performance.now() - since) / 1000)
    if (running > 0 && (process.stderr.isTTY || running % 10 === 0)) process.stderr.write(`${line()}: running for ${running} s\n`)
  }, 1000)
  ticker.unref?.()
}
