/**
 * A dashboard fed from a job's stats channel (NATS) instead of its own
 * launcher: the launchers' messages (core/launching/StatsPublisher.ts) put
 * together on one Board, each launcher's rounds about its own ranks.
 * Internal to the dashboard.
 */
import type { StatsMessage } from "../launching/StatsPublisher.ts"
import type { Board } from "./Board.ts"

const isMessage = (m: unknown): m is StatsMessage =>
  typeof m === "object" && m !== null && typeof (m as { t?: unknown }).t === "string" && Number.isInteger((m as { run?: unknown }).run) &&
  Number.isInteger((m as { launcher?: unknown }).launcher)

/** A function that applies each message from the channel to `board`. */
export const feeder = (board: Board): (message: unknown) => void => {
  let run = 0
  /** The launchers of this run, with their ranks, and those that said the run ended. */
  const launchers = new Map<number, ReadonlyArray<number>>()
  const ended = new Set<number>()
  return (m) => {
    if (!isMessage(m) || m.run < run) return
    if (m.t === "round") {
      if (!Array.isArray(m.replies) || !Array.isArray(m.ranks)) return
      if (m.run > run) {
        run = m.run
        launchers.clear()
        ended.clear()
        launchers.set(m.launcher, m.ranks)
        board.started({ id: m.run, size: m.size, ranks: m.ranks })
      } else if (!launchers.has(m.launcher)) {
        launchers.set(m.launcher, m.ranks)
        board.addRanks(m.ranks)
      }
      return board.round(m.at, new Map(m.replies), m.ranks)
    }
    if (m.run !== run) return
    if (m.t === "output") return board.output(m.rank, m.text)
    if (m.t === "settled") return board.settled(m.rank, m.failure, m.stopped)
    if (m.t === "ended") {
      ended.add(m.launcher)
      const all = [...launchers.keys()].every((l) => ended.has(l))
      return board.ended(m.failure, all ? undefined : launchers.get(m.launcher) ?? [])
    }
  }
}
