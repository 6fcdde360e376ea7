/**
 * Stacks that name the original files in a thread started from a bundle
 * (Bundle.ts). Node's `--enable-source-maps` would do it, but it decodes the
 * whole source map into objects once a stack is formatted — and effect formats
 * one while it loads: 15 MB more heap in every rank. Here the bundler's map is
 * turned once, when the bundle is built, into a table of positions on disk
 * (`<bundle>.lines`, with the sources' names in `<bundle>.sources.json`), and a
 * formatted stack reads from it only the lines of the bundle's frames.
 *
 * The table: little-endian 32-bit integers. The count of generated lines N;
 * N + 1 offsets, the first segment of each line (the last one the count of
 * segments); then each segment as four numbers: generated column, source
 * index, original line, original column (all from 0).
 */
import { openSync, readFileSync, readSync } from "node:fs"
import { fileURLToPath } from "node:url"

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

/**
 * The table of positions of a source map's `mappings` (see the file's comment).
 *
 * @example
 * ```ts
 * writeFileSync(`${bundlePath}.lines`, lineTable(JSON.parse(map).mappings))
 * ```
 */
export const lineTable = (mappings: string): Uint8Array => {
  const digit = new Int8Array(128).fill(-1)
  for (let i = 0; i < BASE64.length; i++) digit[BASE64.charCodeAt(i)] = i
  const lines = mappings.split(";")
  const segments: Array<number> = []
  const starts = new Int32Array(lines.length + 1)
  let source = 0
  let originalLine = 0
  let originalColumn = 0
  const fields: Array<number> = []
  for (let l = 0; l < lines.length; l++) {
    starts[l] = segments.length / 4
    let column = 0
    for (const segment of lines[l]!.split(",")) {
      if (segment === "") continue
      fields.length = 0
      let value = 0
      let shift = 0
      for (let i = 0; i < segment.length; i++) {
        const d = digit[segment.charCodeAt(i)] ?? -1
        if (d < 0) throw new Error(`a source map's mappings hold "${segment[i]}", which is not base64`)
        value += (d & 31) * 2 ** shift
        if ((d & 32) !== 0) {
          shift += 5
          continue
        }
        fields.push(value % 2 === 1 ? -(value - 1) / 2 : value / 2)
        value = 0
        shift = 0
      }
      column += fields[0]!
      if (fields.length < 4) continue
      source += fields[1]!
      originalLine += fields[2]!
      originalColumn += fields[3]!
      segments.push(column, source, originalLine, originalColumn)
    }
  }
  starts[lines.length] = segments.length / 4
  const table = new Int32Array(1 + starts.length + segments.length)
  table[0] = lines.length
  table.set(starts, 1)
  table.set(segments, 1 + starts.length)
  return new Uint8Array(table.buffer)
}

/** Where a position of the bundle came from: the index of its source, its line and column (from 0). */
export interface Origin {
  readonly source: number
  readonly line: number
  readonly column: number
}

/** Lines of a table kept decoded (stacks taken on every call, `--call-sites`, revisit the same few). */
const CACHED_LINES = 4096

/**
 * Reads a table of positions a line at a time: its file stays open and the
 * lines read stay decoded (up to `CACHED_LINES`).
 */
export class LineTable {
  private fd: number | undefined
  private lines = -1
  private readonly cache = new Map<number, Int32Array>()
  private readonly path: string

  constructor(path: string) {
    this.path = path
  }

  /**
   * The origin of generated position (`line`, `column`; from 0): the line's
   * last segment that starts at or before the column, else its first;
   * undefined for a line without segments.
   *
   * @example
   * ```ts
   * const origin = new LineTable(`${bundlePath}.lines`).originOf(frame.getLineNumber()! - 1, frame.getColumnNumber()! - 1)
   * ```
   */
  originOf(line: number, column: number): Origin | undefined {
    const segments = this.segmentsOf(line)
    if (segments.length === 0) return undefined
    let best = 0
    for (let s = 4; s < segments.length; s += 4) if (segments[s]! <= column) best = s
    return { source: segments[best + 1]!, line: segments[best + 2]!, column: segments[best + 3]! }
  }

  private segmentsOf(line: number): Int32Array {
    const cached = this.cache.get(line)
    if (cached !== undefined) return cached
    const head = new Int32Array(2)
    if (this.fd === undefined) {
      this.fd = openSync(this.path, "r")
      readSync(this.fd, head, 0, 4, 0)
      this.lines = head[0]!
    }
    let segments = new Int32Array(0)
    if (line >= 0 && line < this.lines) {
      readSync(this.fd, head, 0, 8, 4 + 4 * line)
      segments = new Int32Array(4 * Math.max(0, head[1]! - head[0]!))
      readSync(this.fd, segments, 0, segments.byteLength, 4 * (2 + this.lines) + 16 * head[0]!)
    }
    if (this.cache.size >= CACHED_LINES) this.cache.clear()
    this.cache.set(line, segments)
    return segments
  }
}

/**
 * Formats this thread's stacks with the bundle's positions mapped back to their
 * sources, in place of Node's own formatting (the same text for every other
 * frame). Does nothing where Node maps stacks itself (`--enable-source-maps`).
 *
 * @example
 * ```ts
 * mapBundleStacks(import.meta.url)   // first thing in a bundle's entry
 * ```
 */
export const mapBundleStacks = (bundleUrl: string): void => {
  if (process.sourceMapsEnabled) return
  const bundlePath = fileURLToPath(bundleUrl)
  let sources: ReadonlyArray<string> | undefined
  let table: LineTable | undefined
  const frameText = (frame: NodeJS.CallSite): string => {
    const text = String(frame)
    const file = frame.getFileName()
    const line = frame.getLineNumber()
    const column = frame.getColumnNumber()
    if (file !== bundleUrl || line === null || column === null) return text
    try {
      table ??= new LineTable(`${bundlePath}.lines`)
      const origin = table.originOf(line - 1, column - 1)
      sources ??= JSON.parse(readFileSync(`${bundlePath}.sources.json`, "utf8")) as Array<string>
      const source = origin === undefined ? undefined : sources[origin.source]
      if (origin === undefined || source === undefined) return text
      return text.replace(`${file}:${line}:${column}`, `${source}:${origin.line + 1}:${origin.column + 1}`)
    } catch {
      return text
    }
  }
  Error.prepareStackTrace = (error, frames) => {
    let header: string
    try {
      header = Error.prototype.toString.call(error)
    } catch {
      header = "Error"
    }
    return header + frames.map((f) => `\n    at ${frameText(f)}`).join("")
  }
}
