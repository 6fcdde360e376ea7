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

/** One line of progress on stderr, so that long runs show they are alive. */
export const progress = (message: string): void => {
  process.stderr.write(`… ${message}\n`)
}
