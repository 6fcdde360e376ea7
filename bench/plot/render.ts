/**
 * Rendering figures (figures.ts) on the server: Vega-Lite compiles each spec
 * to Vega, Vega draws it as SVG without a browser, and resvg turns the SVG
 * into PNG.
 */
import { Resvg } from "@resvg/resvg-js"
import { parse, View } from "vega"
import { compile } from "vega-lite"
import type { Figure } from "./figures.ts"

/** The figure as an SVG document. */
export const toSvg = async (figure: Figure): Promise<string> => {
  const view = new View(parse(compile(figure.spec).spec), { renderer: "none" })
  try {
    return await view.toSVG()
  } finally {
    view.finalize()
  }
}

/** An SVG document as PNG, 1.5× its size (throws on SVG that does not parse). */
export const toPng = (svg: string): Uint8Array =>
  new Resvg(svg, { fitTo: { mode: "zoom", value: 1.5 }, font: { loadSystemFonts: true }, background: "white" }).render().asPng()
