/**
 * Every public export has a doc comment with an `@example`, as Effect's own
 * modules have. The entry points' exports (and the members of the namespaces
 * they export, such as `Comm.send`'s options) are read with the TypeScript
 * compiler. Exports that still lack one are listed in
 * `missing-examples.txt`: the list may only shrink. A new export without an
 * example fails, and so does one that gained an example but is still listed.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import ts from "typescript"
import { describe, expect, it } from "vitest"
import { ROOT } from "../support/cli.ts"

const ENTRIES = ["core/index.ts", "codecs/index.ts", "transports/index.ts", "gpu/index.ts"]

/** `entry:Namespace.name` for every public export without an `@example`, sorted. */
const withoutExamples = (): Array<string> => {
  const program = ts.createProgram(ENTRIES.map((e) => join(ROOT, e)), {
    allowImportingTsExtensions: true,
    noEmit: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    skipLibCheck: true
  })
  const checker = program.getTypeChecker()
  const missing = new Set<string>()
  const visit = (symbol: ts.Symbol, name: string, top: boolean): void => {
    const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol
    const declaration = target.declarations?.[0]
    if (top && declaration !== undefined && ts.isSourceFile(declaration)) {
      // `export * as Comm from "./comm/Comm.ts"`: the namespace's own exports.
      for (const member of checker.getExportsOfModule(target)) visit(member, `${name}.${member.name}`, false)
      return
    }
    if (!target.getJsDocTags(checker).some((tag) => tag.name === "example")) missing.add(name)
  }
  for (const entry of ENTRIES) {
    const module = checker.getSymbolAtLocation(program.getSourceFile(join(ROOT, entry))!)!
    for (const symbol of checker.getExportsOfModule(module)) visit(symbol, `${entry.split("/")[0]}:${symbol.name}`, true)
  }
  return [...missing].sort()
}

const listed = (): Array<string> =>
  readFileSync(join(ROOT, "test/docs/missing-examples.txt"), "utf8").split("\n").map((l) => l.trim()).filter((l) => l.length > 0 && !l.startsWith("#")).sort()

describe("doc comments", () => {
  it("every public export has an @example, but for the ones still listed (a list that only shrinks)", () => {
    const missing = withoutExamples()
    const known = new Set(listed())
    const added = missing.filter((name) => !known.has(name))
    const gained = [...known].filter((name) => !missing.includes(name))
    expect(added, "public exports without an @example in their doc comment: add one").toEqual([])
    expect(gained, "these have an @example now: remove them from test/docs/missing-examples.txt").toEqual([])
  }, 120_000)
})
