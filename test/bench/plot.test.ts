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
