/**
 * Where everything lives in the shared memory of one shm job.
 *
 * Three SharedArrayBuffers, created once by the launcher and handed to every
 * rank at start-up:
 *
 * - `control`: 64-byte lines. Line 0 holds the arena lock, line 1 the arena's
 *   free-list head and high-water mark, then one line per rank with its
 *   doorbell word and its "notify me" word (a sender bumps the doorbell and
 *   calls `Atomics.notify` only when the receiver announced it sleeps).
 * - `rings`: one record ring per ordered pair of distinct ranks (data, from
 *   sender to receiver) and one small reply ring per pair (rendezvous replies,
 *   from receiver to sender). Every counter sits on its own 64-byte line:
 *   false sharing made `Atomics.add` ~8x slower in a public report.
 * - `arena`: the shared allocator's memory (see `Arena.ts`).
 *
 * Pages are touched lazily: a ring costs physical memory only as far as it has
 * been written.
 */
import { totalmem } from "node:os"

/** Bytes in a cache line; every shared counter gets a line of its own. */
export const LINE = 64
const I32_PER_LINE = LINE / 4

/** Records in a reply ring (16 bytes each). */
export const REPLY_RECORDS = 64
export const REPLY_RECORD_BYTES = 16

/**
 * Largest FRAG record of a stream (a rendezvous into private memory): the
 * receiver copies a fragment out while the sender writes the next, so the
 * two copies overlap only when a message spans several. Fragments of a
 * quarter ring (1 MiB on 2 ranks) sent a 1 MiB message in one piece: its
 * ping-pong's median half round trip was 157–219 µs; with 128 KiB
 * fragments 104–107 µs (64 KiB: 127, 256 KiB: 129; the 64 MiB ping-pong
 * unchanged at 9.6–10.2 ms; `bench:mpi`, 2026-12-07).
 */
export const STREAM_FRAGMENT_BYTES = 128 * 1024

/** Ring sizing defaults; see `ringBytesFor`. */
export const DEFAULT_RING_BUDGET = 64 * 1024 * 1024
export const MIN_RING_BYTES = 16 * 1024
export const MAX_RING_BYTES = 4 * 1024 * 1024
/**
 * Virtual size of the arena: pages cost memory only once touched. 1 GiB (or a
 * sixteenth of the machine's memory, if less) lets a window of large messages
 * land in the arena with one copy.
 */
export const DEFAULT_ARENA_BYTES = Math.min(1024 * 1024 * 1024, Math.floor(totalmem() / 16 / 64) * 64)
/** The arena's int32 view must index every word. */
export const MAX_ARENA_BYTES = 4 * 1024 * 1024 * 1024
export const DEFAULT_UNEXPECTED_BUDGET = 64 * 1024 * 1024
export const DEFAULT_EAGER_LIMIT = 32 * 1024
/**
 * Spin budget where ranks do not outnumber cores: longer than a wake-up (50–120
 * µs on a VM), but not much longer. With a budget shorter than a wake-up, one
 * stall (a scavenge) sends the waiting rank to sleep, its peer's reply then
 * costs a notify and a wake-up, by which time the peer's own spin has run out
 * too, and the pair keeps waking each other for a while: measured on 200,000
 * 8-byte ping-pongs, 30 µs gave 3,000–3,700 notifies and a send call's p99 of
 * 12–19 µs, 100 µs 1,600–1,800 and 7–9 µs. A longer budget (250 µs: ~900
 * notifies) made the p99 round trip worse (300 µs against 100–160): a rank
 * that spins keeps its core while a third thread (the garbage collector's, the
 * compiler's) holds the other one, and its peer cannot run until it gives up.
 */
export const DEFAULT_SPIN_MICROS = 100

