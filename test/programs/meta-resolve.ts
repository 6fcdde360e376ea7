// A program that a bundle cannot carry (import.meta.resolve means resolving from
// this file at run time): its ranks start from their files, and it runs all the same.
import { Effect } from "effect"

export default Effect.sync(() => import.meta.resolve("./exits.ts"))
