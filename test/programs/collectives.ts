/**
 * Rank programs for the collectives conformance suite
 * (test/core/collectives.test.ts), in the spirit of mpi4py's test_cco_obj.py
 * and test_cco_buf.py. Each suite takes the communicator to test, so that it
 * runs unchanged on the world, a dup or a split: `world(name)` runs suite
 * `name` on the world communicator; a wrapper for another communicator is
 * one line (see `world`). Every rank checks its own results; a failed check
 * fails the rank with a message naming the check.
 */
import { Effect, Option } from "effect"
import { Comm, Op, Request } from "rankflow"
import * as Datatype from "../../codecs/Datatype.ts"
import type { TypedArray } from "../../codecs/Datatype.ts"
import { check, checkEqual } from "./check.ts"

type Suite = (comm: Comm.Comm) => Effect.Effect<unknown, unknown>

// ---------------------------------------------------------------------------
// Payloads

/** mpi4py's basic messages, in TypeScript terms (bigints for Python's big ints, no complex numbers). */
const basic: ReadonlyArray<unknown> = [null, true, false, -7, 0, 7, 2 ** 31, -(2n ** 63n) + 1n, 2n ** 63n - 1n, -2.17, 0.0, 1.62, "mpi4py"]

/** The basic messages, then a list of them and a dictionary of them (mpi4py's `messages`). */
export const messages: ReadonlyArray<unknown> = [
  ...basic,
  [...basic],
  Object.fromEntries(basic.map((v, k) => [`k${k}`, v]))
]

const ranks = (size: number) => Array.from({ length: size }, (_, i) => i)

/** `n` elements of datatype `d` that depend on `seed`, in `[base, base + modulus)`: small enough for every class. */
const sample = (d: Datatype.Datatype, n: number, seed: number, modulus = 100, base = 0): TypedArray => {
  const a = new d.ctor(n) as TypedArray
  const big = d.name === "int64" || d.name === "uint64"
  for (let i = 0; i < n; i++) {
    const v = base + ((seed * 7 + i * 3) % modulus)
    a[i] = (big ? BigInt(v) : v) as never
  }
  return a
}

const plain = (a: TypedArray | undefined): unknown => (a === undefined ? undefined : Array.from(a as ArrayLike<unknown>))

const sameBuffer = (actual: TypedArray | undefined, expected: TypedArray, what: string) =>
  Effect.andThen(
    check(actual !== undefined && Datatype.of(actual) === Datatype.of(expected), `${what}: a ${Datatype.of(expected).ctor.name}`),
    checkEqual(plain(actual), plain(expected), what)
  )

const concat = (d: Datatype.Datatype, parts: ReadonlyArray<TypedArray>): TypedArray => {
  const out = new d.ctor(parts.reduce((n, p) => n + p.length, 0)) as TypedArray
  let at = 0
  for (const p of parts) {
    out.set(p as never, at)
    at += p.length
  }
  return out
}

// ---------------------------------------------------------------------------
// Non-commutative ops: their results show the order contributions were combined in

/** String concatenation: the result spells the ranks in the order they were combined. */
const concatOp = Op.make((a: string, b: string) => `${a}${b}`)

type Matrix = readonly [number, number, number, number]
const matmul = ([a, b, c, d]: Matrix, [e, f, g, h]: Matrix): Matrix => [a * e + b * g, a * f + b * h, c * e + d * g, c * f + d * h]
/** 2x2 matrix product (row-major), exact in doubles for these small entries. */
const matmulOp = Op.make(matmul)
const matrixOf = (r: number): Matrix => [1, r + 1, r % 3, 1]

/**
 * Composition of affine maps x → m·x + c, stored as (m, c) pairs in a buffer
 * and combined whole: associative, not commutative.
 */
const affineOp = Op.make((a: number, _b: number) => a, {
  name: "affine",
  buffer: (left, right, out) => {
    const l = left as Float64Array
    const r = right as Float64Array
    const o = out as Float64Array
    for (let i = 0; i + 1 < o.length; i += 2) {
      const m = l[i]! * r[i]!
      const c = l[i + 1]! * r[i]! + r[i + 1]!
      o[i] = m
      o[i + 1] = c
    }
  }
})
const affineOf = (r: number, n: number): Float64Array => {
  const a = new Float64Array(2 * n)
  for (let i = 0; i < n; i++) {
    a[2 * i] = ((r + i) % 2) + 1
    a[2 * i + 1] = (r * 3 + i) % 5
  }
  return a
}

/** Elementwise (x, y) → y: associative, not commutative: the result is the highest rank's. */
const lastOp = Op.make((_a: number, b: number) => b)

/** The fold of `xs` in order with `op` (the reference for reductions). */
const fold = <A>(op: Op.Op, xs: ReadonlyArray<A>): A => xs.reduce((acc, x) => op.combine(acc, x))
const foldBuffers = (op: Op.Op, xs: ReadonlyArray<TypedArray>): TypedArray => xs.reduce((acc, x) => Op.reduceLocal(op, acc, x))

// ---------------------------------------------------------------------------
// Suites

const barrier: Suite = (comm) =>
  Effect.gen(function*() {
    for (let i = 0; i < 3; i++) yield* comm.barrier()
    // Nobody may leave before the last rank has entered: every other rank tells the last one that it
    // left, and the last one, entering late, must not have heard from anyone yet. (Events, not clocks:
    // the ranks of a NATS job are processes whose clocks differ by milliseconds.)
    const last = comm.size - 1
    const LEFT = 77_001
    if (comm.rank === last) {
      yield* Effect.sleep(30)
      const early = yield* comm.iprobe({ tag: LEFT })
      yield* check(Option.isNone(early), `rank ${Option.isSome(early) ? early.value.source : "?"} left the barrier before the last rank entered`)
      yield* comm.barrier()
      for (let r = 0; r < last; r++) yield* comm.recv({ tag: LEFT })
    } else {
      yield* comm.barrier()
      yield* comm.send("left", { dest: last, tag: LEFT })
    }
    yield* Request.wait(yield* comm.ibarrier())
  })

