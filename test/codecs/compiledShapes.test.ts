/**
 * The constructors compiled per decoded shape (codecs/compiledShapes.ts):
 * when they are compiled, and that what they build is a plain object.
 */
import { describe, expect, it } from "@effect/vitest"
import { type CompilableShape, type CompileBudget, countUse, MAX_COMPILED } from "../../codecs/compiledShapes.ts"

const shapeOf = (keys: ReadonlyArray<string>): CompilableShape => ({ keys, hasProtoKey: keys.includes("__proto__"), uses: 0, build: undefined })

/** A ValueSource handing out `values` in order. */
const source = (values: ReadonlyArray<unknown>) => {
  let i = 0
  return { read: () => values[i++] }
}

describe("compiled shapes", () => {
  it("a shape gets its constructor at its 64th use, not before", () => {
    const shape = shapeOf(["a", "b"])
    const budget: CompileBudget = { compiled: 0 }
    for (let i = 0; i < 63; i++) countUse(shape, budget)
    expect(shape.build).toBeUndefined()
    countUse(shape, budget)
    expect(shape.build).toBeDefined()
    expect(budget.compiled).toBe(1)
  })

  it("what a constructor builds is a plain object: its prototype, constructor, keys and their order, own keys named like Object.prototype's", () => {
    const keys = ["id", "10", "2", "toString", "constructor", "a b", "\"quoted\"", ""]
    const shape = shapeOf(keys)
    const budget: CompileBudget = { compiled: 0 }
    for (let i = 0; i < 64; i++) countUse(shape, budget)
    const values = [1, "ten", "two", 4, null, [6], { seven: 7 }, undefined]
    const built = shape.build!(source(values))
    const literal: Record<string, unknown> = {}
    keys.forEach((k, i) => (literal[k] = values[i]))
    expect(Object.getPrototypeOf(built)).toBe(Object.prototype)
    expect(built.constructor).toBe(null) // its own key
    const plain = shapeOf(["x"])
    for (let i = 0; i < 64; i++) countUse(plain, budget)
    expect(plain.build!(source([1])).constructor).toBe(Object)
    expect(Object.keys(built)).toEqual(Object.keys(literal))
    expect(built).toStrictEqual(literal)
    expect(Object.hasOwn(built, "toString") && Object.hasOwn(built, "constructor")).toBe(true)
    expect(JSON.stringify(built)).toBe(JSON.stringify(literal))
    expect(Object.prototype.toString.call(built)).toBe("[object Object]")
  })

  it("a shape with a __proto__ key, more than 64 keys or a key over 64 characters is never compiled", () => {
    const budget: CompileBudget = { compiled: 0 }
    const shapes = [shapeOf(["a", "__proto__"]), shapeOf(Array.from({ length: 65 }, (_, i) => `k${i}`)), shapeOf(["x".repeat(65)])]
    for (const shape of shapes) for (let i = 0; i < 200; i++) countUse(shape, budget)
    expect(shapes.map((s) => s.build)).toEqual([undefined, undefined, undefined])
    expect(budget.compiled).toBe(0)
  })

  it("a budget compiles at most MAX_COMPILED constructors until its owner resets it", () => {
    const budget: CompileBudget = { compiled: 0 }
    const compileOne = (i: number) => {
      const shape = shapeOf([`key${i}`])
      for (let n = 0; n < 64; n++) countUse(shape, budget)
      return shape.build !== undefined
    }
    const compiled = Array.from({ length: MAX_COMPILED + 10 }, (_, i) => compileOne(i))
    expect(compiled.filter(Boolean).length).toBe(MAX_COMPILED)
    budget.compiled = 0
    expect(compileOne(-1)).toBe(true)
  })
})
