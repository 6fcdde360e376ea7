/**
 * The user's line in rankflow's errors. An error made inside rankflow has
 * only rankflow's frames on its stack; the call that caused it is in the
 * user's code, whose frame is on the stack only while the call builds its
 * Effect (inside `yield* comm.send(…)`), not while the Effect runs.
 *
 * So arguments are checked while the Effect is built, and a bad one gets the
 * stack of that moment, which costs nothing when the arguments are fine.
 * Errors that only show while the call runs (a `Truncated` receive, an
 * `EncodeError`, a `RankFailed`) get the line when call sites are on
 * (`RANKFLOW_CALL_SITES=1`, `rankflow run --call-sites`): then every call
 * takes its stack as it is built (captured, and formatted only on failure).
 */
import { Effect } from "effect"

/** The environment variable that turns call sites on for every call. */
export const CALL_SITES_ENV = "RANKFLOW_CALL_SITES"

/** Whether every call records its call site (read once per rank). */
export const callSitesOn = (): boolean => {
  const v = globalThis.process?.env?.[CALL_SITES_ENV]
  return v !== undefined && v !== "" && v !== "0" && v !== "false"
}

/** rankflow's own library code, as URLs and as paths (not its examples or tests, which are user programs). */
const LIBRARY = ["./", "../codecs/", "../transports/", "../gpu/"].flatMap((dir) => {
  const url = new URL(dir, import.meta.url)
  return [url.href, decodeURIComponent(url.pathname)]
})

const isLibraryFrame = (line: string): boolean =>
  line.includes("node:internal") || line.includes("/node_modules/") || line.includes("(native)") ||
  LIBRARY.some((dir) => line.includes(dir))

/** The stack frames of `stack` outside rankflow, Effect and Node: the user's. */
export const userFrames = (stack: string | undefined): Array<string> =>
  stack === undefined ? [] : stack.split("\n").filter((l) => /^\s+at /.test(l) && !isLibraryFrame(l))

/** `file.ts:12:5` from a frame line (`    at fn (file:///…/file.ts:12:5)`), relative to the working directory. */
const whereOf = (frame: string): string => {
  const m = /\(?((?:file:\/\/)?[^\s()]+:\d+:\d+)\)?\s*$/.exec(frame)
  const place = m?.[1] ?? frame.trim().replace(/^at /, "")
  const path = place.startsWith("file://") ? place.slice("file://".length) : place
  const cwd = globalThis.process?.cwd?.()
  return cwd !== undefined && path.startsWith(`${cwd}/`) ? path.slice(cwd.length + 1) : path
}

/**
 * Adds the user's call site (from `stack`, taken where the call was made) to
 * `error`: its message ends with `(at file.ts:12:5)` and its stack shows the
 * user's frames. Errors without a user frame on that stack are left as they are.
 */
export const locate = <E>(error: E, stack: string | undefined): E => {
  const frames = userFrames(stack)
  if (frames.length === 0 || typeof error !== "object" || error === null || !(error instanceof Error)) return error
  const e = error as Error & { located?: boolean }
  if (e.located === true) return error
  const at = ` (at ${whereOf(frames[0]!)})`
  try {
    e.message = `${e.message}${at}`
    e.stack = `${e.name}: ${e.message}\n${frames.join("\n")}`
    Object.defineProperty(e, "located", { value: true, enumerable: false })
  } catch {
    // A frozen error keeps its message.
  }
  return error
}

/** Fails with `invalid`, located at its caller's caller: the user's code that made the call. */
export const located = <I>(invalid: I): Effect.Effect<never, I> => Effect.fail(locate(invalid, new Error().stack))

/**
 * With call sites on, wraps every method of `target` that returns an Effect
 * so that its failures carry the line that called it.
 */
export const traceMethods = <T extends object>(target: T): T => {
  if (!callSitesOn()) return target
  for (const key of Object.keys(target) as Array<keyof T>) {
    const f = target[key]
    if (typeof f !== "function") continue
    target[key] = ((...args: Array<unknown>) => {
      const result = (f as (...a: Array<unknown>) => unknown).apply(target, args)
      if (!Effect.isEffect(result)) return result
      // The stack is captured now and formatted only if the call fails (formatting is most of the cost).
      const site = new Error()
      return Effect.mapError(result as Effect.Effect<unknown, unknown>, (e) => locate(e, site.stack))
    }) as T[keyof T]
  }
  return target
}