const bcast: Suite = (comm) =>
  Effect.gen(function*() {
    for (const root of ranks(comm.size)) {
      for (const m of messages) {
        const got = yield* comm.bcast(comm.rank === root ? m : undefined, { root })
        yield* checkEqual(got, m, `bcast of ${String(m)} from ${root}`)
      }
      for (const d of Datatype.all) {
        const data = sample(d, 5, root)
        const got = yield* comm.bcast(comm.rank === root ? data : undefined, { root })
        yield* sameBuffer(got as TypedArray, data, `bcast of ${d.name} from ${root}`)
        const into = new d.ctor(5) as TypedArray
        const got2 = yield* comm.bcast(comm.rank === root ? data : undefined, { root, into })
        yield* check(got2 === into, "bcast with into returns into")
        yield* sameBuffer(into, data, `bcast of ${d.name} into a buffer from ${root}`)
      }
      // A typed array with a codec named travels as a value.
      const asValue = yield* comm.bcast(comm.rank === root ? new Int16Array([1, -2]) : undefined, { root, codec: "pickle" })
      yield* sameBuffer(asValue as TypedArray, new Int16Array([1, -2]), "bcast of a typed array as a value")
      yield* checkEqual(yield* comm.bcast(comm.rank === root ? [new Float32Array(0)] : undefined, { root }), [new Float32Array(0)], "empty typed array inside a value")
    }
    const big = Float64Array.from({ length: 200_000 }, (_, i) => i * 0.5)
    yield* sameBuffer(yield* comm.bcast(comm.rank === comm.size - 1 ? big : undefined, { root: comm.size - 1 }), big, "bcast of 1.6 MB")
    // Into an array longer than the message: the rest stays as it was.
    const longer = new Int32Array(6).fill(-1)
    yield* comm.bcast(comm.rank === 0 ? Int32Array.of(4, 5, 6) : longer, { root: 0, into: longer })
    yield* sameBuffer(longer, Int32Array.of(4, 5, 6, -1, -1, -1), "bcast into a longer array")
    // Into an array of another type, or too short, or a value where `into` waits: those ranks fail, the
    // root does not, and the next bcast works everywhere.
    for (const [sent, into, tag] of [
      [Float64Array.of(1, 2), new Float32Array(2), "DatatypeMismatch"],
      [Float64Array.of(1, 2), new Float64Array(1), "InvalidArgument"],
      [{ not: "a buffer" }, new Float64Array(2), "InvalidArgument"]
    ] as const) {
      if (comm.rank === 0) yield* comm.bcast(sent, { root: 0 })
      else {
        const error = yield* Effect.flip(comm.bcast(undefined, { root: 0, into }) as Effect.Effect<unknown, { _tag: string; message: string }>)
        yield* checkEqual(error._tag, tag, `bcast into the wrong array: ${error.message}`)
      }
    }
    yield* checkEqual(yield* comm.bcast(comm.rank === 0 ? "next" : undefined, { root: 0 }), "next", "the bcast after")
  })

const gather: Suite = (comm) =>
  Effect.gen(function*() {
    const size = comm.size
    for (const root of ranks(size)) {
      for (const m of [...messages, messages]) {
        const got = yield* comm.gather(m, { root })
        yield* checkEqual(got, comm.rank === root ? ranks(size).map(() => m) : undefined, `gather of ${String(m)} at ${root}`)
      }
      yield* checkEqual(yield* comm.gather(comm.rank, { root }), comm.rank === root ? ranks(size) : undefined, `gather of ranks at ${root}`)
      for (const d of Datatype.all) {
        const expected = concat(d, ranks(size).map((r) => sample(d, 3, r)))
        const got = yield* comm.gather(sample(d, 3, comm.rank), { root })
        if (comm.rank === root) yield* sameBuffer(got, expected, `gather of ${d.name} at ${root}`)
        else yield* checkEqual(got, undefined, "gather gives non-roots undefined")
      }
      const into = new Int32Array(2 * size + 1).fill(-1)
      const got = yield* comm.gather(Int32Array.of(comm.rank, comm.rank + 100), { root, into })
      if (comm.rank === root) {
        yield* check(got === into, "gather with into returns into")
        yield* checkEqual(plain(into), [...ranks(size).flatMap((r) => [r, r + 100]), -1], "gather into a longer buffer leaves the rest")
      }
    }
  })

const scatter: Suite = (comm) =>
  Effect.gen(function*() {
    const size = comm.size
    for (const root of ranks(size)) {
      for (const m of [...messages, messages]) {
        const got = yield* comm.scatter(comm.rank === root ? ranks(size).map(() => m) : undefined, { root })
        yield* checkEqual(got, m, `scatter of ${String(m)} from ${root}`)
      }
      yield* checkEqual(yield* comm.scatter(comm.rank === root ? ranks(size).map((r) => `to ${r}`) : undefined, { root }), `to ${comm.rank}`, "scatter gives rank i item i")
      for (const d of Datatype.all) {
        const all = concat(d, ranks(size).map((r) => sample(d, 4, r + root)))
        const got = yield* comm.scatter(comm.rank === root ? all : undefined, { root })
        yield* sameBuffer(got as TypedArray, sample(d, 4, comm.rank + root), `scatter of ${d.name} from ${root}`)
      }
      const into = new Float64Array(2)
      yield* comm.scatter(comm.rank === root ? Float64Array.from({ length: 2 * size }, (_, i) => i) : undefined, { root, into })
      yield* checkEqual(plain(into), [2 * comm.rank, 2 * comm.rank + 1], "scatter into a buffer")
    }
  })

