/**
 * The CPU-bound function the pipeline benchmark maps over its items (the same
 * in the pipeline, in one thread and in piscina's workers): `iterations`
 * rounds of arithmetic that the JIT cannot skip. The driver calibrates
 * `iterations` to about 50 µs on the machine it runs on.
 */
export const work = (x: number, iterations: number): number => {
  let h = x | 0
  for (let i = 0; i < iterations; i++) h = (Math.imul(h ^ i, 0x01000193) + (h >>> 13)) | 0
  return h
}

/** Iterations of `work` that take about `micros` µs here (after warming the function up, as the runs will have). */
export const calibrate = (micros: number): number => {
  let sink = 0
  const t = performance.now()
  while (performance.now() - t < 200) sink ^= work(sink, 1000)
  let iterations = 1000
  for (let round = 0; round < 4; round++) {
    const t0 = performance.now()
    let calls = 0
    while (performance.now() - t0 < 50) {
      sink ^= work(calls++, iterations)
    }
    const each = ((performance.now() - t0) * 1000) / calls
    iterations = Math.max(1, Math.round((iterations * micros) / each))
  }
  if (sink === 0.5) console.log(sink)
  return iterations
}
