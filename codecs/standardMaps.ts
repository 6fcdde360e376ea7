/**
 * What a CBOR or MessagePack map becomes in JS, shared by both decoders.
 *
 * A map whose keys are all strings becomes a plain object (a `__proto__` key
 * an own property, as `JSON.parse` makes it, never the prototype). Any other
 * map becomes a `Map` with the keys' own types (numbers, bigints, booleans,
 * null, byte strings, arrays, …), so that `{1: "int", "1": "str"}` keeps both
 * entries. Two keys that would be the same property or the same `Map` key are
 * a `DecodeError`: a decoded map never loses an entry without saying so.
 *
 * The decoders push each map's keys and values onto one shared array
 * (`entries`) as they read them, and build the map when it ends: no
 * per-map scratch allocation, and the choice between object and `Map` is made
 * once every key is known.
 */
import { decodeError } from "./errors.ts"

/** The decoders' shared stack of keys and values (`[k0, v0, k1, v1, …]`) of the maps being read. */
export const entries: Array<unknown> = []

const describeKey = (key: unknown): string =>
  typeof key === "string" ? JSON.stringify(key)
  : typeof key === "bigint" ? `${key}n`
  : key instanceof Uint8Array ? `a byte string of ${key.length} bytes`
  : typeof key === "object" && key !== null ? `a ${Object.getPrototypeOf(key)?.constructor?.name ?? "value"}`
  : String(key)

/**
 * Builds the map whose entries are `entries[base..]`, removes them from the
 * stack, and returns it: an object when `asObject` (every key a string), else
 * a `Map`. A repeated key is a `DecodeError` of `codec` at `offset` (the map's
 * head).
 */
export const buildMap = (base: number, asObject: boolean, codec: string, offset: number): object => {
  const end = entries.length
  if (asObject) {
    const object: Record<string, unknown> = {}
    for (let i = base; i < end; i += 2) {
      const key = entries[i] as string
      if (Object.hasOwn(object, key)) throw duplicate(codec, offset, key, base)
      if (key === "__proto__") Object.defineProperty(object, key, { value: entries[i + 1], enumerable: true, writable: true, configurable: true })
      else object[key] = entries[i + 1]
    }
    entries.length = base
    return object
  }
  const map = new Map<unknown, unknown>()
  for (let i = base; i < end; i += 2) {
    const key = entries[i]
    if (map.has(key)) throw duplicate(codec, offset, key, base)
    map.set(key, entries[i + 1])
  }
  entries.length = base
  return map
}

const duplicate = (codec: string, offset: number, key: unknown, base: number) => {
  entries.length = base
  return decodeError(codec, offset, `the map has the key ${describeKey(key)} twice (a decoded map never drops an entry)`)
}
