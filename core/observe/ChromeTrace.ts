/**
 * Writing a run's trace (`--trace`, `WorldOptions.trace`) in Chrome's trace
 * event format, which Perfetto (ui.perfetto.dev) and chrome://tracing open:
 * one process for the job, one named thread per rank, the ranks' spans and
 * message flows as they recorded them (recorder.ts). Internal: World writes it.
 */
import { writeFileSync } from "node:fs"
import { TRACE_PID, type TraceEvent } from "./recorder.ts"

/** Writes the events of `ranks` to `path` as a Chrome trace (JSON object form). */
export const writeTrace = (path: string, events: ReadonlyArray<TraceEvent>, ranks: ReadonlyArray<number>): void => {
  const names: Array<TraceEvent> = [
    { name: "process_name", cat: "__metadata", ph: "M", ts: 0, pid: TRACE_PID, tid: 0, args: { name: "rankflow job" } },
    ...ranks.map((r): TraceEvent => ({ name: "thread_name", cat: "__metadata", ph: "M", ts: 0, pid: TRACE_PID, tid: r, args: { name: `rank ${r}` } })),
    ...ranks.map((r): TraceEvent => ({ name: "thread_sort_index", cat: "__metadata", ph: "M", ts: 0, pid: TRACE_PID, tid: r, args: { sort_index: r } }))
  ]
  writeFileSync(path, JSON.stringify({ traceEvents: [...names, ...events], displayTimeUnit: "ms" }))
}
