/** Checks on a Chrome trace written by `rankflow run --trace` (test/cli). */
import { readFileSync } from "node:fs"
import { expect } from "vitest"

interface Event {
  readonly name: string
  readonly cat?: string
  readonly ph: string
  readonly ts: number
  readonly dur?: number
  readonly tid: number
  readonly id?: number
  readonly args?: Record<string, unknown>
}

/**
 * The trace at `path` parses, names a track per rank, and pairs every
 * message's send with its arrival; returns its events. `clockSkewMicros`:
 * how far the ranks' clocks may disagree. Threads of one process (shm)
 * share a clock, so an arrival never precedes its send; rank processes
 * (NATS) each read their own, which on one host agreed to within ~1 ms
 * (an arrival once stamped 0.86 ms before its send).
 */
export const checkTrace = (path: string, ranks: number, clockSkewMicros = 0): ReadonlyArray<Event> => {
  const trace = JSON.parse(readFileSync(path, "utf8")) as { traceEvents: Array<Event> }
  const events = trace.traceEvents
  const tracks = events.filter((e) => e.ph === "M" && e.name === "thread_name").map((e) => e.args?.name)
  expect(tracks).toEqual(Array.from({ length: ranks }, (_, r) => `rank ${r}`))
  const starts = new Map(events.filter((e) => e.ph === "s" && e.cat === "message").map((e) => [e.id, e]))
  const finishes = events.filter((e) => e.ph === "f" && e.cat === "message")
  expect(finishes.length).toBeGreaterThan(0)
  expect(finishes.length).toBe(starts.size)
  for (const f of finishes) {
    const s = starts.get(f.id)
    expect(s, `the flow ${f.id} has its send`).toBeDefined()
    expect(s!.tid).not.toBe(f.tid)
    expect(s!.ts).toBeLessThanOrEqual(f.ts + clockSkewMicros)
  }
  for (const e of events.filter((e) => e.ph === "X")) expect(e.dur).toBeGreaterThan(0)
  // From each arrival a flow goes on to the receive that took it, inside that call's span on the same track.
  const arrivals = new Map(events.filter((e) => e.ph === "s" && e.cat === "taken").map((e) => [e.id, e]))
  const takes = events.filter((e) => e.ph === "f" && e.cat === "taken")
  expect(takes.length).toBeGreaterThan(0)
  for (const t of takes) {
    const a = arrivals.get(t.id)
    expect(a, `the take ${t.id} has its arrival`).toBeDefined()
    expect([a!.tid, a!.ts <= t.ts]).toEqual([t.tid, true])
    const call = events.find((e) => e.ph === "X" && e.cat !== "message" && e.cat !== "codec" && e.tid === t.tid && e.ts <= t.ts && t.ts <= e.ts + (e.dur ?? 0))
    expect(call, `the take ${t.id} happens inside a call on rank ${t.tid}`).toBeDefined()
  }
  return events
}
