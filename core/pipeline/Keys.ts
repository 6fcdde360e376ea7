/**
 * Keyed partitioning. A key is hashed (the same way on every rank and every
 * run) into one of a fixed number of key groups, and a group belongs to one
 * replica: `group * replicas / groups`, as Flink assigns key groups to
 * subtasks. Because the number of groups is fixed, running the stage with
 * more or fewer replicas moves whole groups, and keys of a group stay together.
 *
 * Keys are strings, numbers, bigints, booleans, null, undefined, or arrays of
 * those (composite keys); anything else (an object, whose identity differs on
 * every rank) is refused with an error that says so.
 */

/** How many key groups a keyed stage hashes into unless it says otherwise. */
export const DEFAULT_KEY_GROUPS = 128

export class InvalidKey extends Error {}

const FNV_OFFSET = 0x811c9dc5
const FNV_PRIME = 0x01000193

const mixString = (h: number, s: string): number => {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME)
  return h
}

const mixKey = (h: number, key: unknown): number => {
  switch (typeof key) {
    case "string":
      return mixString(Math.imul(h ^ 1, FNV_PRIME), key)
    case "number":
      return Number.isInteger(key) && Math.abs(key) < 2 ** 31
        ? Math.imul(Math.imul(h ^ 2, FNV_PRIME) ^ (key | 0), FNV_PRIME)
        : mixString(Math.imul(h ^ 3, FNV_PRIME), Object.is(key, -0) ? "0" : String(key))
    case "bigint":
      return mixString(Math.imul(h ^ 4, FNV_PRIME), key.toString())
    case "boolean":
      return Math.imul(h ^ (key ? 5 : 6), FNV_PRIME)
    case "undefined":
      return Math.imul(h ^ 7, FNV_PRIME)
    default:
      if (key === null) return Math.imul(h ^ 8, FNV_PRIME)
      if (Array.isArray(key)) {
        h = Math.imul(h ^ 9, FNV_PRIME)
        for (const part of key) h = mixKey(h, part)
        return Math.imul(h ^ key.length, FNV_PRIME)
      }
      throw new InvalidKey(
        `a key must be a string, number, bigint, boolean, null, undefined or an array of those; got ${Object.prototype.toString.call(key)} (turn it into a string, e.g. with JSON.stringify)`
      )
  }
}

/** The key group of `key`, in 0..groups-1. */
export const keyGroupOf = (key: unknown, groups: number): number => ((mixKey(FNV_OFFSET, key) >>> 0) % groups)

/** The replica that owns key group `group`. */
export const replicaOfGroup = (group: number, groups: number, replicas: number): number => Math.floor((group * replicas) / groups)

/** What a keyed stage's state is filed under: the key itself, or for a composite key a string that identifies it. */
export const keyId = (key: unknown): unknown =>
  Array.isArray(key) ? JSON.stringify(key, (_, v) => typeof v === "bigint" ? `${v}n` : v === undefined ? "\u0000undefined" : v) : key
