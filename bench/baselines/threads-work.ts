/**
 * The ceiling for the pipeline benchmark's CPU-bound map: plain worker
 * threads, each looping over its share of the items with the same function,
 * with no framework, no messages and no scheduling in between. Each warms
 * the function up first and says "ready"; the timing starts at "go".
 */
import { parentPort, workerData } from "node:worker_threads"
import { work } from "../programs/work.ts"

const { from, to, iterations } = workerData as { from: number; to: number; iterations: number }
let warm = 0
const t0 = performance.now()
while (performance.now() - t0 < 100) warm ^= work(warm, iterations)
parentPort!.postMessage("ready")
parentPort!.once("message", () => {
  let acc = 0
  for (let i = from; i < to; i++) acc = (acc + work(i, iterations)) | 0
  parentPort!.postMessage(acc)
})
