/**
 * The OTLP export's links from the call that took a message to the
 * message's arrival: the innermost call enclosing the take, whatever else
 * the track holds (nested calls, calls that start together, earlier calls).
 */
import { describe, expect, it } from "@effect/vitest"
import { OtlpResource } from "effect/observability"
import { toTraceData } from "../../core/observe/Otlp.ts"
import type { TraceEvent } from "../../core/observe/recorder.ts"

const x = (name: string, ts: number, dur: number, tid = 0, cat = "p2p"): TraceEvent => ({ name, cat, ph: "X", ts, dur, pid: 1, tid })
const flow = (ph: "s" | "f", ts: number, id: number, tid = 0): TraceEvent => ({ name: "taken", cat: "taken", ph, ts, pid: 1, tid, id })

/** The names of the spans that link to the arrival ("message in"), by the kind of link. */
const takers = (events: ReadonlyArray<TraceEvent>): Array<string> => {
  const spans = toTraceData(OtlpResource, events, { size: 1, run: 1 }).resourceSpans[0]!.scopeSpans[0]!.spans
  const arrival = spans.find((s) => s.name === "message in")!
  return spans.filter((s) => s.links.some((l) => l.spanId === arrival.spanId)).map((s) => s.name)
}

describe("OTLP links from a take to its arrival", () => {
  it("go to the innermost call enclosing the take, not to an outer one, an earlier one or one that starts with it", () => {
    // An outer call, many earlier disjoint calls, then an arrival and a recv nested in a sendrecv that starts with it.
    const earlier = Array.from({ length: 50 }, (_, i) => x(`early ${i}`, 10 + i * 2, 1))
    const events = [
      ...earlier,
      x("message in", 200, 0, 0, "message"),
      flow("s", 200, 7),
      x("recv", 300, 20),
      flow("f", 310, 7),
      x("sendrecv", 300, 40),
      x("program", 0, 1000)
    ]
    expect(takers(events)).toEqual(["recv"])
  })

  it("go to the outer call where the take falls outside every inner one", () => {
    const events = [
      x("message in", 5, 0, 0, "message"),
      flow("s", 5, 3),
      x("inner", 10, 5),
      x("outer", 8, 30),
      flow("f", 20, 3),
      x("after", 40, 5)
    ]
    expect(takers(events)).toEqual(["outer"])
  })

  it("are left out where no call encloses the take, or the arrival is unknown", () => {
    expect(takers([x("message in", 5, 0, 0, "message"), flow("s", 5, 3), x("before", 6, 2), flow("f", 20, 3)])).toEqual([])
    expect(takers([x("message in", 5, 0, 0, "message"), x("recv", 10, 20), flow("f", 20, 9)])).toEqual([])
  })
})
