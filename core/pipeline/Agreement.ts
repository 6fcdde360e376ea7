/**
 * After an attempt of a run failed because ranks died, the ranks that are
 * left must agree on which ranks are gone and on whether any stage failed on
 * its own (then the run fails, whatever `onRankFailure` says), so that all of
 * them re-run the same graph on the same ranks, or all of them fail.
 *
 * A rank may have heard from a dying rank that another did not, so each rank's
 * view can differ. The ranks flood what they know (FloodSet): in each round
 * every rank sends its view to every rank it believes alive and merges theirs,
 * or finds them dead. With crash failures and a failure detector that sooner
 * or later fails every receive from a dead rank (NATS heartbeats), as many
 * rounds as there are ranks leave every survivor with the same view.
 */
import { Effect } from "effect"
import type { Comm } from "../comm/Comm.ts"
import type { Failure } from "./Runtime.ts"

export interface View {
  /** Ranks found dead. */
  readonly dead: Set<number>
  /** Failures the ranks ran into first-hand, by the rank that reported each. */
  readonly failures: Map<number, Failure>
}

const tagOf = (attempt: number, round: number) => 1_000_000 + attempt * 1000 + round

type Message = readonly [dead: ReadonlyArray<number>, failures: ReadonlyArray<readonly [number, Failure]>]

/** Floods `mine` among `participants` until every survivor holds the same view. */
export const agree = (comm: Comm, participants: ReadonlyArray<number>, attempt: number, mine: View): Effect.Effect<View> =>
  Effect.gen(function*() {
    const view: View = { dead: new Set(mine.dead), failures: new Map(mine.failures) }
    const me = comm.rank
    for (let round = 0; round < participants.length; round++) {
      const tag = tagOf(attempt, round)
      const alive = participants.filter((r) => r !== me && !view.dead.has(r))
      const message: Message = [[...view.dead], [...view.failures]]
      for (const peer of alive) {
        const sent = yield* Effect.exit(comm.send(message, { dest: peer, tag }))
        if (sent._tag === "Failure") view.dead.add(peer)
      }
      for (const peer of alive) {
        const got = yield* Effect.exit(comm.recv<Message>({ source: peer, tag }))
        if (got._tag === "Failure") {
          view.dead.add(peer)
          continue
        }
        for (const d of got.value[0]) if (d !== me) view.dead.add(d)
        for (const [r, f] of got.value[1]) if (!view.failures.has(r)) view.failures.set(r, f)
      }
    }
    return view
  })

/** The failure to end the run with when the survivors will not re-run: a stage's own failure before a rank's death, lowest rank first. */
export const decisive = (view: View): Failure | undefined => {
  const ranks = [...view.failures.keys()].sort((a, b) => a - b)
  for (const r of ranks) if (view.failures.get(r)!.tag !== "RankFailed") return view.failures.get(r)
  return undefined
}
