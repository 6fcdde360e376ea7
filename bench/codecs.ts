/**
 * The codec benchmark: every payload through every rankflow codec that can
 * carry it and through baselines in the same run (JSON + UTF-8,
 * v8.serialize, structuredClone, msgpackr plain and with its records
 * extension). Prints ops/s for encode, decode and the round trip, MB/s,
 * encoded bytes and each codec's round-trip ratio to the fastest baseline,
 * and writes bench/results/codecs.json. An out-of-band buffer travels by
 * reference (no byte is copied), so it shows as "no copy", not as MB/s.
 *
 * Run: npm run bench:codecs [-- --time 500 --only records] (--only: the payloads whose
 * name contains the text, printed, not written to the results)
 */
import { Packr, pack, unpack } from "msgpackr"
import { Bench } from "tinybench"
import * as v8 from "node:v8"
import { cbor, marshal, msgpack, pickle, raw, registerClass } from "rankflow/codecs"
import type { Codec, Frames } from "../codecs/Codec.ts"
import * as P from "./payloads/codecs.ts"
import { formatNumber, machine, printTable, progress, writeResults } from "./support/results.ts"

registerClass(P.Complex, { name: "Complex" })

const timeArg = process.argv.indexOf("--time")
const TIME = timeArg > 0 ? Number(process.argv[timeArg + 1]) : 400
const onlyArg = process.argv.indexOf("--only")
const ONLY = onlyArg > 0 ? process.argv[onlyArg + 1] : undefined

interface Subject {
  readonly name: string
  readonly baseline: boolean
  encode(value: unknown): unknown
  decode(encoded: unknown): unknown
  bytes(encoded: unknown): number | undefined
  /** The encoded bytes that are the input's own memory, passed by reference (out-of-band buffers). */
  shared?(encoded: unknown, value: unknown): number
}

/** The ArrayBuffers of the typed arrays in `value` (through arrays, plain objects and Maps, a few levels deep). */
const memoryOf = (value: unknown, depth = 4, out = new Set<ArrayBufferLike>()): Set<ArrayBufferLike> => {
  if (ArrayBuffer.isView(value)) out.add(value.buffer)
  else if (depth > 0 && Array.isArray(value)) for (const v of value) memoryOf(v, depth - 1, out)
  else if (depth > 0 && value instanceof Map) for (const v of value.values()) memoryOf(v, depth - 1, out)
  else if (depth > 0 && typeof value === "object" && value !== null) for (const v of Object.values(value)) memoryOf(v, depth - 1, out)
  return out
}

const fromCodec = (codec: Codec): Subject => ({
  name: codec.name,
  baseline: false,
  encode: (v) => codec.encodeSync(v),
  decode: (f) => codec.decodeSync(f as Frames),
  bytes: (f) => (f as Frames).header.byteLength + (f as Frames).buffers.reduce((n, b) => n + b.byteLength, 0),
  shared: (f, value) => {
    const own = memoryOf(value)
    return (f as Frames).buffers.reduce((n, b) => n + (own.has(b.buffer) ? b.byteLength : 0), 0)
  }
})

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder()
/** JSON cannot carry typed arrays: they travel as plain arrays of numbers, as a JSON user would send them. */
const jsonable = (v: unknown): unknown => (v instanceof Float64Array ? Array.from(v) : v)

const json: Subject = {
  name: "JSON",
  baseline: true,
  encode: (v) => utf8.encode(JSON.stringify(jsonable(v))),
  decode: (b) => JSON.parse(fromUtf8.decode(b as Uint8Array)),
  bytes: (b) => (b as Uint8Array).byteLength
}
const v8serialize: Subject = {
  name: "v8.serialize",
  baseline: true,
  encode: (v) => v8.serialize(v),
  decode: (b) => v8.deserialize(b as Buffer),
  bytes: (b) => (b as Buffer).byteLength
}
const clone: Subject = {
  name: "structuredClone",
  baseline: true,
  encode: (v) => v,
  decode: (v) => structuredClone(v),
  bytes: () => undefined
}
const typed = new Packr({ moreTypes: true, useRecords: false })
const msgpackrPlain: Subject = {
  name: "msgpackr",
  baseline: true,
  encode: (v) => (v instanceof Float64Array ? typed.pack(v) : pack(v)),
  decode: (b) => unpack(b as Buffer),
  bytes: (b) => (b as Buffer).byteLength
}
const records = new Packr({ useRecords: true, moreTypes: true })
const msgpackrRecords: Subject = {
  name: "msgpackr+records",
  baseline: true,
  encode: (v) => records.pack(v),
  decode: (b) => records.unpack(b as Buffer),
  bytes: (b) => (b as Buffer).byteLength
}

