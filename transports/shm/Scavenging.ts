/**
 * V8's parallel scavenging, turned off while a job's ranks fill the cores.
 *
 * A scavenge (V8's collection of the young generation) in one rank wakes
 * V8's helper threads to share the work, one per core. Where the ranks
 * already hold every core, each helper preempts a rank that spins on its
 * core: the rank's peer then waits up to milliseconds for a message the
 * preempted rank was about to send. Measured on 2 ranks of allreduce on 2
 * cores (`/proc`'s context-switch counts): the platform's 4 helper threads
 * woke ~1,200 times a second each and each rank's thread was preempted
 * ~2,000 times a second, against ~30 for two plain threads doing a
 * ping-pong through shared memory. With V8's `--no-parallel-scavenge` a
 * rank scavenges on its own thread: the helpers woke ~8 times a second, the
 * preemptions fell to ~40, and pauses over 100 µs to a third (docs/shm.md).
 *
 * V8's flags belong to the process, so this switch counts the jobs that
 * want scavenging serial and turns it back on when the last one ends. A
 * process started with a scavenging flag of its own (`node
 * --no-parallel-scavenge`, `--parallel-scavenge`, `--single-threaded-gc`,
 * `--single-threaded`) keeps it: the switch never touches it.
 *
 * @example
 * ```ts
 * const release = serialScavenging.hold() // scavenges run on each isolate's own thread
 * // ... the job runs ...
 * release() // parallel again once no job holds it
 * ```
 */
import { setFlagsFromString } from "node:v8"

/** V8 flags through which the process chose its own scavenging. */
const OWN_CHOICE = ["--parallel-scavenge", "--no-parallel-scavenge", "--parallel_scavenge", "--no-parallel_scavenge", "--single-threaded-gc", "--single_threaded_gc", "--single-threaded", "--single_threaded"]

/**
 * Whether a job of `universe` rank slots on `cores` cores scavenges serially:
 * as `parallelScavenge` says where given, else where the ranks fill the cores.
 */
export const wantsSerialScavenging = (parallelScavenge: boolean | undefined, universe: number, cores: number): boolean =>
  parallelScavenge === undefined ? universe >= cores : !parallelScavenge

/** A process-wide switch to serial scavenging, held by the jobs that want it. */
export class ScavengingSwitch {
  private holders = 0
  private readonly set: (flags: string) => void
  private untouchable: boolean

  /** `set` applies V8 flags; `execArgv` is the process's command line (a scavenging flag there leaves the switch inert). */
  constructor(set: (flags: string) => void = setFlagsFromString, execArgv: ReadonlyArray<string> = process.execArgv) {
    this.set = set
    this.untouchable = execArgv.some((a) => OWN_CHOICE.includes(a.split("=")[0]!))
  }

  /** Turns parallel scavenging off until every holder has released; returns this holder's release (idempotent). */
  hold(): () => void {
    if (this.holders++ === 0) this.apply("--no-parallel-scavenge")
    let released = false
    return () => {
      if (released) return
      released = true
      if (--this.holders === 0) this.apply("--parallel-scavenge")
    }
  }

  /** Sets a flag; a runtime that refuses flags at run time leaves scavenging as it is, from then on. */
  private apply(flag: string): void {
    if (this.untouchable) return
    try {
      this.set(flag)
    } catch {
      this.untouchable = true
    }
  }

  /** How many holders keep scavenging serial now. */
  get held(): number {
    return this.holders
  }
}

/** The switch of this process's V8. */
export const serialScavenging = new ScavengingSwitch()
