/**
 * Object literals compiled per decoded shape, shared by the decoders that
 * build objects of a known key list (marshal, pickle).
 *
 * Building `{}` and storing each key costs ~14 ns a key (the store site sees
 * every key, so V8 treats it as megamorphic); an object literal compiled for
 * one shape costs ~3 ns a key (measured, 5 keys: 70 ns against 17 ns a
 * record). The literal names its keys as `JSON.stringify` string literals, so
 * a key never becomes code, and reads its values in key order from the
 * decoder (`ValueSource.read`); a shape with a `__proto__` key is never
 * compiled (in a literal it would set the prototype), nor one with many or
 * long keys. Where the runtime forbids code generation
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

/** The reader a compiled literal pulls its values from, one per key, in order. */
export interface ValueSource {
  read(): unknown
}

/** A decoded shape that may get a compiled literal. */
export interface CompilableShape {
  readonly keys: ReadonlyArray<string>
  /** Whether a key is "__proto__": such objects are built with defineProperty, so no prototype changes. */
  readonly hasProtoKey: boolean
  /** Objects built of this shape so far (counting stops once compiled). */
  uses: number
  build: ((source: ValueSource) => Record<string, unknown>) | undefined
}

/** How many literals a decoder's owner has compiled since it last reset the count. */
export interface CompileBudget {
  compiled: number
}

/** Objects of a shape built before its literal is compiled (compiling costs tens of microseconds). */
const COMPILE_AFTER = 64
const MAX_COMPILED_KEYS = 64
const MAX_COMPILED_KEY_LENGTH = 64
/**
 * At most this many literals per budget (its owner resets it when its shape
 * cache turns over): compiling costs far more than decoding the bytes that ask
 * for it, so a sender of ever-new shapes must not make the receiver compile
 * without bound.
 */
export const MAX_COMPILED = 256

let codegen = true

/** Counts a use of `shape` and compiles its literal when due. */
export const countUse = (shape: CompilableShape, budget: CompileBudget): void => {
  if (++shape.uses < COMPILE_AFTER || !codegen || shape.hasProtoKey) return
  shape.uses = -Infinity // never again, whatever happens below
  const keys = shape.keys
  if (budget.compiled >= MAX_COMPILED) return
  if (keys.length > MAX_COMPILED_KEYS || keys.some((k) => k.length > MAX_COMPILED_KEY_LENGTH)) return
  budget.compiled++
  const body = `return {${keys.map((k) => `${JSON.stringify(k)}: s.read()`).join(", ")}}`
  try {
    shape.build = new Function("s", body) as (source: ValueSource) => Record<string, unknown>
  } catch {
    codegen = false
  }
}
