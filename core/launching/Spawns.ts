/**
 * The launcher's side of comm.spawn (see core/dynamic/Spawn.ts): a rank asks
 * for ranks; the World starts them into the job's free slots, hands each its
 * Run command, and answers once every one of them has loaded its program
 * (then they run) or any could not (then those that did are stopped again,
 * and the answer says why, rank by rank). Internal: World's collector calls it.
 */
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Cause, Effect } from "effect"
import type { Job } from "../../transports/Launcher.ts"
import type * as Protocol from "./RunnerProtocol.ts"

interface Pending {
  readonly from: number
  readonly request: number
  /** The started ranks, by program. */
  readonly ranks: ReadonlyArray<ReadonlyArray<number>>
  readonly loaded: Set<number>
  readonly errors: Map<number, string>
}

export class Spawns {
  private readonly pending = new Map<number, Pending>()
  /** Spawned ranks whose death is not the run's failure (a pool's workers). */
  private readonly detached = new Set<number>()
  /** Whether a run that failed let its held ranks go (they run only to be interrupted). */
  private released = false

  private readonly job: Job
  /** The run's command (its id, codec, limits), which the spawned ranks' commands copy. */
  private readonly run: Protocol.Run
  /** Ranks that need not report for the run to end (the collector's). */
  private readonly settled: Set<number>
  /** Called when the run starts ranks: its slots are then used. */
  private readonly used: () => void

  constructor(job: Job, run: Protocol.Run, settled: Set<number>, used: () => void) {
    this.job = job
    this.run = run
    this.settled = settled
    this.used = used
  }

  /** A `Spawn` request from rank `from`: starts its ranks, or answers why not. */
  request(from: number, m: Protocol.Spawn): Effect.Effect<void> {
    const job = this.job
    const answer = (body: Protocol.Spawned) => job.post(from, body)
    const refuse = (message: string, errors: ReadonlyArray<ReadonlyArray<string | undefined>>) =>
      Effect.sync(() => answer({ _tag: "Spawned", request: m.request, ok: false, message, errors }))
    const wanted = m.programs.reduce((n, p) => n + p.maxprocs, 0)
    const each = (why: (p: Protocol.SpawnProgram) => string | undefined) => m.programs.map((p) => Array.from({ length: p.maxprocs }, () => why(p)))
    if (job.start === undefined) {
      const why = "this job's transport cannot start ranks while the job runs (spawn works on shm)"
      return refuse(`spawn: ${why}`, each(() => why))
    }
    const universe = job.universe ?? job.size
    const inUse = new Set(job.localRanks)
    const free: Array<number> = []
    for (let r = job.size; r < universe; r++) if (!inUse.has(r)) free.push(r)
    if (free.length < wanted) {
      const why = `no free slot: the job has room for ${universe} ranks (its universe), ${job.size} started with it and ${universe - job.size - free.length} spawned`
      return refuse(`spawn: ${wanted} rank${wanted === 1 ? "" : "s"} wanted but ${free.length} free slot${free.length === 1 ? "" : "s"} left; ` +
        `start the job with a larger universe (rankflow run --universe <n>, WorldOptions.universe)`, each(() => why))
    }
    const missing = (p: Protocol.SpawnProgram) => (p.module.startsWith("file:") && !existsSync(fileURLToPath(p.module)) ? `program not found: ${fileURLToPath(p.module)}` : undefined)
    if (m.programs.some((p) => missing(p) !== undefined)) {
      const errors = each(missing)
      return refuse(`spawn: ${errors.flat().find((e) => e !== undefined)}`, errors)
    }
    const self = this
    return Effect.gen(function*() {
      let next = 0
      const ranks = m.programs.map((p) => free.slice(next, (next += p.maxprocs)))
      const world = ranks.flat()
      const pending: Pending = { from, request: m.request, ranks, loaded: new Set(), errors: new Map() }
      self.used()
      for (const [i, p] of m.programs.entries()) {
        for (const rank of ranks[i]!) {
          self.pending.set(rank, pending)
          if (m.detached) self.detached.add(rank)
          const started = yield* Effect.exit(job.start!(rank, [p.module]))
          if (started._tag === "Failure") {
            const why = Cause.squash(started.cause)
            pending.errors.set(rank, `could not start: ${why instanceof Error ? why.message : String(why)}`)
            self.settled.add(rank)
            continue
          }
          job.post(rank, {
            ...self.run,
            module: p.module,
            export: p.export,
            args: p.args,
            argv: p.argv,
            worldSize: undefined,
            spawned: { world, parents: m.parents, context: m.context }
          } satisfies Protocol.Run)
        }
      }
      self.settle(pending)
    })
  }

  /** A spawned rank loaded its program. */
  started(rank: number): void {
    const p = this.pending.get(rank)
    if (p === undefined) return
    p.loaded.add(rank)
    if (this.released) this.job.post(rank, { _tag: "Go", id: this.run.id } satisfies Protocol.Go)
    this.settle(p)
  }

  /**
   * A rank that reported before it ran (its program failed to load, or its
   * thread or process ended): a failed slot of its spawn, not a failure of
   * the run. False for every other rank.
   */
  failedToStart(rank: number, why: string): boolean {
    const p = this.pending.get(rank)
    if (p === undefined || p.loaded.has(rank)) return false
    p.errors.set(rank, why)
    this.settled.add(rank)
    this.settle(p)
    return true
  }

  /**
   * A detached rank ended (its program finished, failed or its thread
   * died): its peers' calls with it fail (when it failed), and the run goes
   * on. False for every other rank.
   */
  endedDetached(rank: number, failure: string | undefined): boolean {
    if (!this.detached.has(rank)) return false
    this.settled.add(rank)
    if (failure !== undefined) this.job.declareFailed(rank, failure)
    return true
  }

  /** The run failed: ranks that wait to run go, so that they take their interrupt and report. */
  release(): void {
    this.released = true
    for (const [rank, p] of this.pending) if (p.loaded.has(rank)) this.job.post(rank, { _tag: "Go", id: this.run.id } satisfies Protocol.Go)
  }

  private settle(p: Pending): void {
    const all = p.ranks.flat()
    if (p.loaded.size + p.errors.size < all.length) return
    for (const r of all) this.pending.delete(r)
    if (p.errors.size === 0) {
      for (const r of all) this.job.post(r, { _tag: "Go", id: this.run.id } satisfies Protocol.Go)
      this.job.post(p.from, { _tag: "Spawned", request: p.request, ok: true, ranks: p.ranks } satisfies Protocol.Spawned)
      return
    }
    // All or nothing: the ranks that did load are stopped, and need not report.
    for (const r of p.loaded) {
      this.settled.add(r)
      this.job.post(r, { _tag: "Exit" } satisfies Protocol.Exit)
    }
    const errors = p.ranks.map((rs) => rs.map((r) => p.errors.get(r)))
    const first = errors.flat().find((e) => e !== undefined)!
    const count = p.errors.size
    this.job.post(p.from, {
      _tag: "Spawned",
      request: p.request,
      ok: false,
      message: `spawn: ${count} of ${all.length} rank${all.length === 1 ? "" : "s"} could not start: ${first}`,
      errors
    } satisfies Protocol.Spawned)
  }
}