const allgather: Suite = (comm) =>
  Effect.gen(function*() {
    const size = comm.size
    for (const m of [...messages, messages]) {
      yield* checkEqual(yield* comm.allgather(m), ranks(size).map(() => m), `allgather of ${String(m)}`)
    }
    yield* checkEqual(yield* comm.allgather({ rank: comm.rank }), ranks(size).map((rank) => ({ rank })), "allgather in rank order")
    for (const d of Datatype.all) {
      const got = yield* comm.allgather(sample(d, 3, comm.rank))
      yield* sameBuffer(got, concat(d, ranks(size).map((r) => sample(d, 3, r))), `allgather of ${d.name}`)
    }
    const into = new Uint16Array(size)
    yield* comm.allgather(Uint16Array.of(comm.rank * 3), { into })
    yield* checkEqual(plain(into), ranks(size).map((r) => r * 3), "allgather into a buffer")
  })

const alltoall: Suite = (comm) =>
  Effect.gen(function*() {
    const size = comm.size
    for (const m of [...messages, messages]) {
      yield* checkEqual(yield* comm.alltoall(ranks(size).map(() => m)), ranks(size).map(() => m), `alltoall of ${String(m)}`)
    }
    const got = yield* comm.alltoall(ranks(size).map((j) => `${comm.rank}→${j}`))
    yield* checkEqual(got, ranks(size).map((i) => `${i}→${comm.rank}`), "alltoall: rank j gets item j of every rank")
    for (const d of Datatype.all) {
      const mine = concat(d, ranks(size).map((j) => sample(d, 2, comm.rank * 10 + j)))
      const got = yield* comm.alltoall(mine)
      yield* sameBuffer(got, concat(d, ranks(size).map((i) => sample(d, 2, i * 10 + comm.rank))), `alltoall of ${d.name}`)
    }
  })

/** Rank i contributes i + 1 elements; displacements leave a gap of one after each part. */
const vLayout = (size: number) => {
  const counts = ranks(size).map((i) => i + 1)
  const displs = ranks(size).map((i) => (i * (i + 1)) / 2 + i)
  return { counts, displs, extent: displs[size - 1]! + counts[size - 1]! }
}

const vVariants: Suite = (comm) =>
  Effect.gen(function*() {
    const size = comm.size
    const me = comm.rank
    const { counts, displs, extent } = vLayout(size)
    const part = (r: number) => Float64Array.from({ length: r + 1 }, (_, k) => r * 100 + k)
    const spread = new Float64Array(extent).fill(-1)
    for (const r of ranks(size)) spread.set(part(r), displs[r])
    for (const root of ranks(size)) {
      const got = yield* comm.scatterv(me === root ? spread : undefined, { counts, displs, root })
      yield* sameBuffer(got as TypedArray, part(me), `scatterv from ${root}`)
      const gathered = yield* comm.gatherv(part(me), { counts, displs, root })
      if (me === root) {
        const expected = spread.map((v) => (v === -1 ? 0 : v))
        yield* sameBuffer(gathered, expected, `gatherv at ${root}`)
      }
      const items = yield* comm.scatterv(me === root ? ranks(size).flatMap((r) => ranks(r + 1).map((k) => `${r}.${k}`)) : undefined, { counts, root })
      yield* checkEqual(items, ranks(me + 1).map((k) => `${me}.${k}`), `scatterv of values from ${root}`)
      const lists = yield* comm.gatherv(ranks(me + 1).map((k) => ({ r: me, k })), { root, counts })
      yield* checkEqual(lists, me === root ? ranks(size).flatMap((r) => ranks(r + 1).map((k) => ({ r, k }))) : undefined, `gatherv of values at ${root}`)
    }
    const all = yield* comm.allgatherv(part(me), { counts, displs })
    yield* sameBuffer(all, spread.map((v) => (v === -1 ? 0 : v)), "allgatherv")
    yield* checkEqual(yield* comm.allgatherv(ranks(me + 1).map(() => me)), ranks(size).flatMap((r) => ranks(r + 1).map(() => r)), "allgatherv of values")
    // alltoallv: rank i sends j + 1 elements to rank j (value i·1000 + j·10 + k).
    const sendCounts = ranks(size).map((j) => j + 1)
    const outgoing = Int32Array.from(ranks(size).flatMap((j) => ranks(j + 1).map((k) => me * 1000 + j * 10 + k)))
    const recvCounts = ranks(size).map(() => me + 1)
    const got = yield* comm.alltoallv(outgoing, { sendCounts, recvCounts })
    yield* sameBuffer(got, Int32Array.from(ranks(size).flatMap((i) => ranks(me + 1).map((k) => i * 1000 + me * 10 + k))), "alltoallv")
    const values = yield* comm.alltoallv(ranks(size).flatMap((j) => ranks(j + 1).map((k) => `${me}>${j}.${k}`)), { sendCounts })
    yield* checkEqual(values, ranks(size).flatMap((i) => ranks(me + 1).map((k) => `${i}>${me}.${k}`)), "alltoallv of values")
    const empty = yield* comm.alltoallv(new Float32Array(0), { sendCounts: ranks(size).map(() => 0), recvCounts: ranks(size).map(() => 0) })
    yield* checkEqual(empty.length, 0, "alltoallv of nothing")
  })

