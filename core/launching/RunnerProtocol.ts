/**
 * The control messages between the launcher (World) and each rank's runner.
 * They are structured-cloned (threads) or serialized (processes).
 */
import type { FailureReport } from "../Failure.ts"
import type { Wait } from "../messaging/waits.ts"
import type { TraceEvent } from "../observe/recorder.ts"

/** Context ids each run may use: the world takes the first two, derived communicators the rest. */
export const CONTEXTS_PER_RUN = 1 << 16

/**
 * The world communicator's context id in run `id` (runs are numbered 1, 2, …
 * per world): point-to-point on it, collectives on the next id. A launcher
 * announces the first run's (65536) to ranks written in other languages.
 */
export const worldContextOf = (id: number): number => (id % CONTEXTS_PER_RUN) * CONTEXTS_PER_RUN

export interface Run {
  readonly _tag: "Run"
  readonly id: number
  readonly module: string
  readonly export: string | undefined
  readonly args: ReadonlyArray<unknown>
  readonly codec: string | undefined
  /** The world communicator's decoding limit (the codecs' default when absent). */
  readonly maxDecodedBytes?: number | undefined
  /** Replaces `process.argv.slice(1)` in the rank (the CLI passes the script and its arguments). */
  readonly argv: ReadonlyArray<string> | undefined
  /** Report a rank that waits this long without any progress (milliseconds; off when absent). */
  readonly stallMillis?: number | undefined
  /** The world communicator's ranks are 0..worldSize-1 (the transport may address more: free slots for spawn). */
  readonly worldSize?: number | undefined
  /** Set for a rank started by comm.spawn: its world and its parents. */
  readonly spawned?: SpawnedRun | undefined
}

/** What a spawned rank needs to build its world and `Comm.parent`. */
export interface SpawnedRun {
  /** The spawned ranks of the call (every program of a spawnMultiple), as transport ranks: the child world. */
  readonly world: ReadonlyArray<number>
  /** The spawning communicator's group (transport ranks). */
  readonly parents: ReadonlyArray<number>
  /** The first of the SPAWN_CONTEXTS context ids both sides reserved for the intercommunicator. */
  readonly context: number
}

/** Context ids a spawn reserves: the intercommunicator's four, then two for the spawned ranks' own group. */
export const SPAWN_CONTEXTS = 6

/** One program of a spawn request. */
export interface SpawnProgram {
  readonly module: string
  readonly export: string | undefined
  readonly args: ReadonlyArray<unknown>
  readonly argv: ReadonlyArray<string> | undefined
  readonly maxprocs: number
}

/** A rank (the root of comm.spawn) asks the launcher to start ranks. */
export interface Spawn {
  readonly _tag: "Spawn"
  readonly request: number
  readonly programs: ReadonlyArray<SpawnProgram>
  readonly parents: ReadonlyArray<number>
  readonly context: number
  /** The ranks' death fails their peers' calls with them, not the run (a pool's workers). */
  readonly detached: boolean
}

/** The launcher's answer to `Spawn`: the ranks started (by program), or why each slot could not be. */
export type Spawned =
  | { readonly _tag: "Spawned"; readonly request: number; readonly ok: true; readonly ranks: ReadonlyArray<ReadonlyArray<number>> }
  | { readonly _tag: "Spawned"; readonly request: number; readonly ok: false; readonly message: string; readonly errors: ReadonlyArray<ReadonlyArray<string | undefined>> }

/** A spawned rank loaded its program; it runs it on `Go` (every rank of the spawn loaded), or exits. */
export interface Started {
  readonly _tag: "Started"
  readonly id: number
}

/** A question to the launcher's port and name service (comm.accept/connect, Comm.openPort, …). */
export type Question =
  | { readonly q: "openPort" }
  | { readonly q: "closePort"; readonly port: string }
  | { readonly q: "publishName"; readonly service: string; readonly port: string }
  | { readonly q: "unpublishName"; readonly service: string }
  | { readonly q: "lookupName"; readonly service: string }
  /** One side of accept/connect: its group (transport ranks) and its largest next-free context id. */
  | { readonly q: "accept" | "connect"; readonly port: string; readonly group: ReadonlyArray<number>; readonly counter: number }

/** What a port question gives: a port name, the other side of an accept/connect, or nothing. */
export type AnswerValue =
  | { readonly port: string }
  | { readonly remote: ReadonlyArray<number>; readonly context: number }
  | CrossJob
  | null

