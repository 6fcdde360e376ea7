/**
 * The rooted algorithms over point-to-point messages, along a k-nomial tree
 * rooted anywhere: broadcast, gather, scatter and reduce. The collectives
 * that run without a board (NATS, the point-to-point fallback) use them
 * directly or compose them (allgather: gather then broadcast; allreduce:
 * reduce then broadcast; reduce-scatter: reduce then scatter), so no
 * collective's file imports another's.
 */
import { Effect } from "effect"
import { decodeError } from "../../codecs/errors.ts"
import type { Encoded } from "../messaging/Message.ts"
import type { SendFailure } from "../messaging/PointToPoint.ts"
import { pack, unpack } from "./bundle.ts"
import { attempt } from "./checks.ts"
import { type Call, post, recv, send, shareable, startSend, wait, waitEach } from "./link.ts"
import type { Reduction } from "./reduction.ts"
import { absolute, knomial, relative, sendOrder } from "./tree.ts"

/** Broadcasts `message` (given at the root) along a k-nomial tree and returns it on every rank. */
export const bcastTree = (call: Call, root: number, message: Encoded | undefined, k: number): Effect.Effect<Encoded, SendFailure> =>
  Effect.gen(function*() {
    const { c } = call
    const p = c.size
    const node = knomial(relative(c.rank, root, p), p, k)
    const m = node.parent < 0 ? message! : yield* recv(call, absolute(node.parent, root, p))
    if (node.children.length > 0) {
      const out = shareable(c, m)
      const sends = []
      for (const child of sendOrder(node)) sends.push(startSend(call, absolute(child.rel, root, p), out))
      yield* waitEach(sends)
    }
    return m
  })

/** Gathers every rank's item at the root (by rank) along a k-nomial tree; other ranks get undefined. */
export const gatherTree = (call: Call, root: number, item: Encoded, k: number) =>
  Effect.gen(function*() {
    const { c } = call
    const p = c.size
    const node = knomial(relative(c.rank, root, p), p, k)
    // Children send in any order; their bundles are appended in ascending order of rank.
    const incoming = node.children.map((child) => post(call, absolute(child.rel, root, p)))
    const items: Array<Encoded> = [item]
    for (let i = 0; i < node.children.length; i++) {
      const child = node.children[i]!
      const message = yield* wait(incoming[i]!)
      const received = yield* attempt(() => unpack(message))
      if (received.length !== child.size) {
        return yield* Effect.fail(decodeError("bundle", 0, `${call.name}: rank ${absolute(child.rel, root, p)} sent ${received.length} items for a subtree of ${child.size}`))
      }
      for (const r of received) items.push(r)
    }
    if (node.parent >= 0) {
      yield* send(call, absolute(node.parent, root, p), shareable(c, pack(items)))
      return undefined
    }
    const byRank = new Array<Encoded>(p)
    for (let k = 0; k < p; k++) byRank[absolute(k, root, p)] = items[k]!
    return byRank
  })

/**
 * The reduction of every rank's `value` at the root (undefined elsewhere)
 * along a k-nomial tree; `count`: elements per buffer.
 */
export const reduceTree = <T>(call: Call, root: number, red: Reduction<T>, value: T, count: number, k: number) =>
  Effect.gen(function*() {
    const { c } = call
    const p = c.size
    const top = red.op.commutative ? root : 0
    const node = knomial(relative(c.rank, top, p), p, k)
    const incoming = node.children.map((child) => red.post(absolute(child.rel, top, p), count, false))
    const last = c.rank === root && top !== root ? red.post(top, count, true) : undefined
    let acc = value
    let owned = false
    // Children hold the ranks just above this one, in ascending order: acc op child keeps rank order.
    for (let i = 0; i < incoming.length; i++) {
      const v = yield* incoming[i]!.wait
      const before = acc
      acc = yield* attempt(() => red.combine(before, v, owned ? before : undefined))
      owned = true
      red.done(v)
    }
    if (node.parent >= 0) {
      yield* send(call, absolute(node.parent, top, p), red.encode(acc))
    } else if (top !== root) {
      yield* send(call, root, red.encode(acc))
    }
    if (c.rank !== root) return undefined
    return last === undefined ? acc : yield* last.wait
  })

/** Scatters the root's items (one per rank, by rank) along a k-nomial tree and returns this rank's. */
export const scatterTree = (call: Call, root: number, items: ReadonlyArray<Encoded> | undefined, k: number) =>
  Effect.gen(function*() {
    const { c } = call
    const p = c.size
    const rel = relative(c.rank, root, p)
    const node = knomial(rel, p, k)
    // `mine[i]` is the item of relative rank rel + i.
    let mine: ReadonlyArray<Encoded>
    if (node.parent < 0) {
      const rotated = new Array<Encoded>(p)
      for (let i = 0; i < p; i++) rotated[i] = items![absolute(i, root, p)]!
      mine = rotated
    } else {
      const parent = absolute(node.parent, root, p)
      const message = yield* recv(call, parent)
      mine = yield* attempt(() => unpack(message))
      const expected = 1 + node.children.reduce((n, child) => n + child.size, 0)
      if (mine.length !== expected) {
        return yield* Effect.fail(decodeError("bundle", 0, `${call.name}: rank ${parent} sent ${mine.length} items for a subtree of ${expected}`))
      }
    }
    if (node.children.length > 0) {
      const sends = []
      for (const child of sendOrder(node)) {
        const from = child.rel - rel
        sends.push(startSend(call, absolute(child.rel, root, p), shareable(c, pack(mine.slice(from, from + child.size)))))
      }
      yield* waitEach(sends)
    }
    return mine[0]!
  })
