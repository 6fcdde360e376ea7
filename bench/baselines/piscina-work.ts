/**
 * piscina's worker for the pipeline benchmark's baseline: the same CPU-bound
 * function, one task per item or per batch of items.
 */
import { work } from "../programs/work.ts"

export default (task: { readonly items: ReadonlyArray<number> | number; readonly iterations: number }): number => {
  if (typeof task.items === "number") return work(task.items, task.iterations)
  let acc = 0
  for (const x of task.items) acc = (acc + work(x, task.iterations)) | 0
  return acc
}
