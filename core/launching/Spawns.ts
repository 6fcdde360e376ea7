/**
 * The launcher's side of comm.spawn (see core/dynamic/Spawn.ts): a rank asks
 * for ranks; the World starts them into the job's free slots, hands each its
 * Run command, and answers once every one of them has loaded its program
 * (then they run) or any could not (then those that did are stopped again,
 * and the answer says why, rank by rank). Internal: World's collector calls it.
 */
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Cause, Effect, type Scope } from "effect"
import { randomBytes } from "node:crypto"
import type { Job } from "../../transports/Launcher.ts"
import type * as Protocol from "./RunnerProtocol.ts"

interface Pending {
  /** Where the answer goes: the asking rank, or another launcher that asked for it. */
  readonly answer: (body: Protocol.Spawned) => void
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

  /**
   * A `Spawn` request from rank `from`: starts its ranks, or answers why not.
   * Where this launcher has too few free slots and the job's other launchers
   * can be asked (`Job.directory`), one of them that has enough does the
   * spawn. `answer`: where the answer goes (default: rank `from`).
   */
  request(from: number, m: Protocol.Spawn, answer: (body: Protocol.Spawned) => void = (body) => this.job.post(from, body), forwarded = false): Effect.Effect<void> {
    const job = this.job
    const refuse = (message: string, errors: ReadonlyArray<ReadonlyArray<string | undefined>>) =>
      Effect.sync(() => answer({ _tag: "Spawned", request: m.request, ok: false, message, errors }))
    const wanted = m.programs.reduce((n, p) => n + p.maxprocs, 0)
    const each = (why: (p: Protocol.SpawnProgram) => string | undefined) => m.programs.map((p) => Array.from({ length: p.maxprocs }, () => why(p)))
    if (job.start === undefined) {
      const why = "this job's transport cannot start ranks while the job runs (spawn works on shm)"
      return refuse(`spawn: ${why}`, each(() => why))
    }
    const universe = job.universe ?? job.size
    const free = this.free()
    if (free.length < wanted && !forwarded && job.directory !== undefined && job.id !== undefined && (job.slots?.length ?? 0) < universe - job.size) {
      // Some of the job's slots belong to other launchers: one with enough free ones does the spawn.
      return Effect.sync(() => void this.forward(m, wanted, answer))
    }
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
      const pending: Pending = { answer, request: m.request, ranks, loaded: new Set(), errors: new Map() }
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
      p.answer({ _tag: "Spawned", request: p.request, ok: true, ranks: p.ranks })
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
    p.answer({
      _tag: "Spawned",
      request: p.request,
      ok: false,
      message: `spawn: ${count} of ${all.length} rank${all.length === 1 ? "" : "s"} could not start: ${first}`,
      errors
    })
  }

  /** This launcher's free slots now. */
  private free(): Array<number> {
    const inUse = new Set(this.job.localRanks)
    const slots = this.job.slots ?? Array.from({ length: (this.job.universe ?? this.job.size) - this.job.size }, (_, i) => this.job.size + i)
    return slots.filter((r) => !inUse.has(r))
  }

  /** The directory names of this run's spawns (`Job.id` and the run's id: launchers of one job run the same runs). */
  private name(suffix = ""): string {
    return `spawn.${this.job.id}.${this.run.id}${suffix}`
  }

  /**
   * Serves the other launchers' spawns while the run lasts, where this
   * launcher has free slots: an offer to anyone whose spawn fits them, then
   * the spawn itself, answered once its ranks loaded (or could not).
   */
  serveOthers(): Effect.Effect<void, never, Scope.Scope> {
    const directory = this.job.directory
    if (directory === undefined || this.job.id === undefined || (this.job.slots?.length ?? 0) === 0) return Effect.void
    const token = randomBytes(6).toString("hex")
    const self = this
    const offer = async (request: unknown) => {
      const wanted = typeof request === "object" && request !== null ? (request as { wanted?: unknown }).wanted : undefined
      return Number.isInteger(wanted) && self.free().length >= (wanted as number) ? { token } : undefined
    }
    const spawn = (request: unknown) =>
      new Promise<unknown>((resolve) => {
        const m = request as Protocol.Spawn
        if (typeof m !== "object" || m === null || !Array.isArray(m.programs)) return resolve({ refused: "a malformed spawn request" })
        Effect.runFork(self.request(-1, m, resolve, true))
      })
    return Effect.gen(function*() {
      const stops = yield* Effect.promise(() => Promise.all([directory.serve(self.name(), offer), directory.serve(self.name(`.${token}`), spawn)]))
      yield* Effect.addFinalizer(() => Effect.sync(() => stops.forEach((stop) => stop())))
    })
  }

  /** Asks the job's other launchers for one with `wanted` free slots, and has it do the spawn. */
  private async forward(m: Protocol.Spawn, wanted: number, answer: (body: Protocol.Spawned) => void): Promise<void> {
    const refuse = (message: string) =>
      answer({ _tag: "Spawned", request: m.request, ok: false, message, errors: m.programs.map((p) => Array.from({ length: p.maxprocs }, () => message)) })
    const directory = this.job.directory!
    try {
      // The other launchers may not serve this run yet (their ranks start it a little later): ask until OFFER_MS passed.
      const deadline = Date.now() + OFFER_MS
      let token: unknown
      while (typeof token !== "string" && Date.now() < deadline) {
        const offer = await directory.request(this.name(), { wanted }, Math.max(1, Math.min(1000, deadline - Date.now()))).catch(() => undefined)
        token = typeof offer === "object" && offer !== null ? (offer as { token?: unknown }).token : undefined
        if (typeof token !== "string") await new Promise((r) => setTimeout(r, 100))
      }
      if (typeof token !== "string") {
        return refuse(`spawn: ${wanted} rank${wanted === 1 ? "" : "s"} wanted, but neither this launcher nor another of the job has that many free slots; ` +
          `start the job with a larger universe (--universe) and its spare ranks in some launcher's --ranks`)
      }
      const body = await directory.request(this.name(`.${token}`), m, SPAWN_MS) as Protocol.Spawned | { refused: string } | undefined
      if (body === undefined || "refused" in body) return refuse(`spawn: the launcher that offered its slots ${body === undefined ? "is gone" : `refused: ${body.refused}`}`)
      answer({ ...body, request: m.request })
    } catch (e) {
      refuse(`spawn: ${e instanceof Error ? e.message : String(e)}`)
    }
  }
}

/** How long a launcher looks for another's offer of slots, and waits for a spawn it asked another to do (ms). */
const OFFER_MS = 5000
const SPAWN_MS = 120_000
