/**
 * The launcher's `--log-level` for the ranks: the launcher puts the level in
 * the environment, which rank threads and processes inherit, and each rank
 * runs its program with that minimum log level.
 */
import type { LogLevel } from "effect/LogLevel"

/** The environment variable through which the launcher's `--log-level` reaches the ranks. */
export const LOG_LEVEL_ENV = "RANKFLOW_LOG_LEVEL"

const LEVELS: ReadonlyArray<LogLevel> = ["All", "Trace", "Debug", "Info", "Warn", "Error", "Fatal", "None"]

/** The log level named by `text` (as `--log-level` takes it, any case), or undefined. */
export const logLevelOf = (text: string | undefined): LogLevel | undefined =>
  text === undefined ? undefined : LEVELS.find((l) => l.toLowerCase() === text.toLowerCase()) ?? (text.toLowerCase() === "warning" ? "Warn" : undefined)
