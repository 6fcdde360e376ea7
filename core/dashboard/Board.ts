/**
 * What the dashboard shows, kept up to date from a run's observer events
 * (`RunObserver`): every rank's state and what it waits for, its message and
 * byte rates and heap over the last minute, a timeline of its activity, its
 * last lines of output, how it ended; and for pipelines, the stage graph
 * with items/s on each edge, mailbox depths, and the stage that holds the
 * others back. `view()` is the JSON the page draws. Internal to the
 * dashboard.
 */
import type { RunObserver } from "../launching/World.ts"
import type * as Protocol from "../launching/RunnerProtocol.ts"
import { describeWait } from "../messaging/waits.ts"

/** What a rank is doing, as the timeline colours it. */
export type Activity = "compute" | "codec" | "send" | "receive" | "collective" | "window" | "io" | "idle" | "finished" | "stopped" | "failed"

/** How much history the page gets (milliseconds). */
const HISTORY_MS = 60_000
/** The share of a round's time in codec work from which a computing rank shows as doing codec work. */
const CODEC_SHARE = 0.3
/** Lines of output kept per rank. */
const LOG_LINES = 20

interface Sample {
  readonly t: number
  readonly msgsOut: number
  readonly msgsIn: number
  readonly bytesOut: number
  readonly bytesIn: number
  readonly heap: number
}

interface Segment {
  readonly activity: Activity
  readonly start: number
  end: number
}

interface RankState {
  readonly rank: number
  activity: Activity
  doing: string
  failure: string | undefined
  last: Protocol.Status | undefined
  lastAt: number
  readonly samples: Array<Sample>
  readonly timeline: Array<Segment>
  readonly logs: Array<string>
  partialLog: string
}

interface StageState {
  itemsIn: number
  itemsOut: number
  busyMillis: number
  blockedMillis: number
  mailboxDepth: number
  mailboxBound: number
  replicas: number
  readonly downstream: Set<string>
}

/** A stage of a running pipeline, as the page draws it. */
export interface StageView {
  readonly name: string
  readonly replicas: number
  readonly itemsIn: number
  readonly itemsOut: number
  readonly itemsPerSecond: number
  /** Share of the replicas' time spent handling items (0–1), and waiting for credit from downstream. */
  readonly busy: number
  readonly blocked: number
  readonly mailboxDepth: number
  readonly mailboxBound: number
  readonly bottleneck: boolean
}

/** The JSON the page gets. */
export interface View {
  readonly now: number
  readonly run: number
  readonly size: number
  readonly state: "waiting for a run" | "running" | "finished" | "failed"
  readonly failure: string | undefined
  /** The job's shared arena (shm): bytes in use and its size; 0 where there is none. */
  readonly arena: { readonly used: number; readonly size: number }
  readonly ranks: ReadonlyArray<{
    readonly rank: number
    readonly activity: Activity
    readonly doing: string
    readonly failure: string | undefined
    readonly sent: number
    readonly arrived: number
    readonly bytesSent: number
    readonly bytesArrived: number
    readonly heap: number
    /** Bytes it holds on a GPU (0 without one). */
    readonly gpu: number
    readonly samples: ReadonlyArray<Sample>
    readonly timeline: ReadonlyArray<Segment>
    readonly logs: ReadonlyArray<string>
  }>
  readonly stages: ReadonlyArray<StageView>
  readonly edges: ReadonlyArray<{ readonly from: string; readonly to: string; readonly itemsPerSecond: number }>
}

const activityOf = (s: Protocol.Status | undefined): Activity => {
  if (s === undefined) return "compute"
  if (s.run === 0) return "finished"
  const w = s.waits[0]
  if (w !== undefined) {
    if (w.op === "recv" || w.op === "probe") return "receive"
    if (w.op === "ssend") return "send"
    if (/window|lock|fence|epoch|post|start|complete/i.test(w.op)) return "window"
    return "collective"
  }
  if (s.pending.some((p) => /FSReq|FileHandle/.test(p))) return "io"
  return s.quiet ? "idle" : "compute"
}

const doingOf = (s: Protocol.Status | undefined): string => {
  if (s === undefined) return "computing (busy: it did not answer)"
  if (s.run === 0) return "finished"
  if (s.waits.length > 0) return s.waits.map((w) => describeWait(w)).join("; ")
  if (s.pending.some((p) => /FSReq|FileHandle/.test(p))) return "reading or writing files"
  return s.quiet ? "idle (waiting on nothing rankflow knows of)" : "computing"
}

export class Board implements RunObserver {
  private run = 0
  private size = 0
  private state: View["state"] = "waiting for a run"
  private failure: string | undefined
  private ranks = new Map<number, RankState>()
  private stages = new Map<string, StageState>()
  private stageRates = new Map<string, { readonly itemsIn: number; readonly itemsOut: number; readonly busy: number; readonly blocked: number }>()
  private stagesAt = 0
  private readonly now: () => number

  constructor(now: () => number = Date.now) {
    this.now = now
  }

