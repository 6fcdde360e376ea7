/**
 * Running the `rankflow` command line as a user would, under the Node that
 * runs the tests.
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

export const ROOT = fileURLToPath(new URL("../../", import.meta.url))
const BIN = fileURLToPath(new URL("../../bin/rankflow.js", import.meta.url))

export interface CliResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `rankflow ...args` in the repository root; kills it after `timeoutMs`. */
export const rankflow = (args: ReadonlyArray<string>, options: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<CliResult> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...options.env }, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000)
    child.on("error", reject)
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })

/** A `rankflow` process still running: its output so far, a wait for a line, and its end. */
export interface CliProcess {
  readonly stdout: () => string
  readonly stderr: () => string
  /** Resolves once `pattern` has appeared in stdout and stderr together. */
  waitFor(pattern: RegExp): Promise<void>
  kill(signal: NodeJS.Signals): void
  readonly done: Promise<CliResult>
}

/** Starts `rankflow ...args` in the repository root, for tests that signal it while it runs. */
export const startRankflow = (args: ReadonlyArray<string>, options: { timeoutMs?: number; env?: Record<string, string> } = {}): CliProcess => {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...options.env }, stdio: ["ignore", "pipe", "pipe"] })
  let stdout = ""
  let stderr = ""
  const watchers = new Set<() => void>()
  const seen = () => {
    for (const w of watchers) w()
  }
  child.stdout.on("data", (d) => {
    stdout += d
    seen()
  })
  child.stderr.on("data", (d) => {
    stderr += d
    seen()
  })
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000)
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on("error", reject)
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      seen()
      resolve({ code, signal, stdout, stderr })
    })
  })
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    waitFor: (pattern) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (pattern.test(stdout + stderr)) {
            watchers.delete(check)
            resolve()
          } else if (child.exitCode !== null || child.signalCode !== null) {
            watchers.delete(check)
            reject(new Error(`rankflow ended before ${pattern} appeared:\n${stdout}\n${stderr}`))
          }
        }
        watchers.add(check)
        check()
      }),
    kill: (signal) => void child.kill(signal),
    done
  }
}
