/**
 * How the marshal encoder reports what it cannot encode: the path of the
 * offending part (`$.a.b[3]`) and what it is.
 */
import { EncodeError } from "../errors.ts"

const CODEC = "marshal"

/** An EncodeError at `path`; a very long path is shortened in the message (it stays whole in `path`). */
export const error = (path: string, what: string): EncodeError => {
  const shown = path.length > 120 ? `${path.slice(0, 60)}…${path.slice(-60)}` : path
  return new EncodeError({ codec: CODEC, path, message: `${CODEC}: cannot encode ${shown}: ${what}` })
}

const identifier = /^[A-Za-z_$][\w$]*$/

/** The path segment (`.key`, `["a b"]`, `[3]`) that leads from `parent` to `child`, found by identity. */
export const segment = (parent: unknown, child: unknown): string => {
  if (Array.isArray(parent)) {
    const i = parent.indexOf(child)
    return i >= 0 ? `[${i}]` : "[?]"
  }
  const obj = parent as Record<string, unknown>
  for (const key in obj) {
    if (Object.hasOwn(obj, key) && obj[key] === child) {
      return identifier.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`
    }
  }
  return "[?]"
}

/** What a value outside marshal's domain is, in words: "a Map", "an instance of class Point". */
export const describe = (v: object): string => {
  if (v instanceof Map) return "a Map"
  if (v instanceof Set) return "a Set"
  if (v instanceof Date) return "a Date"
  if (v instanceof RegExp) return "a RegExp"
  if (v instanceof Error) return `an Error (${v.name})`
  if (v instanceof ArrayBuffer) return "an ArrayBuffer"
  if (typeof SharedArrayBuffer !== "undefined" && v instanceof SharedArrayBuffer) return "a SharedArrayBuffer"
  if (v instanceof Promise) return "a Promise"
  const ctor = (Object.getPrototypeOf(v) as { constructor?: unknown }).constructor
  const name = typeof ctor === "function" && ctor.name !== "" ? ctor.name : "anonymous"
  return `an instance of class ${name}`
}
