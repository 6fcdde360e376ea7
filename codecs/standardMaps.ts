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
 * The decoders push each container's items onto one shared stack
 * (`Items`) as they read them, and build the map or array when it ends: no
 * per-container scratch allocation, and the choice between object and `Map`
 * is made once every key is known.
 */
import { decodeError } from "./errors.ts"

/**
 * The decoders' shared stack of the items of the containers being read
 * (`[k0, v0, k1, v1, …]` for a map). It never shrinks (V8 would trim and regrow
 * its backing store per container); `reset` clears what a decode left on it.
 */
export const Items = {
  values: new Array<unknown>(1024).fill(undefined),
  top: 0,
  /** The most items held at once since the last reset. */
  high: 0
}

/** Pushes one item. */
export const push = (value: unknown): void => {
  const top = Items.top
  Items.values[top] = value
  Items.top = top + 1
  if (top >= Items.high) Items.high = top + 1
}

/** Empties the stack and drops its references, so that a decoded value is not kept alive by it. */
export const reset = (): void => {
  Items.values.fill(undefined, 0, Items.high)
  Items.top = 0
  Items.high = 0
}

/** The items `base..` as an array, removed from the stack. */
export const buildArray = (base: number): Array<unknown> => {
  const array = Items.values.slice(base, Items.top)
  Items.top = base
  return array
}

/**
 * Sets `object[key] = value` for a map being read straight into an object
 * (`heldUndefined`: whether an undefined value was stored in it already).
 * Returns whether an undefined value is now held; a repeated key is a
 * `DecodeError` of `codec` at `offset`.
 */
export const setProperty = (
  object: Record<string, unknown>, key: string, value: unknown, heldUndefined: boolean, codec: string, offset: number
): boolean => {
  // A key already set reads as something other than undefined, unless undefined was stored;
  // an inherited one (toString, __proto__) reads as something too: only then is the exact check needed.
  if (object[key] !== undefined || heldUndefined) {
    if (Object.hasOwn(object, key)) throw duplicate(codec, offset, key)
    if (key === "__proto__") {
      Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true })
      return heldUndefined || value === undefined
    }
  }
  object[key] = value
  return heldUndefined || value === undefined
}

/**
 * A map read into `object` so far, whose keys in order are the items
 * `base..` of the stack, meets a key that is not a string: the keys become
 * key/value pairs in place, so that reading can go on into `buildMap(base, false, …)`.
 */
export const pairsFromObject = (object: Record<string, unknown>, base: number): void => {
  const values = Items.values
  const m = Items.top - base
  // Backwards, so that every key is read before its slot is written over.
  for (let i = m - 1; i >= 0; i--) {
    const key = values[base + i] as string
    values[base + 2 * i] = key
    values[base + 2 * i + 1] = object[key]
  }
  Items.top = base + 2 * m
  if (Items.top > Items.high) Items.high = Items.top
}

const describeKey = (key: unknown): string =>
  typeof key === "string" ? JSON.stringify(key)
  : typeof key === "bigint" ? `${key}n`
  : key instanceof Uint8Array ? `a byte string of ${key.length} bytes`
  : typeof key === "object" && key !== null ? `a ${Object.getPrototypeOf(key)?.constructor?.name ?? "value"}`
  : String(key)

/**
 * Builds the map whose keys and values are the items `base..`, removes them
 * from the stack, and returns it: an object when `asObject` (every key a
 * string), else a `Map`. A repeated key is a `DecodeError` of `codec` at
 * `offset` (the map's head).
 */
export const buildMap = (base: number, asObject: boolean, codec: string, offset: number): object => {
  const values = Items.values
  const end = Items.top
  Items.top = base
  if (asObject) {
    const object: Record<string, unknown> = {}
    let heldUndefined = false
    for (let i = base; i < end; i += 2) {
      heldUndefined = setProperty(object, values[i] as string, values[i + 1], heldUndefined, codec, offset)
    }
    return object
  }
  const map = new Map<unknown, unknown>()
  for (let i = base; i < end; i += 2) {
    const key = values[i]
    if (map.has(key)) throw duplicate(codec, offset, key)
    map.set(key, values[i + 1])
  }
  return map
}

const duplicate = (codec: string, offset: number, key: unknown) =>
  decodeError(codec, offset, `the map has the key ${describeKey(key)} twice (a decoded map never drops an entry)`)