/**
 * Where ranks outnumber cores, how long a rank waiting in a collective on a
 * shared segment spins, yielding its core between polls (`sched_yield`, as
 * Open MPI's ranks do when oversubscribed): the rank whose turn it is runs
 * at once, without the wake-up a sleeping rank needs (4 ranks on 2 cores,
 * the same hour: barrier median 96–102 → 10–23 µs, allreduce of 8 B 131–137
 * → 20–29 µs; `bench:mpi`). 2 ms rather than 0.5: with 8 ranks on 2 cores a
 * rank's turn can take longer than 0.5 ms, and the means of the 8-rank
 * barrier, allgather and allreduce of 8 B fell by 10–25 % (two runs each).
 * Collectives only: a rank waiting for a message usually waits for
 * another's computation, and spinning there, even yielding, took CPU from
 * the ranks that computed (a pool of 2 workers on 2 cores ran tiny tasks at
 * a third of the rate). Waiting in a collective for a late rank costs up
 * to this much CPU, shared with the ranks that compute.
 */
export const DEFAULT_YIELDING_SPIN_MICROS = 2000

/**
 * Where ranks outnumber cores, a rank that waits for a message still spins
 * (yielding its core between polls) when no more ranks are running than
 * there are cores — the others wait parked, with nothing to do (their
 * "running" words, `runningIndex`, say so): two ranks exchanging messages
 * while six wait in a barrier have a core each, and a wake-up per message
 * (30–40 µs on this VM) would be most of their time. Where more ranks run
 * than cores, a waiting rank does not spin (see `DEFAULT_YIELDING_SPIN_MICROS`
 * on why): the budget applies per wait, counted when the wait begins.
 * Short, because a spinner still holds a core that a rank being woken may
 * need: a pool's workers waiting for tiny tasks (`PoolExecutor`, 2 and 4
 * workers on 2 cores) ran 47–68k tasks a second with 100 µs against 77–114k
 * without spinning, and 66–89k with 20 µs; the 4- and 8-rank ping-pongs
 * kept medians of 1.0–1.2 µs in `bench:mpi` with 20 µs, as with 100.
 */
export const DEFAULT_IDLE_CORE_SPIN_MICROS = 20

/**
 * A spin that has found nothing for this long yields its core between polls
 * (`sched_yield`), also where ranks fit the cores: a stall longer than this
 * is seldom the peer's own work but a third thread (V8's compiler or
 * garbage collector, in the first seconds of a job above all) holding the
 * other core, with the peer queued behind it — or behind this spin. In the
 * first 20,000 8-byte ping-pongs of a job, 500–700 round trips took 200–300
 * µs in runs: each rank spun out its whole budget, and the peer's reply came
 * a few microseconds after it stopped. Messages that flow come within a few
 * microseconds, before the first yield. A yield hands the core away for a
 * while: a wait that reaches 20 µs then lasts ~30 µs longer, and in some
 * runs 1–3 % of the 2-rank allreduces of 8 bytes took 30–50 µs so; from 50
 * µs on they did not, but three full `bench:mpi` runs then met 19–21 of its
 * targets against 22 in each of three with 20 µs (the 4-rank ping-pong's
 * mean above all). When the scheduler puts both ranks of a ping-pong on one
 * core, every half round trip takes this threshold plus ~4 µs until it
 * moves one (runs of 24 µs; 2.7 % of 100,000 object ping-pongs in one run);
 * from 5 µs on those runs vanished, but the first polls' yields raised the
 * medians and three `bench:mpi` runs met 17–22 targets. Ranks bound to
 * cores of their own (`ShmOptions.bindTo`, the default where they fit the
 * cores) never share one, and those runs are gone.
 */
export const YIELD_AFTER_MICROS = 20

/**
 * How long a waiting rank then sleeps in `Atomics.wait` on its doorbell
 * (peers' news wakes it in a few microseconds, where a wake-up through the
 * event loop's `Atomics.waitAsync` costs several times that) before its
 * event loop takes over. Off by default: the sleep holds the rank's event
 * loop, and a rank with other fibers to run (a pool's root submitting while
 * it waits for results) lost half its task rate or more to it (`bench:futures`:
 * tiny tasks on 1, 2, 4 workers 42k / 35k / 26k per s without it, 17k / 15k /
 * 10k with 1 ms).
 */
export const DEFAULT_SLEEP_MICROS = 0

