/**
 * Decodes a hostile input in a fresh Node process and reports what happened
 * and how much the process's peak resident memory grew while it decoded:
 * measured from the operating system (getrusage's maxrss), so that nothing a
 * decoder allocates escapes the count, and in a process of its own, so that
 * a decoder that runs out of memory cannot take the test runner with it.
 */
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import type { CodecName } from "./hostileInputs.ts"

export interface PeakReport {
  readonly inputBytes: number
  /** The error's tag and message, or undefined when the input decoded. */
  readonly error: { readonly tag: string; readonly message: string } | undefined
  /** Growth of the peak resident set while decoding, in bytes. */
  readonly peakGrowth: number
  /** How the process ended when it did not report (a crash: signal or exit code). */
  readonly crashed?: string
}

const path = (relative: string): string => fileURLToPath(new URL(relative, import.meta.url))

/**
 * `input` names a generator of hostileInputs.ts and its arguments, e.g.
 * `["nestedClaims", "pickle", 1000, 1_000_000]`; the input is built in the
 * child. `maxDecodedBytes` is passed to the decoder when given.
 */
export const decodeInChild = (
  codec: CodecName,
  input: readonly [generator: "nestedClaims" | "emptyMaps", ...args: Array<unknown>],
  options: { readonly maxDecodedBytes?: number; readonly heapMiB?: number } = {}
): Promise<PeakReport> => {
  const script = `
    import * as Codecs from ${JSON.stringify(path("../../codecs/index.ts"))}
    import * as Hostile from ${JSON.stringify(path("./hostileInputs.ts"))}
    const codec = Codecs[${JSON.stringify(codec)}]
    const input = Hostile[${JSON.stringify(input[0])}](...${JSON.stringify(input.slice(1))})
    const options = ${JSON.stringify(options.maxDecodedBytes === undefined ? {} : { maxDecodedBytes: options.maxDecodedBytes })}
    // Warm up the decoder (its code and caches) on a small valid message first.
    codec.decodeSync(codec.encodeSync([[1, 2], { a: "b" }, [[]]]))
    globalThis.gc?.()
    const before = process.resourceUsage().maxRSS
    let error
    try {
      codec.decodeSync({ header: input, buffers: [] }, options)
    } catch (e) {
      error = { tag: e?._tag ?? e?.name ?? "unknown", message: String(e?.message ?? e) }
    }
    const peakGrowth = (process.resourceUsage().maxRSS - before) * 1024
    process.stdout.write(JSON.stringify({ inputBytes: input.length, error, peakGrowth }))
  `
  const heap = options.heapMiB ?? 4096
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--expose-gc", `--max-old-space-size=${heap}`, "--input-type=module", "-e", script],
      { maxBuffer: 1 << 20, timeout: 120_000 },
      (err, stdout, stderr) => {
        if (stdout.length > 0) {
          try {
            return resolve(JSON.parse(stdout) as PeakReport)
          } catch {
            // fall through: not a report
          }
        }
        const how = err === null ? "no report" : `${(err as { signal?: string }).signal ?? `exit code ${(err as { code?: unknown }).code}`}`
        resolve({ inputBytes: -1, error: undefined, peakGrowth: -1, crashed: `${how}: ${stderr.slice(-2000)}` })
      }
    )
  })
}
