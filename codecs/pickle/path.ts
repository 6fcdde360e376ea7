/**
 * Paths into a value for encode errors: `$` is the root, `.key` or `["odd key"]`
 * a property, `[3]` an array index, `{2}.key` / `{2}.value` the key or value
 * of a Map's entry number 2 (insertion order, from 0), `{2}` a Set's item
 * number 2, `(state)` the reduced state of a class instance, `.cause` and
 * `.errors` those of an Error.
 *
 * The encoder records one segment per nesting level in two arrays (a kind and
 * a key) and formats them only when something fails, so the hot path pays one
 * array store per item.
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

const segment = (kind: number, key: string | number): string => {
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

/** Formats segments 1..depth; very deep paths keep their first and last segments. */
export const formatPath = (kinds: Uint8Array, keys: ReadonlyArray<string | number>, depth: number): string => {
  let out = "$"
  const head = depth > 48 ? 24 : depth
  for (let i = 1; i <= head; i++) out += segment(kinds[i]!, keys[i]!)
  if (head < depth) {
    out += `…(${depth - 48} more)…`
    for (let i = depth - 23; i <= depth; i++) out += segment(kinds[i]!, keys[i]!)
  }
  return out
}
