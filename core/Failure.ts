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
}

export const fromCause = (cause: Cause.Cause<unknown>): FailureReport => {
  const details = Cause.pretty(cause)
  const error = Cause.findErrorOption(cause)
  if (Option.isSome(error)) {
    const e = error.value as { _tag?: unknown; name?: unknown; message?: unknown }
    const tag = typeof e?._tag === "string" ? e._tag : typeof e?.name === "string" ? e.name : "Error"
    return { tag, message: typeof e?.message === "string" && e.message !== "" ? e.message : String(error.value), details }
  }
  if (Cause.hasInterruptsOnly(cause)) return { tag: "Interrupted", message: "interrupted", details }
  const defect = Cause.squash(cause)
  const message = defect instanceof Error ? `${defect.name}: ${defect.message}` : String(defect)
  return { tag: "Defect", message, details }
}