const [pickleS, marshalS, cborS, msgpackS, rawS] = [pickle, marshal, cbor, msgpack, raw].map(fromCodec) as [Subject, Subject, Subject, Subject, Subject]
const baselines = [json, v8serialize, clone, msgpackrPlain, msgpackrRecords]

interface Payload {
  readonly name: string
  /** Each subject with the value it is given (codecs without classes get the plain form). */
  readonly subjects: ReadonlyArray<readonly [Subject, unknown]>
}

const withAll = (value: unknown, extra: ReadonlyArray<Subject> = []): Array<readonly [Subject, unknown]> =>
  [pickleS, marshalS, cborS, msgpackS, ...extra, ...baselines].map((s) => [s, value] as const)

const allPayloads: ReadonlyArray<Payload> = [
  {
    name: "seed dict",
    subjects: [[pickleS, P.seedDict(false)], ...withAll(P.seedDict(true)).filter(([s]) => s !== pickleS)]
  },
  { name: "small record", subjects: withAll(P.smallRecord()) },
  { name: "10,000 records", subjects: withAll(P.records(10_000)) },
  { name: "graph (shared refs, cycles)", subjects: [pickleS, v8serialize, clone].map((s) => [s, P.graph(1000)] as const) },
  { name: "Float64Array 1,000", subjects: withAll(P.float64(1000), [rawS]).filter(([s]) => s !== msgpackrRecords) },
  { name: "Float64Array 1,000,000", subjects: withAll(P.float64(1_000_000), [rawS]).filter(([s]) => s !== msgpackrRecords) },
  { name: "string document", subjects: withAll(P.stringDocument()) }
]

const payloads = ONLY === undefined ? allPayloads : allPayloads.filter((p) => p.name.includes(ONLY))

interface Row {
  payload: string
  subject: string
  baseline: boolean
  bytes: number | undefined
  encodeOps: number
  decodeOps: number
  roundTripOps: number
  /** Bytes moved per round trip over the time: undefined where nothing is copied (an out-of-band buffer travels by reference). */
  mbPerSecond: number | undefined
  /** Encoded bytes that are the input's own memory, passed by reference: a round trip copies none of them. */
  sharedBytes: number
  ratioToFastestBaseline?: number
  fastestBaseline?: string
}

const measure = async (label: string, fn: () => unknown): Promise<number> => {
  const bench = new Bench({ time: TIME, warmupTime: Math.min(100, TIME / 4) })
  bench.add(label, fn)
  await bench.run()
  const result = bench.tasks[0]!.result
  if (result.state !== "completed") throw new Error(`${label}: ${result.state}`)
  return result.throughput.mean
}

const rows: Array<Row> = []
for (const payload of payloads) {
  for (const [subject, value] of payload.subjects) {
    progress(`${payload.name}: ${subject.name}`)
    const encoded = subject.encode(value)
    const bytes = subject.bytes(encoded)
    const sharedBytes = subject.shared?.(encoded, value) ?? 0
    const encodeOps = subject === clone ? NaN : await measure("encode", () => subject.encode(value))
    const decodeOps = subject === clone ? NaN : await measure("decode", () => subject.decode(encoded))
    const roundTripOps = await measure("round trip", () => subject.decode(subject.encode(value)))
    rows.push({
      payload: payload.name,
      subject: subject.name,
      baseline: subject.baseline,
      bytes,
      encodeOps,
      decodeOps,
      roundTripOps,
      sharedBytes,
      // Out-of-band buffers are the input's own memory: they are not copied, so they are not a bandwidth.
      mbPerSecond: bytes === undefined || bytes - sharedBytes < bytes / 100 ? undefined : ((bytes - sharedBytes) * roundTripOps) / 1e6
    })
  }
  const candidates = rows.filter((r) => r.payload === payload.name && r.baseline && r.subject !== "structuredClone")
  const fastest = candidates.reduce((a, b) => (b.roundTripOps > a.roundTripOps ? b : a))
  for (const r of rows) {
    if (r.payload !== payload.name || r.baseline) continue
    r.ratioToFastestBaseline = r.roundTripOps / fastest.roundTripOps
    r.fastestBaseline = fastest.subject
  }
}

