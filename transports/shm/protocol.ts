/**
 * Messages between the launching thread and a rank's worker (over the
 * worker's parent port). Rank-to-rank data never travels here.
 */
import type { SharedRegions } from "./Layout.ts"

/** What a worker is started with. */
export interface WorkerData {
  readonly rank: number
  readonly regions: SharedRegions
  /** URL of the runner module. */
  readonly runner: string
  /** `LaunchOptions.data`, for `RankControl.data`. */
  readonly data: unknown
  /** The cores the rank's thread binds itself to before it loads anything (`ShmOptions.bindTo`); absent: unbound. */
  readonly cpus?: ReadonlyArray<number>
}

/** Launcher to rank. */
export type ToRank =
  | { readonly t: "message"; readonly body: unknown }
  | { readonly t: "peerFailed"; readonly rank: number; readonly reason: string }

/** Rank to launcher. */
export type FromRank =
  | { readonly t: "message"; readonly body: unknown }
  /** The runner called `RankControl.exit`: the exit that follows is an orderly one. */
  | { readonly t: "exit"; readonly code: number }
