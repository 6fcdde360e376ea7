/** piscina's worker for the futures benchmark: a tiny task (the identity) or fib(n). */
import { fib } from "../programs/fib.ts"

export default (task: { readonly kind: "identity" | "fib"; readonly x: number }): number => (task.kind === "identity" ? task.x : fib(task.x))