const cumsum = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0)
const cumprod = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a * b, 1)

/** mpi4py's testReduce and testAllreduce: the ops on `rank` (pairs for MAXLOC/MINLOC). */
const reduceOps: Suite = (comm) =>
  Effect.gen(function*() {
    const size = comm.size
    const me = comm.rank
    const expected = (op: Op.Op): unknown => {
      switch (op) {
        case Op.SUM:
          return cumsum(ranks(size))
        case Op.PROD:
          return cumprod(ranks(size))
        case Op.MAX:
          return size - 1
        case Op.MIN:
          return 0
        case Op.MAXLOC:
          return [size - 1, size - 1]
        case Op.MINLOC:
          return [0, 0]
        case Op.REPLACE:
          return size - 1
        default:
          return 0
      }
    }
    const ops = [Op.SUM, Op.PROD, Op.MAX, Op.MIN, Op.MAXLOC, Op.MINLOC, Op.REPLACE, Op.NO_OP]
    const contribution = (op: Op.Op) => (op === Op.MAXLOC || op === Op.MINLOC ? [me, me] : me)
    for (const root of ranks(size)) {
      for (const op of ops) {
        const got = yield* comm.reduce(contribution(op), op, { root })
        yield* checkEqual(got, me === root ? expected(op) : undefined, `reduce ${op.name} at ${root}`)
      }
      const order = yield* comm.reduce(String(me), concatOp, { root })
      yield* checkEqual(order, me === root ? ranks(size).join("") : undefined, `non-commutative reduce at ${root} combines in rank order`)
      const product = yield* comm.reduce(matrixOf(me), matmulOp, { root })
      yield* checkEqual(product, me === root ? fold(matmulOp, ranks(size).map(matrixOf)) : undefined, `matrix product at ${root}`)
    }
    for (const op of ops) yield* checkEqual(yield* comm.allreduce(contribution(op), op), expected(op), `allreduce ${op.name}`)
    yield* checkEqual(yield* comm.allreduce(BigInt(me) * 2n ** 62n, Op.SUM), BigInt(cumsum(ranks(size))) * 2n ** 62n, "allreduce SUM of bigints")
    yield* checkEqual(yield* comm.allreduce(me > 0, Op.LAND), false, "LAND")
    yield* checkEqual(yield* comm.allreduce(true, Op.LAND), true, "LAND of trues")
    yield* checkEqual(yield* comm.allreduce(me === size - 1, Op.LOR), true, "LOR")
    yield* checkEqual(yield* comm.allreduce(true, Op.LXOR), size % 2 === 1, "LXOR of trues")
    yield* checkEqual(yield* comm.allreduce(1 << me, Op.BOR), (1 << size) - 1, "BOR of bits")
    yield* checkEqual(yield* comm.allreduce(0xff ^ (1 << me), Op.BAND), 0xff & ~((1 << size) - 1), "BAND")
    yield* checkEqual(yield* comm.allreduce(1 << me, Op.BXOR), (1 << size) - 1, "BXOR")
    yield* checkEqual(yield* comm.allreduce(String(me), concatOp), ranks(size).join(""), "non-commutative allreduce in rank order")
    yield* checkEqual(yield* comm.allreduce(matrixOf(me), matmulOp), fold(matmulOp, ranks(size).map(matrixOf)), "allreduce matrix product")
    yield* checkEqual(yield* comm.allreduce([me % 2, me], Op.MAXLOC), [size > 1 ? 1 : 0, size > 1 ? 1 : 0], "MAXLOC ties go to the lower index")
  })

/** mpi4py's testScan and testExscan, plus a non-commutative op. */
const scans: Suite = (comm) =>
  Effect.gen(function*() {
    const size = comm.size
    const me = comm.rank
    yield* checkEqual(yield* comm.scan(size, Op.SUM), size * (me + 1), "scan of size")
    yield* checkEqual(yield* comm.scan(me, Op.SUM), (me * (me + 1)) / 2, "scan of rank")
    yield* checkEqual(yield* comm.scan([me, me], Op.MINLOC), [0, 0], "scan MINLOC")
    yield* checkEqual(yield* comm.scan([me, me], Op.MAXLOC), [me, me], "scan MAXLOC")
    yield* checkEqual(yield* comm.scan(me, Op.REPLACE), me, "scan REPLACE")
    yield* checkEqual(yield* comm.scan(me, Op.NO_OP), 0, "scan NO_OP")
    yield* checkEqual(yield* comm.scan(String(me), concatOp), ranks(me + 1).join(""), "non-commutative scan in rank order")
    yield* checkEqual(yield* comm.exscan(size, Op.SUM), me === 0 ? undefined : size * me, "exscan of size")
    yield* checkEqual(yield* comm.exscan(me, Op.SUM), me === 0 ? undefined : (me * (me - 1)) / 2, "exscan of rank")
    yield* checkEqual(yield* comm.exscan([me, me], Op.MINLOC), me === 0 ? undefined : [0, 0], "exscan MINLOC")
    yield* checkEqual(yield* comm.exscan([me, me], Op.MAXLOC), me === 0 ? undefined : [me - 1, me - 1], "exscan MAXLOC")
    yield* checkEqual(yield* comm.exscan(me, Op.REPLACE), me === 0 ? undefined : me - 1, "exscan REPLACE")
    yield* checkEqual(yield* comm.exscan(me, Op.NO_OP), me === 0 ? undefined : 0, "exscan NO_OP")
    yield* checkEqual(yield* comm.exscan(String(me), concatOp), me === 0 ? undefined : ranks(me).join(""), "non-commutative exscan")
    for (const d of Datatype.all) {
      const mine = sample(d, 4, me)
      const prefix = ranks(me + 1).map((r) => sample(d, 4, r))
      yield* sameBuffer(yield* comm.scan(mine, Op.MAX), foldBuffers(Op.MAX, prefix), `scan MAX of ${d.name}`)
      const ex = yield* comm.exscan(mine, Op.SUM)
      if (me === 0) yield* checkEqual(ex, undefined, "exscan gives rank 0 undefined")
      else yield* sameBuffer(ex, foldBuffers(Op.SUM, prefix.slice(0, me)), `exscan SUM of ${d.name}`)
    }
    const scanned = yield* comm.scan(affineOf(me, 3), affineOp)
    yield* sameBuffer(scanned, foldBuffers(affineOp, ranks(me + 1).map((r) => affineOf(r, 3))), "scan of a whole-buffer non-commutative op")
  })

