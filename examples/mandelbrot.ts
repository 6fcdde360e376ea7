// The Mandelbrot set, row by row on a pool of worker ranks, assembled at the
// master into a PGM image (a grey level per pixel: how fast the point escapes).
// Run: npx rankflow run -n 5 --pool examples/mandelbrot.ts [out.pgm] [width] [height]
import { Effect, Stream } from "effect"
import { writeFileSync } from "node:fs"
import { PoolExecutor, Rank, Task } from "rankflow"

const MAX_ITERATIONS = 255

/** Row `y` of a `width`×`height` picture of [-2, 1]×[-1.5, 1.5]: escape times as grey levels. */
export const row = Task.define(import.meta.url, "row", ([y, width, height]: readonly [number, number, number]) => {
  const pixels = new Uint8Array(width)
  const ci = -1.5 + (3 * y) / height
  for (let x = 0; x < width; x++) {
    const cr = -2 + (3 * x) / width
    let zr = 0
    let zi = 0
    let n = 0
    while (n < MAX_ITERATIONS && zr * zr + zi * zi <= 4) {
      const t = zr * zr - zi * zi + cr
      zi = 2 * zr * zi + ci
      zr = t
      n++
    }
    pixels[x] = MAX_ITERATIONS - n // the set itself is black
  }
  return pixels
})

Rank.main(Effect.gen(function*() {
  const [out = "mandelbrot.pgm", w = "600", h = "400"] = process.argv.slice(2)
  const width = Number(w)
  const height = Number(h)
  const pool = yield* PoolExecutor.make()
  const rows = yield* Stream.runCollect(pool.map(row, Array.from({ length: height }, (_, y) => [y, width, height] as const), { chunksize: 8 }))
  const image = new Uint8Array(width * height)
  rows.forEach((pixels, y) => image.set(pixels, y * width))
  writeFileSync(out, Buffer.concat([Buffer.from(`P5\n${width} ${height}\n255\n`), image]))
  yield* Effect.log(`wrote ${out}: ${width}×${height}, ${height} rows from ${pool.numWorkers} workers`)
  return out
}))
