/**
 * A launcher's side of its job's stats channel (`Job.stats`, NATS): while a
 * watcher asks, what the launcher sees of its ranks goes on the channel as
 * the `RunObserver` events, tagged with this launcher and the run, so that a
 * dashboard anywhere (core/dashboard/feed.ts) puts the launchers of one job
 * together. Nothing is published while nobody watches. Internal.
 */
import { randomInt } from "node:crypto"
import type { StatsChannel } from "../../transports/Launcher.ts"
import type * as Protocol from "./RunnerProtocol.ts"
import type { RunObserver } from "./World.ts"

/** What goes on the channel (JSON). */
export type StatsMessage =
  | { readonly t: "round"; readonly launcher: number; readonly run: number; readonly size: number; readonly ranks: ReadonlyArray<number>; readonly at: number; readonly replies: ReadonlyArray<readonly [number, Protocol.Status]> }
  | { readonly t: "output"; readonly launcher: number; readonly run: number; readonly rank: number; readonly text: string }
  | { readonly t: "settled"; readonly launcher: number; readonly run: number; readonly rank: number; readonly failure?: string; readonly stopped?: boolean }
  | { readonly t: "ended"; readonly launcher: number; readonly run: number; readonly ranks?: ReadonlyArray<number>; readonly failure?: string }

export const publisher = (channel: StatsChannel): RunObserver & { readonly watched: () => boolean } => {
  const launcher = randomInt(1, 2 ** 31)
  let run = 0
  let size = 0
  let ranks: ReadonlyArray<number> = []
  const send = (message: StatsMessage) => {
    if (channel.watched()) channel.publish(message)
  }
  return {
    watched: () => channel.watched(),
    started: (r) => {
      run = r.id
      size = r.size
      ranks = r.ranks
    },
    round: (at, replies) => send({ t: "round", launcher, run, size, ranks, at, replies: [...replies] }),
    output: (rank, text) => send({ t: "output", launcher, run, rank, text }),
    settled: (rank, failure, stopped) =>
      send({ t: "settled", launcher, run, rank, ...(failure === undefined ? {} : { failure }), ...(stopped === true ? { stopped } : {}) }),
    // The end goes out even unwatched: a launcher of spare ranks that has just begun to follow the run must not miss it.
    ended: (failure) => channel.publish({ t: "ended", launcher, run, ranks, ...(failure === undefined ? {} : { failure }) } satisfies StatsMessage)
  }
}

/** Several observers as one. */
export const both = (observers: ReadonlyArray<RunObserver>): RunObserver => ({
  started: (r) => observers.forEach((o) => o.started(r)),
  round: (at, replies) => observers.forEach((o) => o.round(at, replies)),
  output: (rank, text) => observers.forEach((o) => o.output(rank, text)),
  settled: (rank, failure, stopped) => observers.forEach((o) => o.settled(rank, failure, stopped)),
  ended: (failure) => observers.forEach((o) => o.ended(failure))
})