/** Buffer reductions on every typed array class, small and large, against a fold in rank order. */
const bufferReductions: Suite = (comm) =>
  Effect.gen(function*() {
    const size = comm.size
    const me = comm.rank
    for (const d of Datatype.all) {
      const all = ranks(size).map((r) => sample(d, 6, r))
      // Products of ones and twos stay exact in every datatype, whatever the grouping.
      const small = ranks(size).map((r) => sample(d, 6, r, 2, 1))
      yield* sameBuffer(yield* comm.allreduce(small[me]!, Op.PROD), foldBuffers(Op.PROD, small), `allreduce PROD of ${d.name}`)
      for (const op of [Op.SUM, Op.MAX, Op.MIN, Op.LAND, Op.LOR, Op.LXOR, Op.MAXLOC, Op.MINLOC, Op.REPLACE, Op.NO_OP, lastOp]) {
        yield* sameBuffer(yield* comm.allreduce(all[me]!, op), foldBuffers(op, all), `allreduce ${op.name} of ${d.name}`)
      }
      if (!d.name.startsWith("float")) {
        for (const op of [Op.BAND, Op.BOR, Op.BXOR]) {
          yield* sameBuffer(yield* comm.allreduce(all[me]!, op), foldBuffers(op, all), `allreduce ${op.name} of ${d.name}`)
        }
      }
      const root = size - 1
      const reduced = yield* comm.reduce(all[me]!, Op.SUM, { root })
      if (me === root) yield* sameBuffer(reduced, foldBuffers(Op.SUM, all), `reduce SUM of ${d.name}`)
      else yield* checkEqual(reduced, undefined, "reduce gives non-roots undefined")
      const into = new d.ctor(6) as TypedArray
      const got = yield* comm.allreduce(all[me]!, Op.MAX, { into })
      yield* check(got === into, "allreduce with into returns into")
      yield* sameBuffer(into, foldBuffers(Op.MAX, all), `allreduce into a ${d.name} buffer`)
    }
    // The input is never the result, and is left as it was.
    const input = Float64Array.of(me, 1)
    const result = yield* comm.allreduce(input, Op.SUM)
    yield* check(result !== input && input[0] === me && input[1] === 1, "allreduce leaves its input alone")
    // Large buffers take Rabenseifner's algorithm (blocks cut per rank), odd lengths included.
    for (const n of [40_001, 65_536]) {
      const big = ranks(size).map((r) => Float64Array.from({ length: n }, (_, i) => ((r + 1) * (i % 97)) % 1000))
      yield* sameBuffer(yield* comm.allreduce(big[me]!, Op.SUM), foldBuffers(Op.SUM, big), `allreduce SUM of ${n} doubles`)
      yield* sameBuffer(yield* comm.allreduce(big[me]!, lastOp), big[size - 1]!, `non-commutative allreduce of ${n} doubles`)
      const inPlace = big[me]!.slice()
      yield* comm.allreduce(inPlace, Op.MIN, { into: inPlace })
      yield* sameBuffer(inPlace, foldBuffers(Op.MIN, big), `allreduce of ${n} doubles in place`)
    }
    const pairs = ranks(size).map((r) => Float64Array.from({ length: 30_000 }, (_, i) => (i % 2 === 0 ? (r * 7 + i) % 13 : r)))
    yield* sameBuffer(yield* comm.allreduce(pairs[me]!, Op.MAXLOC), foldBuffers(Op.MAXLOC, pairs), "allreduce MAXLOC of 15,000 large pairs")
    const maps = ranks(size).map((r) => affineOf(r, 20_000))
    yield* sameBuffer(yield* comm.allreduce(maps[me]!, affineOp), foldBuffers(affineOp, maps), "allreduce of a large whole-buffer non-commutative op")
    const reducedMaps = yield* comm.reduce(maps[me]!, affineOp, { root: 0 })
    if (me === 0) yield* sameBuffer(reducedMaps, foldBuffers(affineOp, maps), "reduce of a whole-buffer non-commutative op")
  })

