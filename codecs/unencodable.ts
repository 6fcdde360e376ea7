/**
 * Finds the part of a value that an encoder cannot encode, so that an
 * `EncodeError` can name its path (`$.a.b[3]`). The codecs built over a library
 * (cbor-x, @msgpack/msgpack) call this only after the library has failed:
 * the hot path pays nothing for it.
 */
import { EncodeError, encodeError } from "./errors.ts"

/**
 * Thrown by the encoders of this package (cbor, msgpack) at the first part of
 * a value that has no form in their format; the codec then finds the part's
 * path with `findUnencodable` and says why, off the hot path.
 */
export class Refused extends Error {}

/** Where a value stops being encodable, and why. */
export interface Unencodable {
  readonly path: string
  readonly what: string
}

export interface FindOptions {
  /** Containers nested deeper than this are reported. */
  readonly maxDepth: number
  /** A codec's own rule: returns why `value` cannot be encoded, or undefined. */
  readonly check?: (value: unknown) => string | undefined
}

const identifier = /^[A-Za-z_$][\w$]*$/

/** `path` extended by an object key: `$.a` or `$["a b"]`. */
export const keyPath = (path: string, key: string): string =>
  identifier.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`

const label = (key: unknown): string =>
  typeof key === "string" ? JSON.stringify(key) : typeof key === "bigint" ? `${key}n` : typeof key === "object" && key !== null ? "{…}" : String(key)

const isLeafObject = (x: object): boolean =>
  ArrayBuffer.isView(x) || x instanceof ArrayBuffer || x instanceof Date || x instanceof RegExp ||
  (typeof SharedArrayBuffer !== "undefined" && x instanceof SharedArrayBuffer)

/**
 * Walks `value` depth-first and returns the first part that is a function, a
 * symbol, a cycle, nested deeper than `maxDepth`, or rejected by `check`;
 * undefined if none is.
 */
export const findUnencodable = (value: unknown, options: FindOptions): Unencodable | undefined => {
  const ancestors = new Map<object, string>()
  const visit = (x: unknown, path: string, depth: number): Unencodable | undefined => {
    const why = options.check?.(x)
    if (why !== undefined) return { path, what: why }
    if (typeof x === "function") return { path, what: `a function (${x.name || "anonymous"}) cannot be encoded` }
    if (typeof x === "symbol") return { path, what: `a symbol (${x.description ?? ""}) cannot be encoded` }
    if (typeof x !== "object" || x === null || isLeafObject(x)) return undefined
    const seen = ancestors.get(x)
    if (seen !== undefined) return { path, what: `a cycle: this is the object at ${seen}, which contains it` }
    if (depth >= options.maxDepth) return { path, what: `nested deeper than ${options.maxDepth} levels` }
    ancestors.set(x, path)
    try {
      if (Array.isArray(x)) {
        for (let i = 0; i < x.length; i++) {
          const found = visit(x[i], `${path}[${i}]`, depth + 1)
          if (found) return found
        }
      } else if (x instanceof Map) {
        let i = 0
        for (const [k, v] of x) {
          const found = visit(k, `${path}.keys()[${i}]`, depth + 1) ?? visit(v, `${path}.get(${label(k)})`, depth + 1)
          if (found) return found
          i++
        }
      } else if (x instanceof Set) {
        let i = 0
        for (const v of x) {
          const found = visit(v, `${path}.values()[${i++}]`, depth + 1)
          if (found) return found
        }
      } else {
        for (const k of Object.keys(x)) {
          const found = visit((x as Record<string, unknown>)[k], keyPath(path, k), depth + 1)
          if (found) return found
        }
      }
      return undefined
    } finally {
      ancestors.delete(x)
    }
  }
  return visit(value, "$", 0)
}

/** What a library threw, as a sentence (a stack overflow says the value is nested too deeply). */
export const describeThrown = (e: unknown): string =>
  e instanceof RangeError && /call stack/i.test(e.message) ? "nested too deeply for the stack" : e instanceof Error ? e.message : String(e)

/**
 * The `EncodeError` for a value that the library behind `codec` refused: the
 * path of the first part that cannot be encoded when one is found, else the
 * library's own words.
 */
export const libraryEncodeFailure = (codec: string, value: unknown, thrown: unknown, options: FindOptions): EncodeError => {
  if (thrown instanceof EncodeError) return thrown
  try {
    const found = findUnencodable(value, options)
    if (found !== undefined) return encodeError(codec, found.path, found.what)
  } catch {
    // a getter that throws while we look: report what the library said
  }
  return encodeError(codec, "$", describeThrown(thrown))
}
