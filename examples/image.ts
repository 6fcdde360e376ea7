// The image the tiles example works on, and what it does to each tile: a
// plain function of the tile's index, the same on every rank and every run.

export const TILE = 64
export const BINS = 16

export interface Tile {
  readonly index: number
  readonly pixels: Float32Array
}

/** Tile `index` of a synthetic image: smooth waves plus deterministic noise, values in [0, 1). */
export const tileAt = (index: number): Tile => {
  const pixels = new Float32Array(TILE * TILE)
  let x = index + 1
  for (let i = 0; i < pixels.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0
    const wave = 0.5 + 0.35 * Math.sin((i % TILE) / 9 + index) * Math.cos(Math.floor(i / TILE) / 7)
    pixels[i] = Math.min(0.999, Math.max(0, wave + ((x >>> 8) % 1000) / 10000 - 0.05))
  }
  return { index, pixels }
}

/** A 3×3 box blur inside the tile (edges use the pixels that exist). */
export const blur = (tile: Tile): Tile => {
  const src = tile.pixels
  const out = new Float32Array(src.length)
  for (let r = 0; r < TILE; r++) {
    for (let c = 0; c < TILE; c++) {
      let sum = 0
      let n = 0
      for (let dr = -1; dr <= 1; dr++) {
        for (let dc = -1; dc <= 1; dc++) {
          const rr = r + dr
          const cc = c + dc
          if (rr >= 0 && rr < TILE && cc >= 0 && cc < TILE) {
            sum += src[rr * TILE + cc]!
            n++
          }
        }
      }
      out[r * TILE + c] = sum / n
    }
  }
  return { index: tile.index, pixels: out }
}

/** How many of the tile's pixels fall in each of BINS equal bins of [0, 1). */
export const histogram = (tile: Tile): Uint32Array => {
  const bins = new Uint32Array(BINS)
  for (const v of tile.pixels) bins[Math.min(BINS - 1, Math.floor(v * BINS))]!++
  return bins
}

export const addHistograms = (a: Uint32Array, b: Uint32Array): Uint32Array => a.map((v, i) => v + b[i]!)
