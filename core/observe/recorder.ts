/**
 * The rank's trace recorder (`rankflow run --trace`): when the job traces
 * (RANKFLOW_TRACE=1 in the ranks' environment), communicator calls are
 * recorded as spans and every message as a flow from its send to its
 * arrival, in Chrome's trace event format; the runner hands the events to
 * the launcher after each run. When the job does not trace, each hook costs
 * one check of a constant. Internal.
 */
import { performance } from "node:perf_hooks"

/** The environment variable that turns tracing on in the ranks. */
export const TRACE_ENV = "RANKFLOW_TRACE"

/** Whether this rank records (read once, when the rank starts). */
export const tracing: boolean = globalThis.process?.env?.[TRACE_ENV] === "1"

/** One event of Chrome's trace event format (what Perfetto and chrome://tracing read). */
export interface TraceEvent {
  readonly name: string
  readonly cat: string
  readonly ph: "X" | "s" | "f" | "M"
  /** Microseconds since the epoch (comparable across threads and processes of one host). */
  readonly ts: number
  readonly dur?: number
  readonly pid: number
  readonly tid: number
  readonly id?: number
  readonly bp?: "e"
  readonly args?: Record<string, unknown>
}

/** Every rank's track is a thread of one process in the trace. */
export const TRACE_PID = 1

const events: Array<TraceEvent> = []
const origin = performance.timeOrigin

/** Now, in microseconds since the epoch. */
export const now = (): number => (origin + performance.now()) * 1000

/** A `performance.now()` reading, in the trace's microseconds since the epoch. */
export const at = (performanceMillis: number): number => (origin + performanceMillis) * 1000

/** This thread's or process's rank, for spans recorded where no communicator is at hand (codecs). */
export let selfRank = 0
export const setSelfRank = (rank: number): void => {
  selfRank = rank
}

/** Records a finished span of `rank`'s track. */
export const span = (rank: number, name: string, cat: string, start: number, end: number, args?: Record<string, unknown>): void => {
  events.push({ name, cat, ph: "X", ts: start, dur: Math.max(0.001, end - start), pid: TRACE_PID, tid: rank, ...(args === undefined ? {} : { args }) })
}

/** A message's flow id: its sender, receiver and its number among the messages between them. */
const flowId = (from: number, to: number, k: number): number => (from * 1024 + to) * 2 ** 32 + k

const sentTo = new Map<number, number>()
const arrivedFrom = new Map<number, number>()

/** A message leaves `rank` for `dest`: a short slice with the start of its flow. */
export const sent = (rank: number, dest: number, tag: number, bytes: number): void => {
  const k = sentTo.get(dest) ?? 0
  sentTo.set(dest, k + 1)
  const ts = now()
  span(rank, "message out", "message", ts, ts, { dest, tag, bytes })
  events.push({ name: "message", cat: "message", ph: "s", ts, pid: TRACE_PID, tid: rank, id: flowId(rank, dest, k) })
}

/** A message from `source` arrived at `rank`: a short slice with the end of its flow, and the start of the flow to the receive that takes it. */
export const arrived = (rank: number, source: number, tag: number, bytes: number, arrival: object): void => {
  const k = arrivedFrom.get(source) ?? 0
  arrivedFrom.set(source, k + 1)
  const ts = now()
  const id = flowId(source, rank, k)
  span(rank, "message in", "message", ts, ts, { source, tag, bytes })
  events.push({ name: "message", cat: "message", ph: "f", bp: "e", ts, pid: TRACE_PID, tid: rank, id })
  events.push({ name: "taken", cat: "taken", ph: "s", ts, pid: TRACE_PID, tid: rank, id: id + TAKEN })
  arrivals.set(arrival, id + TAKEN)
}

/** Flows from an arrival to the receive that took it have ids of their own. */
const TAKEN = 2 ** 52
const arrivals = new WeakMap<object, number>()

/**
 * A receive on `rank` took the message that arrived as `arrival`: the end of
 * the flow from its arrival, bound to the slice that encloses this moment
 * (the `recv`, `sendrecv` or collective call that took it).
 */
export const taken = (rank: number, arrival: object): void => {
  const id = arrivals.get(arrival)
  if (id === undefined) return
  arrivals.delete(arrival)
  events.push({ name: "taken", cat: "taken", ph: "f", bp: "e", ts: now(), pid: TRACE_PID, tid: rank, id })
}

/** The events recorded since the last drain. */
export const drain = (): Array<TraceEvent> => events.splice(0)