/**
 * Tunables of an shm job (all optional; defaults above).
 *
 * @example
 * ```ts
 * yield* World.run(program, { size: 4, transportOptions: { ringBytes: 1 << 20, spinMicros: 0, youngGenerationMb: 8 } })
 * ```
 */
export interface ShmOptions {
  /** Total bytes for all data rings together; each of the N·(N−1) rings gets a share, clamped to 16 KiB..4 MiB. */
  readonly ringBudget?: number
  /** Bytes of one data ring, overriding `ringBudget` (rounded down to a power of two, at least 4 KiB). */
  readonly ringBytes?: number
  /** Virtual size of the shared arena (default 256 MiB; pages are touched only when used). */
  readonly arenaBytes?: number
  /** Bytes of delivered but untaken messages a rank holds before it stops draining its rings (default 64 MiB). */
  readonly unexpectedBudget?: number
  /** Largest message copied eagerly through a ring (default 32 KiB, at most a quarter of a ring). */
  readonly eagerLimit?: number
  /**
   * How long core should spin on `poll` before sleeping; default 100 µs
   * (`DEFAULT_SPIN_MICROS`), or 0 when ranks outnumber cores (collectives
   * then spin 2 ms yielding the core between polls, and a receive 20 µs
   * while no more ranks run than cores). Given, it applies as given, and
   * the receive's spin on parked ranks' cores is off.
   */
  readonly spinMicros?: number
  /** How long a waiting rank then sleeps in `Atomics.wait` (woken by the peers' news) before it returns to its event loop; default 0 (never: the sleep holds the event loop). */
  readonly sleepMicros?: number
  /** Megabytes of V8 young generation per rank (worker `resourceLimits`); default V8's, or 8 when ranks outnumber cores. */
  readonly youngGenerationMb?: number
  /**
   * Whether V8 scavenges with helper threads while the job runs. Default:
   * only where the ranks leave a core free; where they fill the cores, a
   * helper would preempt a spinning rank (`Scavenging.ts`). The setting is
   * V8's and so the whole process's: while any job turned it off, every
   * thread of the process scavenges on its own; the last job to end turns
   * it back on.
   */
  readonly parallelScavenge?: boolean
  /**
   * `"core"`: each rank's thread runs on cores of its own, as `mpiexec
   * --bind-to core` binds ranks (rank r of N on the process's cores r, r+N,
   * r+2N…; where ranks outnumber cores, on core r mod cores), so that two
   * ranks never share a core while another stands idle. `"none"`: the
   * kernel places them. Default `"core"` where ranks fit the cores (and
   * Linux can bind threads: `taskset`), else `"none"`.
   */
  readonly bindTo?: "core" | "none"
}

/** Numbers that fix the layout; computed once by the launcher and sent to every rank. */
export interface Geometry {
  readonly size: number
  /** Bytes of each data ring (a power of two). */
  readonly ringBytes: number
  readonly arenaBytes: number
  readonly eagerLimit: number
  readonly unexpectedBudget: number
  readonly spinMicros: number
  readonly sleepMicros: number
  /** Where ranks outnumber cores, how long a rank waiting in a collective spins yielding its core between polls; 0 elsewhere. */
  readonly yieldingSpinMicros: number
  /**
   * Where ranks outnumber cores (and `spinMicros` was not given), the spin
   * budget of a rank that waits for a message while no more ranks run than
   * there are cores (`DEFAULT_IDLE_CORE_SPIN_MICROS`); 0 elsewhere.
   */
  readonly idleCoreSpinMicros: number
  /** The cores the launcher counted (`os.availableParallelism()`). */
  readonly cores: number
}

/** The shared buffers of a job plus its geometry: what a rank needs to attach. */
export interface SharedRegions {
  readonly geometry: Geometry
  readonly control: SharedArrayBuffer
  readonly rings: SharedArrayBuffer
  readonly arena: SharedArrayBuffer
}

const floorPow2 = (n: number): number => 2 ** Math.floor(Math.log2(n))

