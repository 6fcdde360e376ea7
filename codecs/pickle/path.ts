/**
 * Paths into a value for encode errors: `$` is the root, `.key` or `["odd key"]`
 * a property, `[3]` an array index, `{2}.key` / `{2}.value` the key or value
 * of a Map's entry number 2 (insertion order, from 0), `{2}` a Set's item
 * number 2, `(state)` the reduced state of a class instance, `.cause` and
 * `.errors` those of an Error.
 *
 * The encoder rebuilds the path from its explicit stack only when something
 * fails, so the hot path pays nothing for it.
 */

export const P_PROP = 0
export const P_INDEX = 1
export const P_MAP_KEY = 2
export const P_MAP_VALUE = 3
export const P_SET = 4
export const P_STATE = 5
export const P_CAUSE = 6
export const P_ERRORS = 7

const identifier = /^[A-Za-z_$][\w$]*$/

/** One segment of a path. */
export const segment = (kind: number, key: string | number): string => {
  switch (kind) {
    case P_PROP:
      return typeof key === "string" && identifier.test(key) ? `.${key}` : `[${JSON.stringify(String(key))}]`
    case P_INDEX:
      return `[${key}]`
    case P_MAP_KEY:
      return `{${key}}.key`
    case P_MAP_VALUE:
      return `{${key}}.value`
    case P_SET:
      return `{${key}}`
    case P_STATE:
      return "(state)"
    case P_CAUSE:
      return ".cause"
    default:
      return ".errors"
  }
}

/** Joins segments after `$`; very deep paths keep their first and last 24 segments. */
export const formatPath = (segments: ReadonlyArray<string>): string => {
  const n = segments.length
  if (n <= 48) return "$" + segments.join("")
  return "$" + segments.slice(0, 24).join("") + `…(${n - 48} more)…` + segments.slice(n - 24).join("")
}
