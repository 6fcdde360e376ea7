/**
 * What a rank waits for, in words: its posted receives and probes, the
 * collectives it is inside, and its synchronous sends not yet matched. Used
 * by the deadlock report, the stall watchdog, the picture printed on SIGINT
 * or SIGQUIT, and the error of a receive from a rank that has finished.
 */
import type { Engine } from "./Engine.ts"
import { Deadlock } from "../errors.ts"
import { ANY_SOURCE, ANY_TAG, type Posted } from "./Matching.ts"

/** One thing a rank waits for. */
export interface Wait {
  /** `"recv"`, `"probe"`, `"ssend"`, or the collective's name (`"bcast"`). */
  readonly op: string
  /** The communicator: `"world"`, or which world ranks it has. */
  readonly comm: string
  /** This rank in the communicator. */
  readonly rank: number
  /** The rank it waits on, in the communicator (`ANY_SOURCE` for any) and in the world. */
  readonly peer: number
  readonly worldPeer: number
  readonly tag: number
  /** When the wait began (`Date.now()`). */
  readonly since: number
}

/** A wait in a line: `recv(source 1, tag 3) on world, since 12:01:03.2`. */
export const describeWait = (w: Wait, options?: { readonly since?: boolean }): string => {
  const peer = w.peer === ANY_SOURCE ? "any" : `${w.peer}`
  const tag = w.tag === ANY_TAG ? "any" : `${w.tag}`
  const call = w.op === "recv" || w.op === "probe" ? `${w.op}(source ${peer}, tag ${tag})` : w.op === "ssend" ? `ssend(dest ${peer}, tag ${tag})` : w.op
  const detail = w.op === "ssend" ? " (not yet received)" : w.op === "recv" || w.op === "probe" ? "" : `, waiting for rank ${peer}`
  const since = options?.since !== false && w.since > 0 ? `, since ${clock(w.since)}` : ""
  return `${call} on ${w.comm}${detail}${since}`
}

/** `12:01:03.2` (UTC). */
export const clock = (time: number): string => new Date(time).toISOString().slice(11, 21)

const commOf = (engine: Engine, context: number): { name: string; group: ReadonlyArray<number>; collective: boolean } => {
  const p2p = engine.comms.get(context)
  if (p2p !== undefined) return { ...p2p, collective: false }
  const coll = engine.comms.get(context - 1)
  if (coll !== undefined) return { ...coll, collective: true }
  return { name: `context ${context}`, group: [], collective: false }
}

const toComm = (group: ReadonlyArray<number>, worldRank: number): number => {
  if (worldRank === ANY_SOURCE) return ANY_SOURCE
  const r = group.indexOf(worldRank)
  return r >= 0 ? r : worldRank
}

/** A posted receive or probe as a wait. */
export const waitOf = (engine: Engine, p: Posted): Wait => {
  const comm = commOf(engine, p.context)
  return {
    op: p.label ?? (comm.collective ? "a collective" : p.peek ? "probe" : "recv"),
    comm: comm.name,
    rank: toComm(comm.group, engine.rank),
    peer: toComm(comm.group, p.source),
    worldPeer: p.source,
    tag: comm.collective ? ANY_TAG : p.tag,
    since: p.since
  }
}

/** A synchronous send to world rank `dest` on `context` that waits for its match. */
export const ssendWait = (engine: Engine, context: number, dest: number, tag: number, since: number): Wait => {
  const comm = commOf(engine, context)
  return { op: "ssend", comm: comm.name, rank: toComm(comm.group, engine.rank), peer: toComm(comm.group, dest), worldPeer: dest, tag, since }
}

/** Everything the rank waits for now, oldest first. */
export const waitsOf = (engine: Engine): Array<Wait> => {
  const waits: Array<Wait> = []
  for (const p of engine.matching.waiting()) waits.push(waitOf(engine, p))
  for (const a of engine.pendingAcks()) waits.push(ssendWait(engine, a.context, a.dest, a.tag, a.since))
  for (const w of engine.waiters) waits.push(...w.waits())
  return waits.sort((a, b) => a.since - b.since)
}

/** The error of a wait on a rank whose program has finished. */
export const finished = (w: Wait): Deadlock => {
  const message = `rank ${w.rank} waits for rank ${w.peer === ANY_SOURCE ? "any rank" : w.peer}, which has finished` +
    `${w.peer === ANY_SOURCE ? " (every other rank has)" : ""}: ${describeWait(w, { since: false })} can never complete`
  return new Deadlock({ message, waits: [`rank ${w.rank}: ${describeWait(w)}`] })
}