/** Data ring bytes for `size` ranks: clamp(budget / (N·(N−1)), 16 KiB, 4 MiB), a power of two. */
export const ringBytesFor = (size: number, budget: number = DEFAULT_RING_BUDGET): number => {
  const pairs = Math.max(1, size * (size - 1))
  return floorPow2(Math.min(MAX_RING_BYTES, Math.max(MIN_RING_BYTES, budget / pairs)))
}

/** Resolves options into a geometry; throws a RangeError naming a bad option. */
export const geometry = (size: number, options: ShmOptions, cores: number): Geometry => {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`the number of ranks must be a positive integer, got ${size}`)
  const positive = (name: string, v: number | undefined): void => {
    if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new RangeError(`shm option ${name} must be a positive number, got ${v}`)
  }
  positive("ringBudget", options.ringBudget)
  positive("ringBytes", options.ringBytes)
  positive("arenaBytes", options.arenaBytes)
  positive("unexpectedBudget", options.unexpectedBudget)
  positive("eagerLimit", options.eagerLimit)
  positive("youngGenerationMb", options.youngGenerationMb)
  if (options.spinMicros !== undefined && !(options.spinMicros >= 0)) {
    throw new RangeError(`shm option spinMicros must be >= 0, got ${options.spinMicros}`)
  }
  if (options.sleepMicros !== undefined && !(options.sleepMicros >= 0)) {
    throw new RangeError(`shm option sleepMicros must be >= 0, got ${options.sleepMicros}`)
  }
  if (options.parallelScavenge !== undefined && typeof options.parallelScavenge !== "boolean") {
    throw new RangeError(`shm option parallelScavenge must be true or false, got ${JSON.stringify(options.parallelScavenge)}`)
  }
  const ringBytes = options.ringBytes !== undefined
    ? floorPow2(Math.max(4096, options.ringBytes))
    : ringBytesFor(size, options.ringBudget)
  const arenaBytes = Math.max(LINE * 4, Math.floor((options.arenaBytes ?? DEFAULT_ARENA_BYTES) / LINE) * LINE)
  if (arenaBytes > MAX_ARENA_BYTES) throw new RangeError(`shm option arenaBytes must be at most 4 GiB, got ${options.arenaBytes}`)
  const eagerLimit = Math.floor(Math.min(options.eagerLimit ?? DEFAULT_EAGER_LIMIT, ringBytes / 4))
  // Ring positions are int32 byte offsets (the hot path indexes with >> 2).
  if (size * (size - 1) * pairStride(ringBytes) >= 2 ** 31) {
    throw new RangeError(`shm rings for ${size} ranks of ${ringBytes} bytes each exceed 2 GiB: lower ringBytes or ringBudget`)
  }
  return {
    size,
    ringBytes,
    arenaBytes,
    eagerLimit,
    unexpectedBudget: options.unexpectedBudget ?? DEFAULT_UNEXPECTED_BUDGET,
    spinMicros: options.spinMicros ?? (size <= cores ? DEFAULT_SPIN_MICROS : 0),
    yieldingSpinMicros: size > cores ? DEFAULT_YIELDING_SPIN_MICROS : 0,
    idleCoreSpinMicros: size > cores && options.spinMicros === undefined ? DEFAULT_IDLE_CORE_SPIN_MICROS : 0,
    cores,
    sleepMicros: options.sleepMicros ?? DEFAULT_SLEEP_MICROS
  }
}

/**
 * The cores each of `size` rank slots is bound to (`ShmOptions.bindTo`), or
 * undefined where ranks are not bound: `allowed` is the process's cores,
 * `bindable` says whether threads can be bound here (asked only where a
 * binding is wanted: finding out may start a process). Throws a RangeError
 * naming a bad option, or a binding asked for that cannot be made.
 */
