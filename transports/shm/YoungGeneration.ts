/**
 * The young generation of a rank's V8 heap: its cap and its floor.
 *
 * V8 collects short-lived objects in a young generation of two semi-spaces,
 * one scavenge each time a semi-space fills. A new isolate starts with small
 * semi-spaces (4 MB each in Node 24) and grows them only as objects survive.
 * A rank that exchanges small messages allocates steadily (~3 KB per 8-byte
 * ping-pong: envelopes, views, Effect's values) and keeps almost none of it,
 * so its semi-spaces stay small and it scavenges every ~1,300 round trips,
 * 0.15–0.25 ms each, which its peer spends waiting. Semi-spaces of 16 MB from
 * the start make those scavenges four times rarer (123–168 → 43 per 200,000
 * round trips) at about 23 MB more memory per rank (docs/shm.md, "Scavenging
 * on the rank's own thread").
 *
 * The cap is a worker's `resourceLimits.maxYoungGenerationSizeMb`, set per
 * rank. The floor is V8's `--min-semi-space-size`, which Node does not take
 * per worker: it belongs to the process and applies to every isolate created
 * while it is set, and a worker's isolate is created on its own thread after
 * `new Worker` returns. So the jobs that want a floor hold the process's
 * flag while they run; it is the largest floor held, and V8's default (0)
 * again once no job holds one. A process started with the flag of its own
 * keeps it.
 *
 * @example
 * ```ts
 * const release = semiSpaceFloor.hold(16) // isolates created from now on start with 16 MB semi-spaces
 * // ... the job's workers start and run ...
 * release()
 * ```
 */
import { setFlagsFromString } from "node:v8"
import type { ShmOptions } from "./Layout.ts"

/** Megabytes of each semi-space a rank starts with where the job's ranks fit the cores. */
export const DEFAULT_MIN_SEMI_SPACE_MB = 16

/**
 * Megabytes of young generation a rank is capped at where ranks outnumber
 * cores: memory per rank matters more there than a few more scavenges (32
 * ranks of hello started from their files: 2.3 → 1.9 GB peak).
 */
export const CROWDED_YOUNG_GENERATION_MB = 8

/** V8 flags through which the process chose its own floor. */
const OWN_CHOICE = ["--min-semi-space-size", "--min_semi_space_size"]

/**
 * The cap on a rank's young generation in megabytes (a worker's
 * `resourceLimits`), or undefined for V8's: `youngGenerationMb` where given,
 * else 8 where a job of `universe` rank slots outnumbers `cores`.
 */
export const youngGenerationCapOf = (options: ShmOptions, universe: number, cores: number): number | undefined =>
  options.youngGenerationMb ?? (universe > cores ? CROWDED_YOUNG_GENERATION_MB : undefined)

/**
 * The floor of a rank's semi-spaces in megabytes (0: V8's own):
 * `minSemiSpaceMb` where given, else 16 where the ranks fit the cores and no
 * cap was given.
 */
export const semiSpaceFloorOf = (options: ShmOptions, universe: number, cores: number): number =>
  options.minSemiSpaceMb ?? (universe <= cores && options.youngGenerationMb === undefined ? DEFAULT_MIN_SEMI_SPACE_MB : 0)

/** The process's `--min-semi-space-size`, held by the jobs that want a floor: the largest one held. */
export class SemiSpaceFloor {
  private readonly floors: Array<number> = []
  private applied = 0
  private readonly set: (flags: string) => void
  private untouchable: boolean

  /** `set` applies V8 flags; `execArgv` is the process's command line (the flag there leaves the switch inert). */
  constructor(set: (flags: string) => void = setFlagsFromString, execArgv: ReadonlyArray<string> = process.execArgv) {
    this.set = set
    this.untouchable = execArgv.some((a) => OWN_CHOICE.includes(a.split("=")[0]!))
  }

  /** Holds a floor of `megabytes` (0 holds nothing) until the returned release is called (idempotent). */
  hold(megabytes: number): () => void {
    if (!(megabytes > 0)) return () => {}
    this.floors.push(megabytes)
    this.update()
    let released = false
    return () => {
      if (released) return
      released = true
      this.floors.splice(this.floors.indexOf(megabytes), 1)
      this.update()
    }
  }

  /** The floor in force now, in megabytes (0: V8's own). */
  get current(): number {
    return this.applied
  }

  private update(): void {
    const wanted = this.floors.length === 0 ? 0 : Math.max(...this.floors)
    if (wanted === this.applied || this.untouchable) return
    try {
      this.set(`--min-semi-space-size=${wanted}`)
      this.applied = wanted
    } catch {
      // A runtime that refuses flags at run time: ranks keep V8's sizing from then on.
      this.untouchable = true
    }
  }
}

/** The floor switch of this process's V8. */
export const semiSpaceFloor = new SemiSpaceFloor()
