/**
 * Plots of every benchmark's results: reads bench/results/*.json and writes
 * SVG and PNG figures to docs/plots/ (shown in docs/benchmarks.md), with
 * their baselines where the file has them (Open MPI, piscina, msgpackr, …).
 *
 * Run: npm run bench:plot [-- --out <dir>]
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { figuresOf } from "./plot/figures.ts"
import { toPng, toSvg } from "./plot/render.ts"

const results = fileURLToPath(new URL("./results/", import.meta.url))
const outAt = process.argv.indexOf("--out")
const out = outAt >= 0 ? process.argv[outAt + 1]! : fileURLToPath(new URL("../docs/plots/", import.meta.url))
mkdirSync(out, { recursive: true })

let written = 0
const unplotted: Array<string> = []
for (const file of readdirSync(results).filter((f) => f.endsWith(".json")).sort()) {
  const stem = file.slice(0, -".json".length)
  const figures = figuresOf(stem, JSON.parse(readFileSync(join(results, file), "utf8")))
  if (figures === undefined) {
    unplotted.push(file)
    continue
  }
  for (const figure of figures) {
    const svg = await toSvg(figure)
    writeFileSync(join(out, `${figure.name}.svg`), svg)
    writeFileSync(join(out, `${figure.name}.png`), toPng(svg))
    written++
    console.log(`${file} → ${figure.name}.svg, .png`)
  }
}
console.log(`wrote ${written} figures to ${out}`)
if (unplotted.length > 0) {
  console.error(`no figures defined for ${unplotted.join(", ")} (add them in bench/plot/figures.ts)`)
  process.exitCode = 1
}
