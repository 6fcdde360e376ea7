// Extract, transform, load: CSV-like lines are parsed and validated with a
// Schema by two replicas; lines that do not parse are skipped (each logged
// with its position, and counted), and the sales are summed by city.
// Run: npx rankflow run -n 4 examples/etl.ts [lines]
import { Effect, Option, Schema } from "effect"
import { Pipeline, Rank } from "rankflow"

const Sale = Schema.Struct({ city: Schema.NonEmptyString, amount: Schema.Finite, units: Schema.Int })
type Sale = typeof Sale.Type
const decodeSale = Schema.decodeUnknownSync(Sale)

const CITIES = ["Lyon", "Oslo", "Porto", "Turin", "Ghent"]

/** `city,amount,units` lines; every 97th is broken in one of three ways. */
export function* salesLines(n: number): Generator<string> {
  for (let i = 0; i < n; i++) {
    if (i % 97 === 13) yield [`${CITIES[i % 5]},lots,3`, "", `,12.5,1`][i % 3]!
    else yield `${CITIES[i % 5]},${((i * 37) % 1000) / 10},${1 + (i % 4)}`
  }
}

export const parseSale = (line: string): Sale => {
  const [city, amount, units] = line.split(",")
  return decodeSale({ city, amount: Number(amount), units: Number(units) })
}

Rank.main(Effect.gen(function*() {
  const n = Number(process.argv[2] ?? 10_000)
  const totals = Pipeline.source("lines", { [Symbol.iterator]: () => salesLines(n) }).pipe(
    Pipeline.map("parse", parseSale, { replicas: 2, onError: "skip", schema: Sale }),
    Pipeline.keyBy("byCity", (sale: Sale) => sale.city, Pipeline.sum((sale: Sale) => sale.amount), { replicas: 2 }),
    Pipeline.collect("totals")
  )
  const { result, stats } = yield* Pipeline.runWithStats(totals)
  const skipped = stats.filter((s) => s.stage === "parse").reduce((k, s) => k + s.skipped, 0)
  if (Option.isSome(result)) {
    for (const [city, total] of result.value) yield* Effect.log(`${city}: ${total.toFixed(1)}`)
    yield* Effect.log(`${skipped} bad lines skipped`)
    return { totals: Object.fromEntries(result.value), skipped }
  }
}))
