/**
 * Sizes and durations on the command line: `1048576`, `64MiB`, `64M`, `1GiB`,
 * `512k`; `30s`, `500ms`, `2m`, `30` (seconds).
 *
 * @example
 * ```ts
 * parseBytes("64MiB")      // 67108864
 * parseBytes("lots")       // undefined
 * parseDuration("500ms")   // 500
 * ```
 */

/** A size in bytes (binary units, with or without "iB"), or undefined when the text is not one. */
export const parseBytes = (text: string): number | undefined => {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text)
  if (m === null) return undefined
  const unit = { "": 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[m[2]!.toLowerCase() as "" | "k" | "m" | "g" | "t"]
  return Math.round(Number(m[1]) * unit)
}


/** A duration in milliseconds (`500ms`, `30s`, `2m`, or plain seconds), or undefined when the text is not one. */
export const parseDuration = (text: string): number | undefined => {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min)?\s*$/i.exec(text)
  if (m === null) return undefined
  const unit = { ms: 1, s: 1000, m: 60_000, min: 60_000 }[(m[2] ?? "s").toLowerCase() as "ms" | "s" | "m" | "min"]
  return Math.round(Number(m[1]) * unit)
}