const reduceScatters: Suite = (comm) =>
  Effect.gen(function*() {
    const size = comm.size
    const me = comm.rank
    // Values: rank r contributes item j = r·10 + j.
    const items = ranks(size).map((j) => me * 10 + j)
    yield* checkEqual(yield* comm.reduceScatterBlock(items, Op.SUM), cumsum(ranks(size).map((r) => r * 10 + me)), "reduceScatterBlock of values")
    yield* checkEqual(yield* comm.reduceScatterBlock(ranks(size).map((j) => `${me}:${j} `), concatOp), ranks(size).map((r) => `${r}:${me} `).join(""), "non-commutative reduceScatterBlock")
    const counts = ranks(size).map((i) => (i % 3) + 1)
    const total = cumsum(counts)
    const offset = cumsum(counts.slice(0, me))
    const list = ranks(total).map((k) => me + k)
    yield* checkEqual(yield* comm.reduceScatter(list, Op.SUM, { counts }), ranks(counts[me]!).map((k) => cumsum(ranks(size)) + size * (offset + k)), "reduceScatter of values")
    for (const d of Datatype.all) {
      const all = ranks(size).map((r) => sample(d, 3 * size, r))
      const whole = foldBuffers(Op.SUM, all)
      yield* sameBuffer(yield* comm.reduceScatterBlock(all[me]!, Op.SUM), whole.slice(3 * me, 3 * me + 3), `reduceScatterBlock of ${d.name}`)
      const varied = ranks(size).map((r) => sample(d, total, r + 1))
      const wholeVaried = foldBuffers(Op.MAX, varied)
      yield* sameBuffer(yield* comm.reduceScatter(varied[me]!, Op.MAX, { counts }), wholeVaried.slice(offset, offset + counts[me]!), `reduceScatter of ${d.name}`)
    }
    const big = ranks(size).map((r) => Float64Array.from({ length: 5000 * size }, (_, i) => (r + 2) * i))
    const bigCounts = ranks(size).map(() => 5000)
    const got = yield* comm.reduceScatter(big[me]!, lastOp, { counts: bigCounts })
    yield* sameBuffer(got, big[size - 1]!.slice(5000 * me, 5000 * me + 5000), "non-commutative reduceScatter keeps rank order")
    const maps = ranks(size).map((r) => affineOf(r, size))
    yield* sameBuffer(yield* comm.reduceScatterBlock(maps[me]!, affineOp), foldBuffers(affineOp, maps).slice(2 * me, 2 * me + 2), "reduceScatterBlock of a whole-buffer op")
    const into = new Int32Array(counts[me]!)
    yield* comm.reduceScatter(Int32Array.from({ length: total }, (_, k) => k), Op.SUM, { counts, into })
    yield* checkEqual(plain(into), ranks(counts[me]!).map((k) => size * (offset + k)), "reduceScatter into a buffer")
  })

/** Several non-blocking collectives in flight at once, with point-to-point traffic on the same tags, waited in another order. */
const nonBlocking: Suite = (comm) =>
  Effect.gen(function*() {
    const size = comm.size
    const me = comm.rank
    const next = (me + 1) % size
    const prev = (me - 1 + size) % size
    const p2pOut = yield* comm.isend({ from: me }, { dest: next, tag: 0 })
    const bcast = yield* comm.ibcast(me === 0 ? "hello" : undefined)
    const sum = yield* comm.iallreduce(me, Op.SUM)
    const gathered = yield* comm.igather(me * 2, { root: size - 1 })
    const barrier = yield* comm.ibarrier()
    const everyone = yield* comm.iallgather(Int32Array.of(me))
    const exchanged = yield* comm.ialltoall(ranks(size).map((j) => me * 100 + j))
    const scanned = yield* comm.iscan(String(me), concatOp)
    const p2pIn = yield* comm.irecv({ source: prev, tag: 1 })
    const big = yield* comm.iallreduce(new Float64Array(30_000).fill(me), Op.SUM)
    yield* comm.send({ late: me }, { dest: next, tag: 1 })
    // Wait in reverse order of starting.
    yield* checkEqual(yield* Request.wait(p2pIn), { late: prev }, "point-to-point between collectives")
    const bigResult = yield* Request.wait(big)
    yield* checkEqual([bigResult[0], bigResult[29_999]], [cumsum(ranks(size)), cumsum(ranks(size))], "iallreduce of a large buffer")
    yield* checkEqual(yield* Request.wait(scanned), ranks(me + 1).join(""), "iscan")
    yield* checkEqual(yield* Request.wait(exchanged), ranks(size).map((i) => i * 100 + me), "ialltoall")
    yield* checkEqual(plain(yield* Request.wait(everyone)), ranks(size), "iallgather")
    yield* Request.wait(barrier)
    yield* checkEqual(yield* Request.wait(gathered), me === size - 1 ? ranks(size).map((r) => r * 2) : undefined, "igather")
    yield* checkEqual(yield* Request.wait(sum), cumsum(ranks(size)), "iallreduce")
    yield* checkEqual(yield* Request.wait(bcast), "hello", "ibcast")
    yield* Request.wait(p2pOut)
    yield* checkEqual(yield* comm.recv({ source: prev, tag: 0 }), { from: prev }, "point-to-point sent before the collectives")
    // Every i-form, waited all at once.
    const reqs = [
      yield* comm.iscatter(me === 0 ? ranks(size) : undefined),
      yield* comm.iscatterv(me === 0 ? ranks(size) : undefined, { counts: ranks(size).map(() => 1) }),
      yield* comm.igatherv([me], { root: 0 }),
      yield* comm.iallgatherv([me]),
      yield* comm.ialltoallv(ranks(size), { sendCounts: ranks(size).map(() => 1) }),
      yield* comm.ireduce(me, Op.MAX, { root: 0 }),
      yield* comm.iexscan(me, Op.SUM),
      yield* comm.ireduceScatterBlock(ranks(size), Op.SUM),
      yield* comm.ireduceScatter(ranks(size), Op.SUM, { counts: ranks(size).map(() => 1) })
    ] as const
    const [sc, scv, gv, agv, a2av, red, ex, rsb, rs] = yield* Request.waitAll(reqs)
    yield* checkEqual(
      [sc, scv, gv, agv, a2av, red, ex, rsb, rs],
      [me, [me], me === 0 ? ranks(size) : undefined, ranks(size), ranks(size).map(() => me), me === 0 ? size - 1 : undefined, me === 0 ? undefined : (me * (me - 1)) / 2, me * size, [me * size]],
      "every non-blocking collective"
    )
    // A request completes on its own: polling it with test sees it complete.
    const pending = yield* comm.iallreduce(1, Op.SUM)
    let polls = 0
    while (Option.isNone(yield* Request.test(pending))) {
      polls++
      yield* Effect.sleep(1)
    }
    yield* checkEqual(yield* Request.wait(pending), size, `iallreduce completed while polled (${polls} polls)`)
    yield* comm.barrier()
  })

