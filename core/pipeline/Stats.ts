/**
 * What every actor of a pipeline counts while it runs: items in and out,
 * busy time, time blocked on credits (backpressure), its mailbox's depth and
 * peak against its bound. The counts feed Effect `Metric`s (attributes
 * `stage` and `replica`), the progress line, and `Pipeline.runWithStats`.
 */
import { Effect, Metric } from "effect"

/**
 * One actor's counts (one replica of one stage).
 *
 * @example
 * ```ts
 * const { result, stats } = yield* Pipeline.runWithStats(graph)
 * for (const s of stats) yield* Effect.log(`${s.stage}[${s.replica}] on rank ${s.rank}: ${s.itemsIn} in, ${s.itemsOut} out`)
 * ```
 */
export interface ActorStats {
  readonly stage: string
  readonly replica: number
  readonly rank: number
  itemsIn: number
  itemsOut: number
  batchesIn: number
  batchesOut: number
  /** Items dropped by `onError: "skip"`. */
  skipped: number
  /** Extra attempts made by an `onError: { retry }` policy. */
  retries: number
  restarts: number
  /** Milliseconds spent handling items. */
  busyMillis: number
  /** Milliseconds spent waiting for credit from a slower consumer. */
  blockedMillis: number
  /** How many times it had to wait for credit. */
  blockedWaits: number
  /** Batches waiting in its mailbox now, the most there ever were, and the most there can be. */
  mailboxDepth: number
  mailboxPeak: number
  mailboxBound: number
  /** The most batches it ever had sent to one consumer and not yet had credited back (≤ the window). */
  inFlightPeak: number
}

export const make = (stage: string, replica: number, rank: number, mailboxBound: number): ActorStats => ({
  stage,
  replica,
  rank,
  itemsIn: 0,
  itemsOut: 0,
  batchesIn: 0,
  batchesOut: 0,
  skipped: 0,
  retries: 0,
  restarts: 0,
  busyMillis: 0,
  blockedMillis: 0,
  blockedWaits: 0,
  mailboxDepth: 0,
  mailboxPeak: 0,
  mailboxBound,
  inFlightPeak: 0
})

/**
 * The actors of this rank's running pipelines, each with the stages it feeds:
 * what the rank reports to a dashboard (Runtime adds and removes them).
 */
export const live = new Map<ActorStats, ReadonlyArray<string>>()

const itemsIn = Metric.counter("rankflow_pipeline_items_in", { description: "Items a pipeline stage's replica took in" })
const itemsOut = Metric.counter("rankflow_pipeline_items_out", { description: "Items a pipeline stage's replica emitted" })
const skipped = Metric.counter("rankflow_pipeline_items_skipped", { description: "Items skipped by onError: \"skip\"" })
const busy = Metric.counter("rankflow_pipeline_busy_millis", { description: "Milliseconds a replica spent handling items" })
const blocked = Metric.counter("rankflow_pipeline_blocked_millis", { description: "Milliseconds a replica waited for credit (backpressure)" })
const mailbox = Metric.gauge("rankflow_pipeline_mailbox_depth", { description: "Batches waiting in a replica's mailbox" })

/** The Effect metrics of one actor; `flush` adds what changed since the last flush. */
export const metricsOf = (s: ActorStats) => {
  const attributes = { stage: s.stage, replica: String(s.replica) }
  const m = {
    itemsIn: Metric.withAttributes(itemsIn, attributes),
    itemsOut: Metric.withAttributes(itemsOut, attributes),
    skipped: Metric.withAttributes(skipped, attributes),
    busy: Metric.withAttributes(busy, attributes),
    blocked: Metric.withAttributes(blocked, attributes),
    mailbox: Metric.withAttributes(mailbox, attributes)
  }
  let last = { itemsIn: 0, itemsOut: 0, skipped: 0, busy: 0, blocked: 0 }
  return Effect.suspend(() => {
    const now = { itemsIn: s.itemsIn, itemsOut: s.itemsOut, skipped: s.skipped, busy: s.busyMillis, blocked: s.blockedMillis }
    const delta = {
      itemsIn: now.itemsIn - last.itemsIn,
      itemsOut: now.itemsOut - last.itemsOut,
      skipped: now.skipped - last.skipped,
      busy: now.busy - last.busy,
      blocked: now.blocked - last.blocked
    }
    last = now
    return Effect.all([
      Metric.update(m.itemsIn, delta.itemsIn),
      Metric.update(m.itemsOut, delta.itemsOut),
      Metric.update(m.skipped, delta.skipped),
      Metric.update(m.busy, delta.busy),
      Metric.update(m.blocked, delta.blocked),
      Metric.update(m.mailbox, s.mailboxDepth)
    ], { discard: true })
  })
}

