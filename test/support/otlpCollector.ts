/** A stand-in OpenTelemetry collector for tests: takes OTLP/HTTP JSON on loopback and keeps what it got. */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { expect } from "vitest"

interface Span {
  readonly traceId: string
  readonly spanId: string
  readonly name: string
  readonly startTimeUnixNano: string
  readonly endTimeUnixNano: string
  readonly attributes: ReadonlyArray<{ readonly key: string; readonly value: Record<string, unknown> }>
  readonly links: ReadonlyArray<{ readonly traceId: string; readonly spanId: string }>
}

export interface Collector {
  readonly url: string
  /** The requests' paths and bodies, in order. */
  readonly received: Array<{ readonly path: string; readonly body: any }>
  close(): Promise<void>
}

export const startCollector = (): Promise<Collector> =>
  new Promise((resolve) => {
    const received: Array<{ path: string; body: any }> = []
    const server = createServer((req, res) => {
      let body = ""
      req.on("data", (d) => (body += d))
      req.on("end", () => {
        received.push({ path: req.url ?? "", body: JSON.parse(body) })
        res.writeHead(200, { "content-type": "application/json" }).end("{}")
      })
    })
    server.listen(0, "127.0.0.1", () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        received,
        close: () => new Promise((done) => server.close(() => done()))
      })
    )
  })

const rankOf = (s: Span): number | undefined => {
  const a = s.attributes.find((a) => a.key === "rankflow.rank")?.value
  return a === undefined ? undefined : Number(a["intValue"] ?? a["doubleValue"])
}

/** One OTLP request of one run: a span per call on every rank, one trace, each arrival linked to its send on another rank. */
export const checkOtlp = (body: any, ranks: number): ReadonlyArray<Span> => {
  const resource = body.resourceSpans[0]
  expect(resource.resource.attributes).toContainEqual({ key: "service.name", value: { stringValue: "rankflow" } })
  const spans = resource.scopeSpans[0].spans as ReadonlyArray<Span>
  expect(new Set(spans.map((s) => s.traceId)).size).toBe(1)
  expect(new Set(spans.map(rankOf))).toEqual(new Set(Array.from({ length: ranks }, (_, r) => r)))
  const byId = new Map(spans.map((s) => [s.spanId, s]))
  const arrivals = spans.filter((s) => s.name === "message in")
  expect(arrivals.length).toBeGreaterThan(0)
  for (const a of arrivals) {
    expect(a.links).toHaveLength(1)
    const sent = byId.get(a.links[0]!.spanId)
    expect(sent?.name).toBe("message out")
    expect(rankOf(sent!)).not.toBe(rankOf(a))
    expect(BigInt(sent!.startTimeUnixNano) <= BigInt(a.endTimeUnixNano)).toBe(true)
  }
  // The calls that took messages link to their arrivals, on their own rank.
  const takers = spans.filter((s) => s.name !== "message in" && s.links.length > 0)
  expect(takers.length).toBeGreaterThan(0)
  for (const call of takers) {
    for (const link of call.links) {
      const arrival = byId.get(link.spanId)
      expect([arrival?.name, rankOf(arrival!)]).toEqual(["message in", rankOf(call)])
    }
  }
  return spans
}
