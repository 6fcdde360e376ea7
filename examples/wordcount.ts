// Word count as a pipeline of actors: one source reads the lines, two
// replicas split them into words, four count the words by key (a word always
// meets the same replica), and rank 0 collects the counts.
// Run: npx rankflow run -n 8 examples/wordcount.ts [words]
import { Effect, Option, Schema, Stream } from "effect"
import { Pipeline, Rank } from "rankflow"
import { corpus } from "./corpus.ts"

Rank.main(Effect.gen(function*() {
  const words = Number(process.argv[2] ?? 100_000)
  const counts = Pipeline.source("lines", Stream.fromIterable({ [Symbol.iterator]: () => corpus(words) }), { schema: Schema.String }).pipe(
    Pipeline.flatMap("split", (line: string) => line.split(/\W+/).filter(Boolean), { replicas: 2 }),
    Pipeline.keyBy("count", (word: string) => word, Pipeline.count(), { replicas: 4 }),
    Pipeline.collect("result")
  )
  const result = yield* Pipeline.run(counts)
  if (Option.isSome(result)) {
    const top = [...result.value].sort((a, b) => b[1] - a[1]).slice(0, 3)
    yield* Effect.log(`${result.value.size} distinct words; most frequent: ${top.map(([w, n]) => `${w} ${n}`).join(", ")}`)
    return Object.fromEntries(result.value)
  }
}))
