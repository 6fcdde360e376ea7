/**
 * Decoded object shapes, kept across messages, each with a constructor compiled
 * once the shape has been used often enough (../compiledShapes.ts).
 */
import { type CompilableShape, type CompileBudget, countUse } from "../compiledShapes.ts"

export type { ValueSource } from "../compiledShapes.ts"

export type Shape = CompilableShape

/** Past this many shapes the cache is dropped, bounding memory under ever-new shapes. */
const MAX_SHAPES = 4096

/** Shapes by their first key; "" holds the empty shape. */
let byFirstKey = new Map<string, Array<Shape>>()
let shapeCount = 0
/** Literals compiled for this generation of the cache. */
const budget: CompileBudget = { compiled: 0 }

/** The shape with these keys (compared by identity first, then by value), made if new. */
export const intern = (keys: ReadonlyArray<string>): Shape => {
  const n = keys.length
  const first = n > 0 ? keys[0]! : ""
  const candidates = byFirstKey.get(first)
  if (candidates !== undefined) {
    outer: for (let c = 0; c < candidates.length; c++) {
      const shape = candidates[c]!
      const known = shape.keys
      if (known.length !== n) continue
      for (let i = 1; i < n; i++) if (known[i] !== keys[i]) continue outer
      return shape
    }
  }
  if (shapeCount >= MAX_SHAPES) {
    byFirstKey = new Map()
    shapeCount = 0
    budget.compiled = 0
  }
  const shape: Shape = { keys, hasProtoKey: keys.includes("__proto__"), uses: 0, build: undefined }
  if (candidates !== undefined && byFirstKey.has(first)) candidates.push(shape)
  else byFirstKey.set(first, [shape])
  shapeCount++
  return shape
}

/** Definitions longer than this (count and keys, in bytes) are not cached by their bytes. */
export const MAX_DEFINITION = 256
const DEFINITION_SLOTS = 1024

interface Definition {
  readonly bytes: Uint8Array
  readonly shape: Shape
}

const definitions: Array<Definition | undefined> = new Array(DEFINITION_SLOTS).fill(undefined)

/**
 * The shape whose definition (key count and keys, all new strings) is
 * `buf[start, end)`, if it has been seen: one hash and one comparison of the
 * bytes instead of a key cache lookup per key and a shape lookup.
 */
export const lookupDefinition = (buf: Uint8Array, start: number, end: number): Shape | undefined => {
  const entry = definitions[hashBytes(buf, start, end)]
  if (entry === undefined) return undefined
  const bytes = entry.bytes
  if (bytes.length !== end - start) return undefined
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== buf[start + i]) return undefined
  return entry.shape
}

/** Remembers that the definition `buf[start, end)` is `shape`. */
export const rememberDefinition = (buf: Uint8Array, start: number, end: number, shape: Shape): void => {
  definitions[hashBytes(buf, start, end)] = { bytes: buf.slice(start, end), shape }
}

const hashBytes = (buf: Uint8Array, start: number, end: number): number => {
  let h = end - start
  for (let i = start; i < end; i++) h = (Math.imul(h, 31) + buf[i]!) | 0
  return (h ^ (h >>> 10)) & (DEFINITION_SLOTS - 1)
}

/** Counts a use of `shape` and compiles its constructor when due. */
export const used = (shape: Shape): void => countUse(shape, budget)
