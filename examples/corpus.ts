// The text the pipeline examples count: lines of words from a fixed-seed
// generator, so that every run (and every rank) sees the same corpus.
const VOCABULARY = ["the", "actor", "rank", "message", "stream", "pipeline", "codec", "credit", "batch", "key", "window", "sink"]

/** Lines of 10 words from a fixed-seed generator: the same corpus on every run. */
export function* corpus(words: number, seed = 42): Generator<string> {
  let x = seed
  const next = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8
  for (let done = 0; done < words; done += 10) {
    const line: Array<string> = []
    for (let i = 0; i < Math.min(10, words - done); i++) line.push(VOCABULARY[next() % VOCABULARY.length]! + (next() % 97))
    yield line.join(" ")
  }
}