const ratio = (payload: string, subject: string, baseline: string): number | undefined => {
  const a = rows.find((r) => r.payload === payload && r.subject === subject)
  const b = rows.find((r) => r.payload === payload && r.subject === baseline)
  return a && b ? a.roundTripOps / b.roundTripOps : undefined
}
const sizeRatio = (payload: string, subject: string): number | undefined => {
  const a = rows.find((r) => r.payload === payload && r.subject === subject)?.bytes
  const b = rows.find((r) => r.payload === payload && r.subject === "msgpack")?.bytes
  return a !== undefined && b !== undefined ? a / b : undefined
}

type Target = { target: string; ratio: number | undefined; goal: number; met: boolean }
const target = (text: string, value: number | undefined, goal: number, atMost = false): Target => ({
  target: text,
  ratio: value,
  goal,
  met: value !== undefined && (atMost ? value <= goal : value >= goal)
})
const targets: Array<Target> = [
  ...["seed dict", "small record", "10,000 records"].flatMap((p) => [
    target(`marshal round trip vs msgpackr, ${p}`, ratio(p, "marshal", "msgpackr"), 1.0),
    target(`marshal bytes / MessagePack bytes, ${p}`, sizeRatio(p, "marshal"), 1.0, true)
  ]),
  ...["seed dict", "small record", "10,000 records", "graph (shared refs, cycles)"].map((p) =>
    target(`pickle round trip vs v8.serialize, ${p}`, ratio(p, "pickle", "v8.serialize"), 2.0)
  ),
  // Issue 13: pickle, the default codec for objects, at least as fast as plain msgpackr on records and the seed dict.
  ...["seed dict", "10,000 records"].map((p) => target(`pickle round trip vs msgpackr, ${p}`, ratio(p, "pickle", "msgpackr"), 1.0)),
  target("pickle (out of band) vs v8.serialize, Float64Array 1,000,000", ratio("Float64Array 1,000,000", "pickle", "v8.serialize"), 0.9),
  target("buffer path vs v8.serialize, Float64Array 1,000,000", ratio("Float64Array 1,000,000", "raw", "v8.serialize"), 0.9)
]

console.log(`\nCodec benchmark — ${machine().cpu}, ${machine().cores} cores, Node ${process.version}\n`)
for (const payload of payloads) {
  console.log(`\n${payload.name}`)
  printTable(rows.filter((r) => r.payload === payload.name).map((r) => ({
    codec: r.baseline ? `(${r.subject})` : r.subject,
    "encode ops/s": r.encodeOps,
    "decode ops/s": r.decodeOps,
    "round trip ops/s": r.roundTripOps,
    "MB/s": r.mbPerSecond ?? (r.sharedBytes > 0 ? "no copy" : NaN),
    bytes: r.bytes ?? NaN,
    "vs fastest baseline": r.ratioToFastestBaseline === undefined
      ? ""
      : `${formatNumber(r.ratioToFastestBaseline)}x (${r.fastestBaseline}${r.mbPerSecond === undefined && r.sharedBytes > 0 ? "; no copy: the buffer travels by reference" : ""})`
  })))
}
const measured = targets.filter((t) => t.ratio !== undefined)
console.log("\nTargets")
printTable(measured.map((t) => ({ target: t.target, ratio: t.ratio!, goal: `${t.target.includes("bytes") ? "<=" : ">="} ${t.goal}`, met: t.met ? "yes" : "NO" })))
if (ONLY === undefined) console.log(`\nwrote ${writeResults("codecs", { timePerTaskMs: TIME, rows, targets })}`)
else console.log(`\n--only ${ONLY}: some payloads left out, results not written`)
