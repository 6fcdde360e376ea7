// Counting the primes below 10⁷ with a pool of worker ranks: the range is cut
// into blocks, `map` sends them to the workers (a few per message), and each
// worker sieves its block. Run it like `python -m mpi4py.futures`:
// Run: npx rankflow run -n 5 --pool examples/pool-primes.ts [limit]
import { Effect, Stream } from "effect"
import { PoolExecutor, Rank, Task } from "rankflow"

/** How many primes lie in [low, high): a sieve of the block by the primes up to √high. */
export const primesIn = Task.define(import.meta.url, "primesIn", ([low, high]: readonly [number, number]) => {
  const composite = new Uint8Array(high - low)
  for (let p = 2; p * p < high; p++) {
    for (let m = Math.max(p * p, Math.ceil(low / p) * p); m < high; m += p) composite[m - low] = 1
  }
  let count = 0
  for (let n = Math.max(low, 2); n < high; n++) if (composite[n - low] === 0) count++
  return count
})

Rank.main(Effect.gen(function*() {
  const limit = Number(process.argv[2] ?? 10_000_000)
  const block = 250_000
  const blocks = Array.from({ length: Math.ceil(limit / block) }, (_, i) => [i * block, Math.min(limit, (i + 1) * block)] as const)
  const pool = yield* PoolExecutor.make()
  const counts = yield* Stream.runCollect(pool.map(primesIn, blocks, { chunksize: 2 }))
  const total = counts.reduce((a, b) => a + b, 0)
  yield* Effect.log(`${total} primes below ${limit}, counted in ${blocks.length} blocks by ${pool.numWorkers} workers`)
  return total
}))
