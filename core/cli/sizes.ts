/**
 * Sizes on the command line: `1048576`, `64MiB`, `64M`, `1GiB`, `512k`.
 *
 * @example
 * ```ts
 * parseBytes("64MiB")   // 67108864
 * parseBytes("lots")    // undefined
 * ```
 */

/** A size in bytes (binary units, with or without "iB"), or undefined when the text is not one. */
export const parseBytes = (text: string): number | undefined => {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text)
  if (m === null) return undefined
  const unit = { "": 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[m[2]!.toLowerCase() as "" | "k" | "m" | "g" | "t"]
  return Math.round(Number(m[1]) * unit)
}

