/**
 * `npm run bench:plot`: every results file in bench/results has figures,
 * and each renders to SVG that an SVG renderer (resvg) reads and draws.
 */
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { figuresOf } from "../../bench/plot/figures.ts"
import { toPng, toSvg } from "../../bench/plot/render.ts"
import { ROOT } from "../support/cli.ts"

const RESULTS = join(ROOT, "bench/results")
const files = readdirSync(RESULTS).filter((f) => f.endsWith(".json")).sort()
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

describe("bench:plot", () => {
  it("there are results to plot", () => {
    expect(files.length).toBeGreaterThanOrEqual(10)
  })

  it.each(files)("%s gives figures that render to valid SVG (and PNG)", async (file) => {
    const figures = figuresOf(file.slice(0, -".json".length), JSON.parse(readFileSync(join(RESULTS, file), "utf8")))
    expect(figures, `no figures for ${file}: add them in bench/plot/figures.ts`).toBeDefined()
    expect(figures!.length).toBeGreaterThan(0)
    for (const figure of figures!) {
      const svg = await toSvg(figure)
      expect(svg.startsWith("<svg")).toBe(true)
      expect(svg).toContain("</svg>")
      // Some data drawn: marks with paths or symbols, not an empty frame.
      expect(svg).toMatch(/<path [^>]*d="M[^"]{20,}/)
      expect(Array.from(toPng(svg).subarray(0, 8))).toEqual(PNG_SIGNATURE)
    }
  })
})

describe("bench:plot of vs-openmpi", () => {
  it("gives the ping-pong of each job its own panel (2 of 4 ranks is not the 2-rank job's)", () => {
    const row = (jobRanks: number, mean: number) => ({ figure: "pingpong", bytes: 8, ranks: 2, jobRanks, openmpi: { mean: 1 }, rankflow: { mean } })
    const [figure] = figuresOf("vs-openmpi", { rows: [row(2, 1.5), row(4, 2.5)] })!
    const values = (figure!.spec as { data: { values: Array<{ figure: string; micros: number; implementation: string }> } }).data.values
    expect(values.filter((v) => v.implementation === "rankflow").map((v) => [v.figure, v.micros])).toEqual([["pingpong (2 ranks)", 1.5], ["pingpong (2 of 4 ranks)", 2.5]])
  })
})