  started(run: { readonly id: number; readonly size: number; readonly ranks: ReadonlyArray<number> }): void {
    this.run = run.id
    this.size = run.size
    this.state = "running"
    this.failure = undefined
    this.stages.clear()
    this.stageRates.clear()
    const now = this.now()
    const before = this.ranks
    this.ranks = new Map(run.ranks.map((rank) => [rank, {
      rank,
      activity: "compute" as Activity,
      doing: "starting",
      failure: undefined,
      last: undefined,
      lastAt: now,
      samples: [],
      timeline: [{ activity: "compute" as Activity, start: now, end: now }],
      // Output of the ranks before this run stays (a job's earlier runs).
      logs: before.get(rank)?.logs ?? [],
      partialLog: ""
    }]))
  }

  /** More ranks of the run (another launcher's, seen on the job's stats channel). */
  addRanks(ranks: ReadonlyArray<number>): void {
    const now = this.now()
    for (const rank of ranks) {
      if (this.ranks.has(rank)) continue
      const r = this.placeholder(rank)
      r.activity = "compute"
      r.doing = "starting"
      r.timeline.push({ activity: "compute", start: now, end: now })
    }
  }

  /** One round of answers; `only`: the ranks it is about (one launcher's), default every rank. */
  round(at: number, replies: ReadonlyMap<number, Protocol.Status>, only?: ReadonlyArray<number>): void {
    for (const r of only === undefined ? this.ranks.values() : only.flatMap((rank) => this.ranks.get(rank) ?? [])) {
      if (r.failure !== undefined || r.activity === "stopped") {
        this.mark(r, r.activity, at)
        continue
      }
      const s = replies.get(r.rank)
      const before = r.last
      const beforeAt = r.lastAt
      if (s !== undefined && r.last !== undefined && r.last.run === s.run) {
        const dt = Math.max(1, at - r.lastAt) / 1000
        r.samples.push({
          t: at,
          msgsOut: (s.sent - r.last.sent) / dt,
          msgsIn: (s.arrived - r.last.arrived) / dt,
          bytesOut: (s.bytesSent - r.last.bytesSent) / dt,
          bytesIn: (s.bytesArrived - r.last.bytesArrived) / dt,
          heap: s.heapUsed
        })
      }
      if (s !== undefined) {
        r.last = s
        r.lastAt = at
      }
      // Computing, but mostly encoding and decoding values since the last round: codec work.
      const codecShare = s !== undefined && before !== undefined && before.run === s.run ? (s.codecMillis - before.codecMillis) / Math.max(1, at - beforeAt) : 0
      const activity = activityOf(s)
      const shown = activity === "compute" && codecShare >= CODEC_SHARE ? "codec" : activity
      r.doing = shown === "codec" ? `encoding and decoding values (${Math.round(codecShare * 100)} % of the time)` : doingOf(s)
      this.mark(r, shown, at)
      while (r.samples.length > 0 && r.samples[0]!.t < at - HISTORY_MS) r.samples.shift()
      while (r.timeline.length > 1 && r.timeline[0]!.end < at - HISTORY_MS) r.timeline.shift()
    }
    this.gatherStages(at, replies)
  }

  settled(rank: number, failure?: string, stopped?: boolean): void {
    const r = this.ranks.get(rank)
    if (r === undefined) return
    const at = this.now()
    if (failure !== undefined && stopped === true) {
      r.doing = `stopped: ${failure}`
      this.mark(r, "stopped", at)
    } else if (failure !== undefined) {
      r.failure = failure
      r.doing = `failed: ${failure}`
      this.mark(r, "failed", at)
    } else if (r.failure === undefined) {
      r.doing = "finished"
      this.mark(r, "finished", at)
    }
  }

