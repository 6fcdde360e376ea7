/**
 * A rank's output stream, forwarded line by line with a `[rank] ` prefix.
 */
import type { Readable } from "node:stream"

/**
 * Where forwarded output goes (a `Writable` such as `process.stdout` fits).
 *
 * @example
 * ```ts
 * const sink: OutputSink = { write: (text) => process.stdout.write(text) }
 * ```
 */
export interface OutputSink {
  write(text: string): unknown
}

/**
 * Forwards `stream` to `sink`, prefixing every line with `prefix`. A last line
 * without a newline is completed with one at the end. Calls `ended` once the
 * stream has ended (everything was written).
 */
export const forward = (stream: Readable, sink: OutputSink, prefix: string | undefined, ended: () => void): void => {
  stream.setEncoding("utf8")
  let partial = ""
  stream.on("data", (chunk: string) => {
    if (prefix === undefined) {
      sink.write(chunk)
      return
    }
    const text = partial + chunk
    const last = text.lastIndexOf("\n")
    if (last < 0) {
      partial = text
      return
    }
    partial = text.slice(last + 1)
    sink.write(prefix + text.slice(0, last).replaceAll("\n", "\n" + prefix) + "\n")
  })
  stream.on("end", () => {
    if (partial !== "") sink.write(prefix + partial + "\n")
    partial = ""
    ended()
  })
}

/** `sink`, with `onOutput` told each text written to it for `rank` (where given). */
export const observed = (sink: OutputSink, rank: number, onOutput: ((rank: number, text: string) => void) | undefined): OutputSink =>
  onOutput === undefined ? sink : {
    write: (text) => {
      onOutput(rank, text)
      return sink.write(text)
    }
  }
