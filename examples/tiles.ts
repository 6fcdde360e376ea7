// Numeric tiles through a pipeline: each tile's pixels are a Float32Array,
// which crosses ranks on the buffer path (no encoding of the numbers). Four
// replicas blur the tiles, two make a histogram of each, and rank 0 adds the
// histograms up.
// Run: npx rankflow run -n 4 examples/tiles.ts [tiles]
import { Effect, Option } from "effect"
import { Pipeline, Rank } from "rankflow"
import { addHistograms, BINS, blur, histogram, type Tile, tileAt } from "./image.ts"

Rank.main(Effect.gen(function*() {
  const tiles = Number(process.argv[2] ?? 64)
  const total = Pipeline.source("tiles", Array.from({ length: tiles }, (_, i) => i)).pipe(
    Pipeline.map("load", tileAt, { replicas: 2 }),
    Pipeline.map("blur", blur, { replicas: 4 }),
    Pipeline.map("histogram", (tile: Tile) => histogram(tile), { replicas: 2 }),
    Pipeline.foldTo("total", new Uint32Array(BINS), addHistograms)
  )
  const result = yield* Pipeline.run(total, { batchSize: 4 })
  if (Option.isSome(result)) {
    yield* Effect.log(`histogram of ${tiles} blurred tiles: ${result.value.join(" ")}`)
    return result.value
  }
}))
