/**
 * Exporting a run's trace through OpenTelemetry (`rankflow run --otlp URL`,
 * `WorldOptions.otlp`): the spans the ranks recorded (recorder.ts) as one
 * OTLP/HTTP JSON request to a collector's `/v1/traces`, built with Effect's
 * OTLP models and resource and sent with Effect's HTTP client. One trace per
 * run; each rank's spans carry `rankflow.rank`; a message's arrival span
 * links to its send span, and the call that took the message (a receive, a
 * collective) links to its arrival (the flows of the Chrome trace). Internal: World
 * calls it when the run ends.
 */
import { Data, Effect } from "effect"
import type { OtlpTracer } from "effect/observability"
import { randomBytes } from "node:crypto"
import type { TraceEvent } from "./recorder.ts"

/**
 * The collector did not take the trace (unreachable, or it answered an error).
 *
 * @example
 * ```ts
 * exportSpans(url, events, { size: 4, run: 1 }).pipe(Effect.catchTag("OtlpError", (e) => Effect.logWarning(e.message)))
 * ```
 */
export class OtlpError extends Data.TaggedError("OtlpError")<{ readonly message: string; readonly cause?: unknown }> {}

/** `http://collector:4318` or a full `…/v1/traces`: where the spans go. */
export const tracesUrl = (url: string): string => (/\/v1\/traces\/?$/.test(url) ? url : `${url.replace(/\/+$/, "")}/v1/traces`)

const hex = (bytes: number) => randomBytes(bytes).toString("hex")
/** Microseconds since the epoch as OTLP's nanosecond string. */
const nanos = (micros: number): string => (BigInt(Math.round(micros * 1000))).toString()

type Span = OtlpTracer.ScopeSpan["spans"][number]

/** Effect's HTTP client and OTLP resource, loaded when a run exports (ranks never load them). */
const modules = Effect.promise(() => Promise.all([import("effect/http"), import("effect/observability")]))