/** A bad root fails every rank's call with InvalidRoot before anything is sent; the next collective still works. */
const invalidRoots: Suite = (comm) =>
  Effect.gen(function*() {
    const size = comm.size
    const calls = (root: number) => [
      comm.bcast(1, { root }),
      comm.scatter([1], { root }),
      comm.scatterv([1], { root, counts: [1] }),
      comm.gather(1, { root }),
      comm.gatherv([1], { root }),
      comm.reduce(1, Op.SUM, { root }),
      comm.ibcast(1, { root }),
      comm.ireduce(new Float64Array(1), Op.SUM, { root })
    ]
    for (const root of [-1, size, 1.5, Number.NaN, -size]) {
      for (const call of calls(root)) {
        const error = yield* Effect.flip(call as Effect.Effect<unknown, { _tag: string; message: string }>)
        yield* checkEqual(error._tag, "InvalidRoot", `root ${root}`)
        yield* check(error.message.includes(`${size} rank`), `the message names the communicator's size: ${error.message}`)
      }
    }
    // Arguments wrong on every rank fail at the call too.
    const wrong = [
      comm.allreduce(1, { not: "an op" } as never),
      comm.allreduce(new Float64Array(2), Op.BAND),
      comm.allreduce(new Float64Array(3), Op.MAXLOC),
      ...(size > 1 ? [comm.alltoall(new Int32Array(size + 1))] : []),
      comm.alltoall([1, 2, 3].slice(0, size === 3 ? 2 : 3)),
      comm.allgather(new Int32Array(2), { into: new Int32Array(2 * size - 1) }),
      comm.allgather(new Int32Array(2), { into: new Float32Array(2 * size) }),
      comm.allgatherv(new Int32Array(2), { counts: ranks(size).map(() => 1) }),
      comm.alltoallv(new Int32Array(size), { sendCounts: ranks(size) }),
      comm.reduceScatter(new Int32Array(size + 1), Op.SUM, { counts: ranks(size).map(() => 1) })
    ]
    for (const call of wrong) {
      const error = yield* Effect.flip(call as Effect.Effect<unknown, { _tag: string; message: string }>)
      yield* check(["InvalidArgument", "DatatypeMismatch"].includes(error._tag), `expected InvalidArgument, got ${error._tag}: ${error.message}`)
    }
    yield* checkEqual(yield* comm.allreduce(comm.rank, Op.SUM), cumsum(ranks(size)), "a collective after the failed calls")
  })

/**
 * Messages larger than a shared-memory slot (1 MiB at most), so that every
 * collective on the board takes several phases; and empty ones.
 */
