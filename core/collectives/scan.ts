/**
 * Inclusive and exclusive scans by recursive doubling: in round k rank r
 * exchanges the reduction of its aligned block of 2^k ranks with r xor 2^k
 * (when that rank exists); a partner below r contributes to r's prefix. The
 * lower block is always the left operand, so non-commutative ops are applied
 * in rank order.
 *
 * Cost: ceil(log2 p)·(α + β·n + 2·γ·n).
 */
import { Effect } from "effect"
import type { CommState } from "../comm/CommState.ts"
import type { Op } from "../op/Op.ts"
import { attempt } from "./checks.ts"
import type { CollectiveFailure } from "./errors.ts"
import { type Call, send } from "./link.ts"
import type { ScanOptions } from "./options.ts"
import { bufferReduction, bufferResult, prepare, type Reduction } from "./reduction.ts"

/**
 * Rank r's `x0 op … op xr` (inclusive) or `x0 op … op x(r-1)` (exclusive,
 * undefined at rank 0).
 */
export const recursiveDoubling = <T>(call: Call, red: Reduction<T>, value: T, count: number, exclusive: boolean) =>
  Effect.gen(function*() {
    const { c } = call
    const p = c.size
    const r = c.rank
    let partial = value
    let partialOwned = false
    let prefix: T | undefined = exclusive ? undefined : value
    let prefixOwned = false
    for (let mask = 1; mask < p; mask <<= 1) {
      const partner = r ^ mask
      if (partner >= p) continue
      // A partner below r contributes to the prefix; the first such contribution of an exscan becomes it.
      const incoming = red.post(partner, count, partner < r && prefix === undefined)
      yield* send(call, partner, red.encode(partial))
      const v = yield* incoming.wait
      yield* attempt(() => {
        const before = partial
        if (partner < r) {
          partial = red.combine(v, before, partialOwned ? before : undefined)
          if (prefix === undefined) prefix = v
          else {
            prefix = red.combine(v, prefix, prefixOwned ? prefix : undefined)
            red.done(v)
          }
          prefixOwned = true
        } else {
          partial = red.combine(before, v, partialOwned ? before : undefined)
          red.done(v)
        }
        partialOwned = true
      })
    }
    return prefix
  })

const scan = (name: string, exclusive: boolean) =>
(c: CommState, value: unknown, opArg: Op, options: ScanOptions | undefined): Effect.Effect<unknown, CollectiveFailure> => {
  const p = prepare(c, name, value, opArg, options)
  if (p.form === "value") return recursiveDoubling(p.call, p.red, value, 0, exclusive)
  const { buffer, into } = p
  return Effect.map(
    recursiveDoubling(p.call, bufferReduction(p), buffer, buffer.length, exclusive),
    (result) => result === undefined ? undefined : bufferResult(result, buffer, into)
  )
}

/** `scan(value, op, { codec, into })`: rank r gets `x0 op … op xr`. */
export const startInclusive = scan("scan", false)

/** `exscan(value, op, { codec, into })`: rank r gets `x0 op … op x(r-1)`; rank 0 gets undefined. */
export const startExclusive = scan("exscan", true)