export const bindingFor = (
  size: number,
  options: ShmOptions,
  allowed: ReadonlyArray<number> | undefined,
  bindable: () => boolean
): ReadonlyArray<ReadonlyArray<number>> | undefined => {
  const bindTo = options.bindTo
  if (bindTo !== undefined && bindTo !== "core" && bindTo !== "none") {
    throw new RangeError(`shm option bindTo must be "core" or "none", got ${JSON.stringify(bindTo)}`)
  }
  if (bindTo === "none" || (bindTo === undefined && (allowed === undefined || size > allowed.length))) return undefined
  const can = allowed !== undefined && allowed.length > 0 && bindable()
  if (bindTo === undefined && !can) return undefined
  if (!can) throw new RangeError(`shm option bindTo "core" needs Linux with taskset (util-linux) and permission to set threads' CPUs; use "none" here`)
  const cores = allowed!
  const stride = Math.min(size, cores.length)
  // One rank, or one core: every slot would get every core the process has.
  if (stride === 1) return undefined
  return Array.from({ length: size }, (_, r) => cores.filter((_, i) => i % stride === r % stride))
}

// ---- control buffer -------------------------------------------------------

/** i32 index of the arena lock word. */
export const ARENA_LOCK = 0
/** f64 indexes of the arena's free-list head, high-water mark and bytes in use (line 1). */
export const ARENA_FREE_HEAD_F64 = LINE / 8
export const ARENA_HIGH_WATER_F64 = LINE / 8 + 1
export const ARENA_USED_F64 = LINE / 8 + 2

/** i32 index of rank `r`'s doorbell: bumped by everyone with news for `r`. */
export const doorbellIndex = (r: number): number => (2 + r) * I32_PER_LINE
/** i32 index of rank `r`'s "notify me" word: non-zero while `r` may be asleep. */
export const sleepingIndex = (r: number): number => (2 + r) * I32_PER_LINE + 1
/**
 * i32 index of rank `r`'s "running" word: 1 from its start while it runs, 0
 * while it waits with nothing left to do (it parked: see `OwnBell.park`) and
 * after it closed. Read only where ranks outnumber cores (`idleCoreSpinMicros`).
 */
export const runningIndex = (r: number): number => (2 + r) * I32_PER_LINE + 2

export const controlBytes = (size: number): number => (2 + size) * LINE

// ---- rings buffer ---------------------------------------------------------

/**
 * One pair's block in `rings`: data head line, data tail line, "sender waits
 * for space" line, the data bytes, then reply head line, reply tail line and
 * the reply records.
 */
export const pairStride = (ringBytes: number): number => 5 * LINE + ringBytes + REPLY_RECORDS * REPLY_RECORD_BYTES

/** Dense index of the ordered pair (from, to), from !== to. */
export const pairIndex = (size: number, from: number, to: number): number => from * (size - 1) + (to < from ? to : to - 1)

export const ringsBytes = (g: Geometry): number => Math.max(LINE, g.size * (g.size - 1) * pairStride(g.ringBytes))

/** Byte offsets of one pair's parts inside `rings`. */
export interface PairLayout {
  readonly dataHead: number
  readonly dataTail: number
  readonly dataWaiting: number
  readonly data: number
  readonly replyHead: number
  readonly replyTail: number
  readonly reply: number
}

export const pairLayout = (g: Geometry, from: number, to: number): PairLayout => {
  const base = pairIndex(g.size, from, to) * pairStride(g.ringBytes)
  const data = base + 3 * LINE
  const replyHead = data + g.ringBytes
  return {
    dataHead: base,
    dataTail: base + LINE,
    dataWaiting: base + 2 * LINE,
    data,
    replyHead,
    replyTail: replyHead + LINE,
    reply: replyHead + 2 * LINE
  }
}

/** Creates the shared buffers of a job; the arena is initialised by `Arena.initialize`. */
export const allocate = (g: Geometry): SharedRegions => ({
  geometry: g,
  control: new SharedArrayBuffer(controlBytes(g.size)),
  rings: new SharedArrayBuffer(ringsBytes(g)),
  arena: new SharedArrayBuffer(g.arenaBytes)
})

/** Total bytes of ring memory for a geometry (what `docs/shm.md` bounds). */
export const ringMemory = (g: Geometry): number => ringsBytes(g)