/** Set by `rankflow run --progress` in the ranks' environment: pipelines print progress unless their options say otherwise. */
export const PIPELINE_PROGRESS_ENV = "RANKFLOW_PIPELINE_PROGRESS"

const rate = (n: number, seconds: number) =>
  seconds <= 0 ? "–" : n / seconds >= 1e6 ? `${(n / seconds / 1e6).toFixed(1)}M/s` : n / seconds >= 1e3 ? `${(n / seconds / 1e3).toFixed(1)}k/s` : `${Math.round(n / seconds)}/s`

interface StageTotals {
  itemsOut: number
  itemsIn: number
  busy: number
  blocked: number
  replicas: number
  mailbox: number
  bound: number
}

const totalsByStage = (stats: ReadonlyArray<ActorStats>) => {
  const by = new Map<string, StageTotals>()
  for (const s of stats) {
    const t = by.get(s.stage) ?? { itemsOut: 0, itemsIn: 0, busy: 0, blocked: 0, replicas: 0, mailbox: 0, bound: 0 }
    t.itemsIn += s.itemsIn
    t.itemsOut += s.itemsOut
    t.busy += s.busyMillis
    t.blocked += s.blockedMillis
    t.replicas++
    t.mailbox += s.mailboxDepth
    t.bound += s.mailboxBound
    by.set(s.stage, t)
  }
  return by
}

/**
 * One progress line from two snapshots of every actor's stats, `seconds`
 * apart: each stage's rate, and the stage that holds the others back (the
 * busiest one; its producers wait on it).
 */
export const progressLine = (
  elapsedSeconds: number,
  before: ReadonlyArray<ActorStats>,
  now: ReadonlyArray<ActorStats>,
  seconds: number,
  order: ReadonlyArray<string>
): string => {
  const a = totalsByStage(before)
  const b = totalsByStage(now)
  let slowest: string | undefined
  let slowestBusy = -1
  const parts: Array<string> = []
  for (const name of order) {
    const t1 = b.get(name)
    if (t1 === undefined) {
      parts.push(`${name} –`)
      continue
    }
    const t0 = a.get(name) ?? { itemsOut: 0, itemsIn: 0, busy: 0, blocked: 0, replicas: t1.replicas, mailbox: 0, bound: t1.bound }
    const items = t1.itemsIn > 0 ? t1.itemsIn - t0.itemsIn : t1.itemsOut - t0.itemsOut
    const busyShare = (t1.busy - t0.busy) / (seconds * 1000 * t1.replicas)
    if (busyShare > slowestBusy) {
      slowestBusy = busyShare
      slowest = name
    }
    parts.push(`${name} ${rate(items, seconds)}`)
  }
  const held = slowest === undefined ? "" : `; ${slowest} holds the others back (busy ${Math.round(Math.min(1, slowestBusy) * 100)}%, mailbox ${b.get(slowest)!.mailbox}/${b.get(slowest)!.bound})`
  return `pipeline ${elapsedSeconds.toFixed(0)}s: ${parts.join(" · ")}${held}`
}

/** The last progress line: each stage's items and average rate over the whole run. */
export const finalLine = (seconds: number, stats: ReadonlyArray<ActorStats>, order: ReadonlyArray<string>): string => {
  const by = totalsByStage(stats)
  const parts = order.flatMap((name) => {
    const t = by.get(name)
    if (t === undefined) return []
    const items = t.itemsIn > 0 ? t.itemsIn : t.itemsOut
    return [`${name} ${items} items (${rate(items, seconds)})`]
  })
  return `pipeline done in ${seconds.toFixed(1)}s: ${parts.join(" · ")}`
}
