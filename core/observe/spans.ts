/**
 * Communicator calls as trace spans (see recorder.ts): when the job traces,
 * each Effect-returning method of a communicator records a span from the
 * call's start to its end on the rank's track, named by the method, with its
 * peer and tag where it has them. Internal: the communicator facade applies it.
 */
import { Effect } from "effect"
import { now, span, tracing } from "./recorder.ts"

const POINT_TO_POINT = new Set(["send", "ssend", "isend", "issend", "recv", "recvWithStatus", "irecv", "recvInto", "irecvInto", "sendrecv", "probe", "iprobe"])
/** Calls that make or free communicators, or only allocate: not worth a span. */
const UNTRACED = new Set(["alloc", "release", "free"])

const argsOf = (options: unknown): Record<string, unknown> | undefined => {
  if (typeof options !== "object" || options === null) return undefined
  const o = options as Record<string, unknown>
  const args: Record<string, unknown> = {}
  for (const key of ["dest", "source", "tag", "root"]) if (typeof o[key] === "number") args[key] = o[key]
  return Object.keys(args).length > 0 ? args : undefined
}

/**
 * Wraps `target`'s methods (a communicator's, a file's) in spans on `rank`'s
 * track (world rank), when the job traces; `category` names their kind
 * (default: point-to-point or collective, by the method).
 */
export const spanMethods = <T extends object>(target: T, rank: number, label: string, category?: string): T => {
  if (!tracing) return target
  for (const key of Object.keys(target) as Array<keyof T & string>) {
    const f = target[key]
    if (typeof f !== "function" || UNTRACED.has(key)) continue
    const cat = category ?? (POINT_TO_POINT.has(key) ? "point-to-point" : "collective")
    target[key] = ((...params: Array<unknown>) => {
      const result = (f as (...a: Array<unknown>) => unknown).apply(target, params)
      if (!Effect.isEffect(result)) return result
      const options = params[params.length - 1]
      return Effect.suspend(() => {
        const start = now()
        return Effect.ensuring(result as Effect.Effect<unknown, unknown>, Effect.sync(() => span(rank, key, cat, start, now(), { on: label, ...argsOf(options) })))
      })
    }) as T[keyof T & string]
  }
  return target
}