  output(rank: number, text: string): void {
    const r = this.ranks.get(rank) ?? this.placeholder(rank)
    const lines = (r.partialLog + text).split("\n")
    r.partialLog = lines.pop()!
    for (const line of lines) r.logs.push(line.replace(/\u001b\[[0-9;]*m/g, ""))
    if (r.logs.length > LOG_LINES) r.logs.splice(0, r.logs.length - LOG_LINES)
  }

  /** The run ended; `only`: for these ranks (one launcher's of several), the others go on unless it failed. */
  ended(failure?: string, only?: ReadonlyArray<number>): void {
    if (failure !== undefined) {
      this.state = "failed"
      this.failure ??= failure
    } else if (only === undefined && this.state !== "failed") this.state = "finished"
    const at = this.now()
    for (const r of only === undefined ? this.ranks.values() : only.flatMap((rank) => this.ranks.get(rank) ?? [])) {
      if (r.activity !== "failed" && r.activity !== "finished" && r.activity !== "stopped") this.mark(r, r.failure === undefined ? "finished" : "failed", at)
    }
  }

  /** What the page draws now. */
  view(): View {
    const now = this.now()
    const rates = this.stageRates
    const busiest = [...rates.entries()].filter(([name]) => (this.stages.get(name)?.replicas ?? 0) > 0)
    // The stage that holds the others back: the busiest one that stages feeding it wait for (blocked on its credits), else the busiest.
    const blockedFeeders = new Set([...this.stages.entries()].filter(([name]) => (rates.get(name)?.blocked ?? 0) > 0.05).flatMap(([, s]) => [...s.downstream]))
    const candidates = busiest.filter(([name]) => blockedFeeders.has(name))
    const pick = (candidates.length > 0 ? candidates : busiest).reduce<[string, number] | undefined>(
      (best, [name, r]) => (best === undefined || r.busy > best[1] ? [name, r.busy] : best), undefined
    )
    const bottleneck = pick !== undefined && pick[1] > 0.2 ? pick[0] : undefined
    return {
      now,
      run: this.run,
      size: this.size,
      state: this.state,
      failure: this.failure,
      arena: [...this.ranks.values()].reduce((a, r) => (r.last !== undefined && r.last.arenaSize > 0 ? { used: r.last.arenaUsed, size: r.last.arenaSize } : a), { used: 0, size: 0 }),
      ranks: [...this.ranks.values()].sort((a, b) => a.rank - b.rank).map((r) => ({
        rank: r.rank,
        activity: r.activity,
        doing: r.doing,
        failure: r.failure,
        sent: r.last?.sent ?? 0,
        arrived: r.last?.arrived ?? 0,
        bytesSent: r.last?.bytesSent ?? 0,
        bytesArrived: r.last?.bytesArrived ?? 0,
        heap: r.last?.heapUsed ?? 0,
        gpu: r.last?.deviceBytes ?? 0,
        samples: r.samples,
        timeline: r.timeline.map((s) => ({ ...s, end: s === r.timeline[r.timeline.length - 1] && this.state === "running" ? now : s.end })),
        logs: r.partialLog === "" ? r.logs : [...r.logs, r.partialLog]
      })),
      stages: [...this.stages.entries()].map(([name, s]) => ({
        name,
        replicas: s.replicas,
        itemsIn: s.itemsIn,
        itemsOut: s.itemsOut,
        itemsPerSecond: rates.get(name)?.itemsOut ?? 0,
        busy: rates.get(name)?.busy ?? 0,
        blocked: rates.get(name)?.blocked ?? 0,
        mailboxDepth: s.mailboxDepth,
        mailboxBound: s.mailboxBound,
        bottleneck: name === bottleneck
      })),
      edges: [...this.stages.entries()].flatMap(([from, s]) =>
        [...s.downstream].map((to) => ({ from, to, itemsPerSecond: rates.get(to)?.itemsIn ?? 0 }))
      )
    }
  }

  private placeholder(rank: number): RankState {
    const now = this.now()
    const r: RankState = { rank, activity: "idle", doing: "", failure: undefined, last: undefined, lastAt: now, samples: [], timeline: [], logs: [], partialLog: "" }
    this.ranks.set(rank, r)
    return r
  }

  private mark(r: RankState, activity: Activity, at: number): void {
    const last = r.timeline[r.timeline.length - 1]
    if (last !== undefined) last.end = at
    if (last === undefined || last.activity !== activity) r.timeline.push({ activity, start: at, end: at })
    r.activity = activity
  }

  /** Adds up the ranks' pipeline actors by stage, and their rates since the last round that had any. */
  private gatherStages(at: number, replies: ReadonlyMap<number, Protocol.Status>): void {
    const now = new Map<string, StageState>()
    for (const s of replies.values()) {
      for (const a of s.actors) {
        const st = now.get(a.stage) ?? { itemsIn: 0, itemsOut: 0, busyMillis: 0, blockedMillis: 0, mailboxDepth: 0, mailboxBound: 0, replicas: 0, downstream: new Set<string>() }
        st.itemsIn += a.itemsIn
        st.itemsOut += a.itemsOut
        st.busyMillis += a.busyMillis
        st.blockedMillis += a.blockedMillis
        st.mailboxDepth += a.mailboxDepth
        st.mailboxBound += a.mailboxBound
        st.replicas++
        for (const d of a.downstream) st.downstream.add(d)
        now.set(a.stage, st)
      }
    }
    if (now.size === 0) return
    const dt = Math.max(1, at - this.stagesAt)
    const rates = new Map<string, { itemsIn: number; itemsOut: number; busy: number; blocked: number }>()
    for (const [name, st] of now) {
      const before = this.stages.get(name)
      if (before === undefined || this.stagesAt === 0) continue
      const replicas = Math.max(1, st.replicas)
      rates.set(name, {
        itemsIn: Math.max(0, st.itemsIn - before.itemsIn) * 1000 / dt,
        itemsOut: Math.max(0, st.itemsOut - before.itemsOut) * 1000 / dt,
        busy: Math.min(1, Math.max(0, st.busyMillis - before.busyMillis) / (dt * replicas)),
        blocked: Math.min(1, Math.max(0, st.blockedMillis - before.blockedMillis) / (dt * replicas))
      })
    }
    // A stage whose actors have all ended keeps its last counts (and no rate).
    this.stages = new Map([...this.stages, ...now])
    if (rates.size > 0 || this.stagesAt === 0) this.stageRates = rates
    this.stagesAt = at
  }
}