/**
 * The other side of an accept/connect in another job: both groups join the
 * link `name` of `size` ranks (this group as ranks `first..`, in rank order;
 * the other as `remoteFirst..remoteFirst + remoteSize - 1`). `acceptor`: this
 * is the accepting side (its group comes first where the two are ordered).
 * The launchers agree it through the directory (`Job.directory`).
 */
export interface CrossJob {
  readonly link: string
  /** The link's key (hex), made by the accepting side's launcher for this link alone. */
  readonly key: string
  readonly size: number
  readonly first: number
  readonly remoteFirst: number
  readonly remoteSize: number
  readonly context: number
  readonly acceptor: boolean
}

export interface Ask {
  readonly _tag: "Ask"
  readonly request: number
  readonly question: Question
}

export type Answer =
  | { readonly _tag: "Answer"; readonly request: number; readonly ok: true; readonly value: AnswerValue }
  | { readonly _tag: "Answer"; readonly request: number; readonly ok: false; readonly message: string }

/** Every rank of its spawn loaded its program: run it. */
export interface Go {
  readonly _tag: "Go"
  readonly id: number
}

/** Asks a rank what it is doing (answered with a `Status` of the same round). */
export interface StatusQuery {
  readonly _tag: "Status"
  readonly round: number
  /** Someone watches (a dashboard): the rank also times its codec work, for `codecMillis`. */
  readonly watched?: boolean
}

export interface Interrupt {
  readonly _tag: "Interrupt"
  readonly id: number
}

export interface Exit {
  readonly _tag: "Exit"
}

export type ToRank = Run | Interrupt | Exit | StatusQuery | Spawned | Go | Answer

export interface Ready {
  readonly _tag: "Ready"
}

export type Done =
  | {
    readonly _tag: "Done"
    readonly id: number
    readonly ok: true
    /** The result, pickled. */
    readonly header: Uint8Array
    readonly buffers: ReadonlyArray<Uint8Array>
  }
  | { readonly _tag: "Done"; readonly id: number; readonly ok: false; readonly failure: FailureReport }

/** What a rank is doing, in answer to a `StatusQuery`. */
export interface Status {
  readonly _tag: "Status"
  readonly round: number
  /** The run in progress, or 0 when the rank's program has finished. */
  readonly run: number
  /**
   * Nothing runs on the rank: its event loop was idle since the last query,
   * and nothing outside rankflow (a timer, I/O) is pending.
   */
  readonly quiet: boolean
  /** What else is pending on the rank (`Timeout`, `FSReqCallback`, …): why it is not quiet. */
  readonly pending: ReadonlyArray<string>
  /** Packets sent and arrived, and the transport's activity count. */
  readonly sent: number
  readonly arrived: number
  readonly activity: number
  readonly waits: ReadonlyArray<Wait>
  /** Bytes of messages sent and arrived so far (for rates). */
  readonly bytesSent: number
  readonly bytesArrived: number
  /** The rank's V8 heap in use (bytes), and how busy its event loop was since the last query (0–1). */
  readonly heapUsed: number
  readonly utilization: number
  /** Milliseconds spent encoding and decoding values since the rank was first asked with `watched` (0 before). */
  readonly codecMillis: number
  /** Bytes the rank holds on a GPU (its device's live and pooled buffers; 0 without one). */
  readonly deviceBytes: number
  /** The job's shared arena: bytes in use and its size (0 and 0 where the transport has none). */
  readonly arenaUsed: number
  readonly arenaSize: number
  /** The actors of its running pipelines: their counts, and the stages each feeds. */
  readonly actors: ReadonlyArray<ActorReport>
}

/** One pipeline actor as a rank reports it (see core/pipeline/Stats.ts). */
export interface ActorReport {
  readonly stage: string
  readonly replica: number
  readonly itemsIn: number
  readonly itemsOut: number
  readonly busyMillis: number
  readonly blockedMillis: number
  readonly mailboxDepth: number
  readonly mailboxBound: number
  readonly downstream: ReadonlyArray<string>
}

/** A rank waited `stallMillis` without progress (reported once per stall). */
export interface Stalled {
  readonly _tag: "Stalled"
  readonly run: number
  /** When the rank last made progress (`Date.now()`). */
  readonly since: number
  readonly waits: ReadonlyArray<Wait>
}

/** The trace events a rank recorded during a run (`--trace`), sent before its `Done`. */
export interface Trace {
  readonly _tag: "Trace"
  readonly id: number
  readonly events: ReadonlyArray<TraceEvent>
}

export type FromRank = Ready | Done | Status | Stalled | Spawn | Started | Ask | Trace
