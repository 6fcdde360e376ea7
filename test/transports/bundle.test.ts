/**
 * Ranks started from one bundle of their code and program (transports/Bundle.ts):
 * the cache, what a module keeps of its own inside a bundle, stacks mapped back
 * to the sources, and the fall-back to plain files wherever a bundle cannot be made.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync } from "node:fs"
import { SourceMap } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as World from "../../core/launching/World.ts"
import { bundle, BUNDLE_DIR_ENV, BUNDLE_ENV } from "../../transports/Bundle.ts"
import { lineTable, LineTable } from "../../transports/bundleStacks.ts"
import { importModule, PRELOADED } from "../../transports/preloaded.ts"
import { type NatsServer, startServer } from "../support/nats-server.ts"

const program = (name: string) => new URL(`../programs/${name}`, import.meta.url)
const WORKER = new URL("../../transports/shm/worker.ts", import.meta.url).href
const RUNNER = new URL("../../core/launching/runner.ts", import.meta.url).href
const BUNDLED = program("bundled.ts")

// A cache of this file's own, so that the first bundle is built here and not found.
const dir = mkdtempSync(join(tmpdir(), "rankflow-bundle-test-"))
process.env[BUNDLE_DIR_ENV] = dir
process.on("exit", () => rmSync(dir, { recursive: true, force: true }))

describe("a rank's bundle", () => {
  it("is built once, reused while its inputs are unchanged, and rebuilt when one changes", async () => {
    const request = { entry: WORKER, modules: [RUNNER, BUNDLED.href] }
    const first = await bundle(request)
    expect(first).toMatchObject({ _tag: "Bundled", built: true })
    const again = await bundle(request)
    expect(again).toEqual({ ...first, built: false })
    const manifest = JSON.parse(readFileSync((first as { path: string }).path.replace(/\.mjs$/, ".json"), "utf8"))
    const inputs = manifest.inputs.map((i: [string]) => i[0])
    expect(inputs).toContain(fileURLToPath(BUNDLED))
    expect(inputs).toContain(fileURLToPath(RUNNER))
    // Touched: another modification time counts as a change (one in the past: a file
    // modified after the build started is not trusted, and the bundle is built again).
    const earlier = new Date(Date.now() - 60_000)
    utimesSync(BUNDLED, earlier, earlier)
    expect(await bundle(request)).toMatchObject({ _tag: "Bundled", built: true })
    expect(await bundle(request)).toMatchObject({ _tag: "Bundled", built: false })
  })

  it("is not made with RANKFLOW_BUNDLE=0, for a module that is not a file, or for a program using import.meta.resolve", async () => {
    process.env[BUNDLE_ENV] = "0"
    try {
      expect(await bundle({ entry: WORKER, modules: [RUNNER] })).toEqual({ _tag: "Unbundled", reason: "RANKFLOW_BUNDLE=0" })
    } finally {
      delete process.env[BUNDLE_ENV]
    }
    expect(await bundle({ entry: WORKER, modules: ["data:text/javascript,export default 1"] })).toMatchObject({ _tag: "Unbundled" })
    const refused = await bundle({ entry: WORKER, modules: [RUNNER, program("meta-resolve.ts").href] })
    expect(refused).toEqual({ _tag: "Unbundled", reason: `${fileURLToPath(program("meta-resolve.ts"))} uses import.meta.resolve, which a bundle cannot keep` })
  })

  it("is not made in a cache directory that others may write to: the ranks would run what it holds", async () => {
    const open = mkdtempSync(join(tmpdir(), "rankflow-bundle-open-"))
    chmodSync(open, 0o777)
    process.env[BUNDLE_DIR_ENV] = open
    try {
      expect(await bundle({ entry: WORKER, modules: [RUNNER, BUNDLED.href] })).toEqual({
        _tag: "Unbundled",
        reason: `others may write to the bundle cache ${open} (mode 777)`
      })
      expect(readdirSync(open)).toEqual([])
    } finally {
      process.env[BUNDLE_DIR_ENV] = dir
      rmSync(open, { recursive: true, force: true })
    }
  })

  it.effect("leaves each module its own import.meta (url, filename, dirname) and its neighbours, on 1, 2, 4 and 8 ranks", () =>
    Effect.gen(function*() {
      for (const size of [1, 2, 4, 8]) {
        const results = yield* World.run<{ rank: number; url: string; filename: string; dirname: string; neighbour: string; bundled: boolean }>(
          { module: BUNDLED, export: "meta" },
          { size, prefixOutput: false }
        )
        expect(results.map((r) => r.rank)).toEqual([...Array(size).keys()])
        for (const r of results) {
          expect(r).toMatchObject({ bundled: true, url: BUNDLED.href, filename: fileURLToPath(BUNDLED), dirname: fileURLToPath(new URL(".", BUNDLED)).replace(/\/$/, "") })
          expect(r.neighbour).toBe(readFileSync(program("exits.ts"), "utf8").split("\n")[0])
        }
      }
    }))

  it.effect("runs with one copy of rankflow: the program finds the runner's Comm.World", () =>
    Effect.gen(function*() {
      expect(yield* World.run<number>({ module: BUNDLED, export: "size" }, { size: 3, prefixOutput: false })).toEqual([3, 3, 3])
    }))

  it.effect("reports a failing rank with a stack that names the program's file and line", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(World.run({ module: BUNDLED, export: "fails" }, { size: 2, prefixOutput: false }))
      const line = readFileSync(BUNDLED, "utf8").split("\n").findIndex((l) => l.includes("THROW_LINE")) + 1
      expect(error._tag).toBe("RankFailed")
      expect(`${error.message}\n${(error as { details?: string }).details}`).toContain(`${BUNDLED.href}:${line}:`)
      expect(`${error.message}\n${(error as { details?: string }).details}`).not.toContain("rankflow-bundle-test-")
    }))

  it.effect("a program a bundle cannot carry runs from its files", () =>
    Effect.gen(function*() {
      const [resolved] = yield* World.run<string>(program("meta-resolve.ts"), { size: 1, prefixOutput: false })
      expect(resolved).toBe(program("exits.ts").href)
    }))

  it.effect("with RANKFLOW_BUNDLE=0 the ranks start from their files, the same program giving the same results", () =>
    Effect.gen(function*() {
      process.env[BUNDLE_ENV] = "0"
      const results = yield* World.run<{ bundled: boolean; url: string }>({ module: BUNDLED, export: "meta" }, { size: 2, prefixOutput: false }).pipe(
        Effect.ensuring(Effect.sync(() => delete process.env[BUNDLE_ENV]))
      )
      expect(results.map((r) => [r.bundled, r.url])).toEqual([[false, BUNDLED.href], [false, BUNDLED.href]])
    }))

  it.effect("a world started for one program restarts plain ranks for another, which then runs", () =>
    Effect.scoped(Effect.gen(function*() {
      const world = yield* World.make({ size: 2, prefixOutput: false, programs: [{ module: BUNDLED, export: "meta" }] })
      const bundled = (results: ReadonlyArray<{ bundled: boolean }>) => results.map((r) => r.bundled)
      expect(bundled(yield* world.run<{ bundled: boolean }>({ module: BUNDLED, export: "meta" }))).toEqual([true, true])
      expect(yield* world.run(new URL("../../examples/hello.ts", import.meta.url))).toEqual([0, 1])
      expect(bundled(yield* world.run<{ bundled: boolean }>({ module: BUNDLED, export: "meta" }))).toEqual([false, false])
    })))
})

describe("a rank process's bundle (nats)", () => {
  let server: NatsServer
  beforeAll(async () => {
    server = await startServer()
  })
  afterAll(() => server.stop())
  const nats = () => ({ transport: "nats" as const, transportOptions: { servers: server.url }, prefixOutput: false })

  it.effect("leaves each module its own import.meta on 1, 2 and 4 rank processes", () =>
    Effect.gen(function*() {
      for (const size of [1, 2, 4]) {
        const results = yield* World.run<{ rank: number; url: string; filename: string; bundled: boolean }>({ module: BUNDLED, export: "meta" }, { size, ...nats() })
        expect(results.map((r) => [r.rank, r.bundled, r.url, r.filename])).toEqual([...Array(size).keys()].map((r) => [r, true, BUNDLED.href, fileURLToPath(BUNDLED)]))
      }
    }))

  it.effect("reports a failing rank process with a stack that names the program's file and line", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(World.run({ module: BUNDLED, export: "fails" }, { size: 2, ...nats() }))
      const line = readFileSync(BUNDLED, "utf8").split("\n").findIndex((l) => l.includes("THROW_LINE")) + 1
      expect(error._tag).toBe("RankFailed")
      expect(`${error.message}\n${(error as { details?: string }).details}`).toContain(`${BUNDLED.href}:${line}:`)
    }))
})

describe("importModule", () => {
  it("refuses, in a thread started from a bundle, a module the bundle does not hold", async () => {
    const table = new Map([["file:///a.ts", () => Promise.resolve({ a: 1 })]])
    const global = globalThis as { [PRELOADED]?: unknown }
    global[PRELOADED] = table
    try {
      expect(await importModule("file:///a.ts")).toEqual({ a: 1 })
      await expect(importModule("file:///b.ts")).rejects.toThrow("this rank was started from a bundle of file:///a.ts, which does not hold file:///b.ts")
    } finally {
      delete global[PRELOADED]
    }
  })
})

describe("the table of positions", () => {
  it("gives, for any position of a built bundle, what the bundler's source map gives", async () => {
    const built = await bundle({ entry: WORKER, modules: [RUNNER, BUNDLED.href] })
    const path = (built as { path: string }).path
    const payload = JSON.parse(readFileSync(`${path}.map`, "utf8"))
    const map = new SourceMap(payload)
    const generated = readFileSync(path, "utf8").split("\n")
    const table = new LineTable(`${path}.lines`)
    let compared = 0
    fc.assert(fc.property(fc.nat(generated.length - 1), fc.nat(400), (line, columnSeed) => {
      const column = columnSeed % Math.max(1, generated[line]!.length)
      const entry = map.findEntry(line, column) as { originalSource?: string; originalLine?: number; originalColumn?: number; generatedLine?: number }
      // Node's lookup falls back to an earlier line before a line's first segment; the table keeps to the line.
      if (entry.generatedLine !== line) return
      const origin = table.originOf(line, column)
      expect(origin && [payload.sources[origin.source], origin.line, origin.column]).toEqual([entry.originalSource, entry.originalLine, entry.originalColumn])
      compared++
    }), { numRuns: 500 })
    expect(compared).toBeGreaterThan(100)
  })

  it("decodes the mappings of a hand-made map: relative fields across lines, segments without a source, empty lines", () => {
    // Line 0: [0,0,0,0] and [4,0,0,6]; line 1: none; line 2: [2] (no source), then [8,1,3,0].
    const table = new Int32Array(lineTable("AAAA,IAAM;;E,MCGN").slice().buffer)
    expect(table[0]).toBe(3)
    expect([...table.slice(1, 5)]).toEqual([0, 2, 2, 3])
    expect([...table.slice(5)]).toEqual([0, 0, 0, 0, 4, 0, 0, 6, 8, 1, 3, 0])
  })
})
