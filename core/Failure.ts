/**
 * A rank's failure as it travels to the launcher: which kind, a one-line
 * message, and the full account (Effect's pretty cause, with stacks).
 */
import { Cause, Option } from "effect"

export interface FailureReport {
  /** The error's tag (`"InvalidRank"`, …), `"Defect"` for a thrown exception, `"Interrupted"`. */
  readonly tag: string
  readonly message: string
  readonly details: string
  /** For a program stopped by another rank's failure (`RankFailed`): that rank (world) and why it failed. */
  readonly peer?: { readonly rank: number; readonly reason: string }
}

/**
 * The rank whose failure stopped this one: a `RankFailed` error, or one that
 * an error carries as its `cause` (a window operation whose target failed).
 */
const failedPeer = (error: unknown): FailureReport["peer"] => {
  let e = error as { _tag?: unknown; worldRank?: unknown; details?: unknown; message?: unknown; cause?: unknown } | undefined
  for (let depth = 0; depth < 4 && typeof e === "object" && e !== null; depth++) {
    if (e._tag === "RankFailed" && typeof e.worldRank === "number") {
      return { rank: e.worldRank, reason: typeof e.details === "string" ? e.details : String(e.message) }
    }
    e = e.cause as typeof e
  }
  return undefined
}

export const fromCause = (cause: Cause.Cause<unknown>): FailureReport => {
  const details = Cause.pretty(cause)
  const error = Cause.findErrorOption(cause)
  if (Option.isSome(error)) {
    const e = error.value as { _tag?: unknown; name?: unknown; message?: unknown }
    const tag = typeof e?._tag === "string" ? e._tag : typeof e?.name === "string" ? e.name : "Error"
    const message = typeof e?.message === "string" && e.message !== "" ? e.message : String(error.value)
    const peer = failedPeer(error.value)
    return peer === undefined ? { tag, message, details } : { tag, message, details, peer }
  }
  if (Cause.hasInterruptsOnly(cause)) return { tag: "Interrupted", message: "interrupted", details }
  const defect = Cause.squash(cause)
  const message = defect instanceof Error ? `${defect.name}: ${defect.message}` : String(defect)
  return { tag: "Defect", message, details }
}
