/**
 * Constructors compiled per decoded shape, shared by the decoders that build
 * objects of a known key list (marshal, pickle).
 *
 * Building `{}` and storing each key costs ~14 ns a key (the store site sees
 * every key, so V8 treats it as megamorphic); a constructor compiled for one
 * shape stores each key at its own site, ~3 ns a key (measured, 5 keys: 70 ns
 * against 17 ns a record). Its prototype is `Object.prototype`, so what it
 * builds is a plain object in every observable way. A constructor, not an
 * object literal: V8 tracks a literal's allocation site and, once a garbage
 * collection finds most of its objects alive (it does when it falls in the
 * middle of decoding a large message), allocates every later object of the
 * site in the old generation; old objects pointing at new strings and arrays
 * then made each scavenge take 25–35 ms instead of 1 ms, and 10,000 records
 * round-trip 30 % slower. The body names its keys as `JSON.stringify` string
 * literals, so a key never becomes code, and reads the values in key order
 * from the decoder (`ValueSource.read`); a shape with a `__proto__` key is
 * never compiled (the assignment would set the prototype), nor one with many
 * or long keys. Where the runtime forbids code generation
 * (`--disallow-code-generation-from-strings`, a CSP), objects are built key
 * by key.
 *
 * @example
 * ```ts
 * const shape: CompilableShape = { keys: ["id", "name"], hasProtoKey: false, uses: 0, build: undefined }
 * const budget: CompileBudget = { compiled: 0 }
 * for (let i = 0; i < 100; i++) countUse(shape, budget) // compiles at the 64th use
 * const record = shape.build?.({ read: () => 1 }) // { id: 1, name: 1 }
 * ```
 */

/** The reader a compiled constructor pulls its values from, one per key, in order. */
export interface ValueSource {
  read(): unknown
}

/** A decoded shape that may get a compiled constructor (`build`). */
export interface CompilableShape {
  readonly keys: ReadonlyArray<string>
  /** Whether a key is "__proto__": such objects are built with defineProperty, so no prototype changes. */
  readonly hasProtoKey: boolean
  /** Objects built of this shape so far (counting stops once compiled). */
  uses: number
  build: ((source: ValueSource) => Record<string, unknown>) | undefined
}

/** How many constructors a decoder's owner has compiled since it last reset the count. */
export interface CompileBudget {
  compiled: number
}

/** Objects of a shape built before its constructor is compiled (compiling costs tens of microseconds). */
const COMPILE_AFTER = 64
const MAX_COMPILED_KEYS = 64
const MAX_COMPILED_KEY_LENGTH = 64
/**
 * At most this many constructors per budget (its owner resets it when its shape
 * cache turns over): compiling costs far more than decoding the bytes that ask
 * for it, so a sender of ever-new shapes must not make the receiver compile
 * without bound.
 */
export const MAX_COMPILED = 256

let codegen = true

/** Counts a use of `shape` and compiles its constructor when due. */
export const countUse = (shape: CompilableShape, budget: CompileBudget): void => {
  if (++shape.uses < COMPILE_AFTER || !codegen || shape.hasProtoKey) return
  shape.uses = -Infinity // never again, whatever happens below
  const keys = shape.keys
  if (budget.compiled >= MAX_COMPILED) return
  if (keys.length > MAX_COMPILED_KEYS || keys.some((k) => k.length > MAX_COMPILED_KEY_LENGTH)) return
  budget.compiled++
  const body = keys.map((k) => `this[${JSON.stringify(k)}] = s.read()`).join("\n")
  try {
    const Plain = new Function("s", body) as unknown as new(source: ValueSource) => Record<string, unknown>
    ;(Plain as unknown as { prototype: object }).prototype = Object.prototype
    shape.build = (source) => new Plain(source)
  } catch {
    codegen = false
  }
}