const beyondSlots: Suite = (comm) =>
  Effect.gen(function*() {
    const size = comm.size
    const me = comm.rank
    const root = size - 1
    const MB = 1024 * 1024
    const doubles = (n: number, seed: number) => Float64Array.from({ length: n }, (_, i) => (seed * 31 + i) % 1009)
    // bcast: a buffer, a buffer into an array of one's own, a value holding one.
    const big = doubles((2.5 * MB) / 8 + 3, 1)
    yield* sameBuffer(yield* comm.bcast(me === root ? big : undefined, { root }), big, "bcast of 2.5 MiB")
    const into = new Float64Array(big.length)
    yield* comm.bcast(me === 0 ? big : undefined, { root: 0, into })
    yield* sameBuffer(into, big, "bcast of 2.5 MiB into a buffer")
    const value = yield* comm.bcast(me === 0 ? { name: "grid", data: Array.from(big.subarray(0, 200_000)) } : undefined)
    yield* checkEqual((value as { data: Array<number> }).data.length, 200_000, "bcast of a 1.6 MB value")
    // scatter and gather of 1.1 MiB per rank, buffers and values.
    const per = Math.floor((1.1 * MB) / 8)
    const all = doubles(per * size, 2)
    const mine = yield* comm.scatter(me === 0 ? all : undefined, { root: 0 })
    yield* sameBuffer(mine as TypedArray, all.subarray(me * per, (me + 1) * per), "scatter of 1.1 MiB blocks")
    const strings = ranks(size).map((r) => `${r}:`.padEnd(300_000, String.fromCharCode(97 + r)))
    yield* checkEqual(yield* comm.scatter(me === root ? strings : undefined, { root }), strings[me], "scatter of 300 kB strings")
    const gathered = yield* comm.gather(all.subarray(me * per, (me + 1) * per), { root })
    if (me === root) yield* sameBuffer(gathered as TypedArray, all, "gather of 1.1 MiB blocks")
    const everyone = yield* comm.allgather(all.subarray(me * per, (me + 1) * per))
    yield* sameBuffer(everyone, all, "allgather of 1.1 MiB blocks")
    const lengths = yield* comm.allgather("x".repeat(me * 400_000))
    yield* checkEqual(lengths.map((x) => (x as string).length), ranks(size).map((r) => r * 400_000), "allgather of values of unequal sizes")
    // alltoall: 40,000 doubles per block, and values of unequal sizes.
    const blocks = doubles(40_000 * size, me)
    const swapped = yield* comm.alltoall(blocks)
    for (let q = 0; q < size; q++) {
      yield* sameBuffer(swapped.subarray(q * 40_000, (q + 1) * 40_000), doubles(40_000 * size, q).subarray(me * 40_000, (me + 1) * 40_000), `alltoall block from rank ${q}`)
    }
    const texts = yield* comm.alltoall(ranks(size).map((q) => "y".repeat((me + 1) * (q + 1) * 20_000)))
    yield* checkEqual(texts.map((t) => (t as string).length), ranks(size).map((q) => (q + 1) * (me + 1) * 20_000), "alltoall of values of unequal sizes")
    // Reductions of 2 MiB and more: sums, pairs, a non-commutative op, to a root, in place.
    const n = (2 * MB) / 8 + 6
    const contributions = ranks(size).map((r) => doubles(n, r + 3))
    yield* sameBuffer(yield* comm.allreduce(contributions[me]!, Op.SUM), foldBuffers(Op.SUM, contributions), "allreduce SUM of 2 MiB")
    yield* sameBuffer(yield* comm.allreduce(contributions[me]!, Op.MAXLOC), foldBuffers(Op.MAXLOC, contributions), "allreduce MAXLOC of 2 MiB")
    yield* sameBuffer(yield* comm.allreduce(contributions[me]!, lastOp), contributions[size - 1]!, "non-commutative allreduce of 2 MiB")
    const reduced = yield* comm.reduce(contributions[me]!, Op.MAX, { root })
    if (me === root) yield* sameBuffer(reduced, foldBuffers(Op.MAX, contributions), "reduce MAX of 2 MiB")
    else yield* checkEqual(reduced, undefined, "reduce gives non-roots undefined")
    const inPlace = contributions[me]!.slice()
    yield* comm.allreduce(inPlace, Op.MIN, { into: inPlace })
    yield* sameBuffer(inPlace, foldBuffers(Op.MIN, contributions), "allreduce of 2 MiB in place")
    // Nothing at all.
    yield* checkEqual((yield* comm.allreduce(new Float64Array(0), Op.SUM)).length, 0, "allreduce of an empty buffer")
    yield* checkEqual((yield* comm.allgather(new Int8Array(0))).length, 0, "allgather of empty buffers")
    yield* checkEqual((yield* comm.bcast(me === 0 ? new Uint8Array(0) : undefined)).length, 0, "bcast of an empty buffer")
  })

/**
 * A rank whose blocking collective is interrupted (a timeout) while the
 * others have not entered it: they enter only once rank 0 tells them it
 * gave up, so the timeout always fires. The communicator stays usable, the
 * next collectives give the right results on every rank, and nothing is
 * written to rank 0's array after the interruption (checked once the next
 * collective completed, which the interrupted one, running on in the
 * background, precedes).
 */
const interrupted: Suite = (comm) =>
  Effect.gen(function*() {
    const size = comm.size
    const me = comm.rank
    if (size < 2) return
    const out = new Float64Array(4).fill(-1)
    if (me === 0) {
      const timedOut = yield* Effect.option(Effect.timeout(comm.allreduce(Float64Array.of(1, 2, 3, 4), Op.SUM, { into: out }), "30 millis"))
      yield* check(Option.isNone(timedOut), "the allreduce timed out on rank 0")
      for (let q = 1; q < size; q++) yield* comm.send("gave up", { dest: q, tag: 7 })
    } else {
      yield* checkEqual(yield* comm.recv({ source: 0, tag: 7 }), "gave up", "rank 0's word")
      const sums = yield* comm.allreduce(Float64Array.of(1, 2, 3, 4), Op.SUM)
      yield* sameBuffer(sums, Float64Array.of(size, 2 * size, 3 * size, 4 * size), "the allreduce that rank 0 left")
    }
    yield* checkEqual(yield* comm.allreduce(me + 1, Op.SUM), (size * (size + 1)) / 2, "the next allreduce")
    yield* check(out.every((x) => x === -1), "nothing is written to the caller's array after the interruption")
    yield* checkEqual(yield* comm.bcast(me === 0 ? "after" : undefined), "after", "the next bcast")
    yield* comm.barrier()
  })

const suites: Record<string, Suite> = {
  beyondSlots,
  interrupted,
  barrier,
  bcast,
  gather,
  scatter,
  allgather,
  alltoall,
  vVariants,
  reduceOps,
  scans,
  bufferReductions,
  reduceScatters,
  nonBlocking,
  invalidRoots
}

const suite = (name: string): Suite => {
  const s = suites[name]
  if (s === undefined) throw new Error(`no collectives suite named ${name}`)
  return s
}

/** Runs suite `name` on the world communicator. */
export const world = (name: string) => Effect.flatMap(Comm.World, suite(name))

/** Contributions whose lengths differ between ranks: the run fails with an error that says so. */
export const mismatchedLengths = (which: "allreduce" | "allgather" | "reduce" | "mixed") =>
  Effect.gen(function*() {
    const w = yield* Comm.World
    if (which === "mixed") return yield* w.allreduce(w.rank === 1 ? (5 as unknown as Float64Array) : Float64Array.of(5), Op.SUM)
    const mine = new Float64Array(w.rank === 1 ? 3 : 4)
    if (which === "allreduce") yield* w.allreduce(mine, Op.SUM)
    else if (which === "reduce") yield* w.reduce(mine, Op.SUM, { root: 0 })
    else yield* w.allgather(mine)
  })
