/**
 * Decoded object shapes, kept across messages, each with a constructor
 * compiled once the shape has been used often enough.
 *
 * Building `{}` and storing each key costs ~14 ns a key here (the store site
 * sees every key, so V8 treats it as megamorphic); an object literal compiled
 * for one shape costs ~3 ns a key (measured, 5 keys: 70 ns against 17 ns a
 * record). The literal names its keys as `JSON.stringify` string literals, so
 * a key never becomes code; a shape with a `__proto__` key is never compiled
 * (in a literal it would set the prototype), nor one with long keys. Where the
 * runtime forbids code generation (`--disallow-code-generation-from-strings`,
 * a CSP), objects are built key by key.
 */

/** The reader a compiled constructor pulls its values from. */
export interface ValueSource {
  read(): unknown
}

export interface Shape {
  readonly keys: ReadonlyArray<string>
  /** Whether a key is "__proto__": such objects are built with defineProperty, so no prototype changes. */
  readonly hasProtoKey: boolean
  /** Objects built of this shape so far (counting stops once compiled). */
  uses: number
  build: ((source: ValueSource) => Record<string, unknown>) | undefined
}

/** Objects of a shape built before its constructor is compiled (compiling costs tens of microseconds). */
const COMPILE_AFTER = 64
const MAX_COMPILED_KEYS = 64
const MAX_COMPILED_KEY_LENGTH = 64
/** Past this many shapes the cache is dropped, bounding memory under ever-new shapes. */
const MAX_SHAPES = 4096
/**
 * At most this many constructors per cache generation: compiling costs far
 * more than decoding the bytes that ask for it, so a sender of ever-new
 * shapes must not be able to make the receiver compile without bound.
 */
const MAX_COMPILED = 256

/** Shapes by their first key; "" holds the empty shape. */
let byFirstKey = new Map<string, Array<Shape>>()
let shapeCount = 0
let compiledCount = 0
let codegen = true

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
    compiledCount = 0
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
export const used = (shape: Shape): void => {
  if (++shape.uses < COMPILE_AFTER || !codegen || shape.hasProtoKey) return
  shape.uses = -Infinity // never again, whatever happens below
  const keys = shape.keys
  if (compiledCount >= MAX_COMPILED) return
  if (keys.length > MAX_COMPILED_KEYS || keys.some((k) => k.length > MAX_COMPILED_KEY_LENGTH)) return
  compiledCount++
  const body = `return {${keys.map((k) => `${JSON.stringify(k)}: s.read()`).join(", ")}}`
  try {
    shape.build = new Function("s", body) as (source: ValueSource) => Record<string, unknown>
  } catch {
    codegen = false
  }
}
