/**
 * The docs' code runs as written: every TypeScript snippet of README.md and
 * docs/*.md that is a whole file (it has imports) is extracted, type-checked
 * with the project's settings, and, where it is a rank program
 * (`Rank.main`), run through the real CLI on four ranks (or the number its
 * own `run -n` comment names).
 */
import { execFileSync } from "node:child_process"
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { rankflow, ROOT } from "../support/cli.ts"

const DIR = join(ROOT, "test/docs/snippets")

interface Snippet {
  readonly doc: string
  readonly file: string
  readonly code: string
}

const snippets: Array<Snippet> = []
for (const doc of ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)]) {
  const text = readFileSync(join(ROOT, doc), "utf8")
  let k = 0
  for (const m of text.matchAll(/```ts\n([\s\S]*?)```/g)) {
    const code = m[1]!
    if (!/^import /m.test(code)) continue // a fragment inside a program, not a file
    snippets.push({ doc, file: `${doc.replace(/[/.]/g, "_")}_${++k}.ts`, code })
  }
}

let typeErrors = ""
beforeAll(() => {
  rmSync(DIR, { recursive: true, force: true })
  mkdirSync(DIR, { recursive: true })
  for (const s of snippets) writeFileSync(join(DIR, s.file), s.code)
  writeFileSync(join(DIR, "tsconfig.json"), JSON.stringify({
    extends: "../../../tsconfig.json",
    // Snippets show values without always using them.
    compilerOptions: { noUnusedLocals: false, noUnusedParameters: false },
    include: ["*.ts"],
    exclude: []
  }))
  try {
    execFileSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", DIR], { cwd: ROOT, encoding: "utf8" })
  } catch (e) {
    typeErrors = String((e as { stdout?: string }).stdout ?? e)
  }
}, 120_000)

describe("the docs' snippets", () => {
  it("there are whole-file snippets to check", () => {
    expect(snippets.length).toBeGreaterThanOrEqual(10)
  })

  for (const s of snippets) {
    it(`${s.doc}: ${s.code.split("\n").find((l) => l.trim() !== "" && !l.startsWith("import"))?.trim().slice(0, 60)} … type-checks`, () => {
      const mine = typeErrors.split("\n").filter((l) => l.includes(s.file))
      expect(mine).toEqual([])
    })
    if (s.code.includes("Rank.main(")) {
      // A snippet that needs a number of ranks says so in a comment (`run -n 8`); 4 otherwise.
      const ranks = /run -n (\d+)/.exec(s.code)?.[1] ?? "4"
      // …and room for the ranks it spawns (`--universe 5`).
      const universe = /run -n \d+ --universe (\d+)/.exec(s.code)?.[1]
      it(`${s.doc}: the rank program runs on ${ranks} ranks through the CLI (${s.file})`, async () => {
        const r = await rankflow(["run", "-n", ranks, ...(universe === undefined ? [] : ["--universe", universe]), `test/docs/snippets/${s.file}`])
        expect(r.stderr).not.toContain("failed")
        expect(r.code).toBe(0)
      }, 120_000)
    }
  }
})