/** The run's recorded events as OTLP spans of one trace (flows become links); `OtlpResource` is Effect's. */
export const toTraceData = (
  OtlpResource: typeof import("effect/observability").OtlpResource,
  events: ReadonlyArray<TraceEvent>,
  info: { readonly size: number; readonly run: number }
): OtlpTracer.TraceData => {
  const traceId = hex(16)
  const spans: Array<Span & { links: Array<Span["links"][number]> }> = []
  /** The last span of each rank's track: a flow event follows the message slice it belongs to. */
  const lastOf = new Map<number, Span & { links: Array<Span["links"][number]> }>()
  const outOf = new Map<number, string>()
  const arrivals: Array<{ readonly span: Span & { links: Array<Span["links"][number]> }; readonly flow: number }> = []
  /** Calls by track (start, end), for the receive that took a message: the call enclosing the take. */
  const calls = new Map<number, Array<{ readonly start: number; readonly end: number; readonly span: Span & { links: Array<Span["links"][number]> } }>>()
  const takes: Array<{ readonly tid: number; readonly ts: number; readonly flow: number }> = []
  for (const e of events) {
    if (e.cat === "taken") {
      // The flow from an arrival (its "message in" span, the last span of the track then) to the call that took it.
      if (e.ph === "s" && e.id !== undefined) {
        const span = lastOf.get(e.tid)
        if (span !== undefined) outOf.set(e.id, span.spanId)
      } else if (e.ph === "f" && e.id !== undefined) takes.push({ tid: e.tid, ts: e.ts, flow: e.id })
      continue
    }
    if (e.ph === "X") {
      const span = {
        traceId,
        spanId: hex(8),
        parentSpanId: undefined,
        name: e.name,
        kind: 1,
        startTimeUnixNano: nanos(e.ts),
        endTimeUnixNano: nanos(e.ts + (e.dur ?? 0)),
        attributes: OtlpResource.entriesToAttributes(Object.entries({ "rankflow.rank": e.tid, "rankflow.category": e.cat, ...e.args })),
        droppedAttributesCount: 0,
        events: [],
        droppedEventsCount: 0,
        status: { code: 1 as const },
        links: [] as Array<Span["links"][number]>,
        droppedLinksCount: 0
      }
      spans.push(span)
      lastOf.set(e.tid, span)
      if (e.cat !== "message" && e.cat !== "codec") {
        const track = calls.get(e.tid) ?? []
        track.push({ start: e.ts, end: e.ts + (e.dur ?? 0), span })
        calls.set(e.tid, track)
      }
    } else if (e.ph === "s" && e.id !== undefined) {
      const span = lastOf.get(e.tid)
      if (span !== undefined) outOf.set(e.id, span.spanId)
    } else if (e.ph === "f" && e.id !== undefined) {
      const span = lastOf.get(e.tid)
      if (span !== undefined) arrivals.push({ span, flow: e.id })
    }
  }
  // Sends and arrivals of different ranks come in any order: links are made once every send is known.
  for (const { span, flow } of arrivals) {
    const out = outOf.get(flow)
    if (out !== undefined) span.links.push({ traceId, spanId: out, attributes: OtlpResource.entriesToAttributes([["rankflow.link", "message sent"]]), droppedAttributesCount: 0 })
  }
  // The innermost call enclosing each take links to the arrival it took. A track's calls nest or are
  // disjoint, so that call is the latest-starting one that starts before the take and ends after it:
  // found by a binary search over the track's calls by start, then a walk back (not a scan of them all).
  // (Calls that start together: the outer, longer one first, so that the walk back meets the inner one first.)
  for (const track of calls.values()) track.sort((a, b) => a.start - b.start || b.end - a.end)
  const enclosing = (tid: number, ts: number) => {
    const track = calls.get(tid)
    if (track === undefined) return undefined
    let lo = 0
    let hi = track.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (track[mid]!.start <= ts) lo = mid + 1
      else hi = mid
    }
    for (let i = lo - 1; i >= 0; i--) if (track[i]!.end >= ts) return track[i]
    return undefined
  }
  for (const { tid, ts, flow } of takes) {
    const arrival = outOf.get(flow)
    const call = arrival === undefined ? undefined : enclosing(tid, ts)
    if (arrival !== undefined && call !== undefined) {
      call.span.links.push({ traceId, spanId: arrival, attributes: OtlpResource.entriesToAttributes([["rankflow.link", "message taken"]]), droppedAttributesCount: 0 })
    }
  }
  return {
    resourceSpans: [{
      resource: OtlpResource.make({ serviceName: "rankflow", attributes: { "rankflow.size": info.size, "rankflow.run": info.run } }),
      scopeSpans: [{ scope: { name: "rankflow" }, spans }]
    }]
  }
}

/**
 * Sends the run's spans to the collector at `url`.
 *
 * @example
 * ```ts
 * yield* exportSpans("http://127.0.0.1:4318", events, { size: 4, run: 1 })
 * ```
 */
export const exportSpans = (url: string, events: ReadonlyArray<TraceEvent>, info: { readonly size: number; readonly run: number }): Effect.Effect<void, OtlpError> =>
  Effect.gen(function*() {
    const [{ FetchHttpClient, HttpClient, HttpClientRequest }, { OtlpResource }] = yield* modules
    const send = Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      const request = HttpClientRequest.post(tracesUrl(url)).pipe(HttpClientRequest.bodyJsonUnsafe(toTraceData(OtlpResource, events, info)))
      const response = yield* client.execute(request)
      if (response.status >= 300) {
        const body = yield* Effect.orElseSucceed(response.text, () => "")
        return yield* new OtlpError({ message: `the collector at ${tracesUrl(url)} answered ${response.status}${body === "" ? "" : `: ${body.slice(0, 200)}`}` })
      }
    })
    yield* Effect.provide(send, FetchHttpClient.layer)
  }).pipe(
    Effect.mapError((e) => (e instanceof OtlpError ? e : new OtlpError({ message: `could not send the trace to ${tracesUrl(url)}: ${(e as { message?: string }).message ?? String(e)}`, cause: e })))
  )
