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

export const fromCause = (cause: Cause.Cause<unknown>): FailureReport => {
  const details = Cause.pretty(cause)
  const error = Cause.findErrorOption(cause)
  if (Option.isSome(error)) {
    const e = error.value as { _tag?: unknown; name?: unknown; message?: unknown }
    const tag = typeof e?._tag === "string" ? e._tag : typeof e?.name === "string" ? e.name : "Error"
    const message = typeof e?.message === "string" && e.message !== "" ? e.message : String(error.value)
    const failed = error.value as { worldRank?: unknown; details?: unknown }
    if (tag === "RankFailed" && typeof failed.worldRank === "number") {
      return { tag, message, details, peer: { rank: failed.worldRank, reason: typeof failed.details === "string" ? failed.details : message } }
    }
    return { tag, message, details }
  }
  if (Cause.hasInterruptsOnly(cause)) return { tag: "Interrupted", message: "interrupted", details }
  const defect = Cause.squash(cause)
  const message = defect instanceof Error ? `${defect.name}: ${defect.message}` : String(defect)
  return { tag: "Defect", message, details }
}
