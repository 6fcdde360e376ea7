/**
 * Reduction ops for `reduce`, `allreduce`, `scan`, `exscan` and the
 * reduce-scatters (MPI_Op).
 *
 * An op combines two contributions, `left` from the lower ranks and `right`
 * from the higher ones. On values (the object form) the built-in ops follow
 * mpi4py: `SUM` and `PROD` take numbers or bigints, `MAX`/`MIN` keep the
 * first on ties, `MAXLOC`/`MINLOC` take `[value, index]` pairs and break ties
 * to the lower index, the logical ops give booleans, `REPLACE` gives the later
 * value and `NO_OP` the earlier. On typed arrays (the buffer form) they run
 * elementwise, with C's integer wrap-around; `MAXLOC`/`MINLOC` read a typed
 * array as interleaved `(value, index)` pairs.
 *
 * `Op.make(fn, { commutative })` makes an op of your own. Reductions apply a
 * non-commutative op in rank order: the result is `x0 op x1 op … op x(p-1)`.
 *
 * @example
 * ```ts
 * import { Op } from "rankflow"
 *
 * const total = yield* world.allreduce(world.rank, Op.SUM)          // size·(size−1)/2
 * const [max, where] = yield* world.allreduce([load, world.rank], Op.MAXLOC)
 * const sums = yield* world.allreduce(new Float64Array(grid), Op.SUM) // elementwise
 * const concat = Op.make((a: string, b: string) => a + b)           // not commutative
 * yield* world.reduce(String(world.rank), concat, { root: 0 })      // "0123…" at the root
 * ```
 */
import * as Datatype from "../../codecs/Datatype.ts"
import type { TypedArray } from "../../codecs/Datatype.ts"
import { InvalidArgument } from "../errors.ts"
import { type Kernel, kernels } from "./kernels.ts"
import { notForDatatype, oddPairs } from "./opErrors.ts"

/**
 * A reduction op: how two contributions combine.
 *
 * @example
 * ```ts
 * const op: Op.Op<number> = Op.SUM
 * yield* world.allreduce(3, op)
 * ```
 */
export interface Op<A = any> {
  readonly _tag: "Op"
  /** `SUM`, `MAXLOC`, …, or the name given to `make`. */
  readonly name: string
  /** Whether contributions may be combined in any order (MPI's `commute`). */
  readonly commutative: boolean
  /** Combines two values, `left` from the lower ranks; throws `InvalidArgument` for values it does not take. */
  readonly combine: (left: A, right: A) => A
  /** The elementwise loop for buffers of this datatype, or undefined where the op does not apply. */
  readonly kernel: (datatype: Datatype.Datatype) => Kernel | undefined
  /**
   * How many consecutive elements of a buffer the op combines as one unit:
   * 1 elementwise, 2 for the (value, index) pairs of MAXLOC/MINLOC, 0 when
   * it takes whole buffers (`Op.make` with `buffer`), which algorithms then
   * never split.
   */
  readonly grain: number
}

/**
 * How `Op.make` builds an op: whether it is commutative, its name, and an optional buffer kernel.
 *
 * @example
 * ```ts
 * const hypot = Op.make((a: number, b: number) => Math.hypot(a, b), { commutative: true, name: "HYPOT" })
 * ```
 */
export interface MakeOptions<A> {
  /** Whether the op may be applied in any order (default false: rank order). */
  readonly commutative?: boolean
  /** A name for error messages. */
  readonly name?: string
  /**
   * How buffers combine, if not element by element through `fn`: write
   * `left op right` into `out` (which may be `left` or `right` itself).
   */
  readonly buffer?: (left: TypedArray, right: TypedArray, out: TypedArray) => void
  /** Only to infer `A`. */
  readonly _A?: A
}

// ---------------------------------------------------------------------------
// Checks

const describe = (x: unknown): string => {
  if (x === null) return "null"
  if (Array.isArray(x)) return "an array"
  if (Datatype.isTypedArray(x)) return `a ${Datatype.of(x).ctor.name}`
  return typeof x === "object" ? `a ${(x as object).constructor?.name ?? "object"}` : `${typeof x} ${String(x)}`
}

const refuse = (op: string, what: string, left: unknown, right: unknown): InvalidArgument =>
  new InvalidArgument({
    argument: "op",
    message: `Op.${op} ${what}; got ${describe(left)} and ${describe(right)}. For other values write the op yourself: Op.make((a, b) => …, { commutative })`
  })

const isNumeric = (x: unknown): x is number | bigint => typeof x === "number" || typeof x === "bigint"

const arithmetic = (op: string, f: (a: any, b: any) => any) => (left: unknown, right: unknown): any => {
  if (isNumeric(left) && typeof left === typeof right) return f(left, right)
  if (Datatype.isTypedArray(left) && Datatype.isTypedArray(right)) return elementwise(op, left, right)
  throw refuse(op, "combines numbers, or bigints, of one kind", left, right)
}

const isOrdered = (x: unknown): boolean => isNumeric(x) || typeof x === "string" || typeof x === "boolean"

const ordering = (op: string, f: (a: any, b: any) => any) => (left: unknown, right: unknown): any => {
  if (isOrdered(left) && isOrdered(right) && (typeof left === "string") === (typeof right === "string")) return f(left, right)
  if (Datatype.isTypedArray(left) && Datatype.isTypedArray(right)) return elementwise(op, left, right)
  throw refuse(op, "compares numbers, bigints, strings or booleans", left, right)
}

const logical = (op: string, f: (a: boolean, b: boolean) => boolean) => (left: unknown, right: unknown): any => {
  if (Datatype.isTypedArray(left) && Datatype.isTypedArray(right)) return elementwise(op, left, right)
  return f(Boolean(left), Boolean(right))
}

const isInt32 = (x: unknown): x is number => typeof x === "number" && (x | 0) === x

const bitwise = (op: string, f: (a: any, b: any) => any) => (left: unknown, right: unknown): any => {
  if (typeof left === "boolean" && typeof right === "boolean") return Boolean(f(+left, +right))
  if (isInt32(left) && isInt32(right)) return f(left, right)
  if (Number.isSafeInteger(left) && Number.isSafeInteger(right)) {
    return Number(BigInt.asIntN(64, f(BigInt(left as number), BigInt(right as number))))
  }
  if (typeof left === "bigint" && typeof right === "bigint") return f(left, right)
  if (Datatype.isTypedArray(left) && Datatype.isTypedArray(right)) return elementwise(op, left, right)
  throw refuse(op, "combines integers (safe integers, bigints or booleans)", left, right)
}

const isPair = (x: unknown): x is readonly [unknown, unknown] => Array.isArray(x) && x.length === 2

const located = (op: string, better: (a: any, b: any) => boolean) => (left: unknown, right: unknown): any => {
  if (Datatype.isTypedArray(left) && Datatype.isTypedArray(right)) return elementwise(op, left, right)
  if (!isPair(left) || !isPair(right) || !isOrdered(left[0]) || !isOrdered(right[0])) {
    throw refuse(op, "takes [value, index] pairs", left, right)
  }
  const [u, i] = left as [any, any]
  const [v, j] = right as [any, any]
  if (better(u, v)) return left
  if (better(v, u)) return right
  return j < i ? right : left
}

// ---------------------------------------------------------------------------
// Buffers

const kernelOf = (name: string) => (datatype: Datatype.Datatype): Kernel | undefined => kernels[name]![datatype.name]

const replaceKernel: Kernel = (_a, b, o) => {
  if (o !== b) o.set(b as any)
}
const noOpKernel: Kernel = (a, _b, o) => {
  if (o !== a) o.set(a as any)
}

/**
 * `left op right` elementwise on this rank, without communicating
 * (MPI_Reduce_local): two typed arrays of one class and length combined into
 * `out` (a new array unless given; it may be `left` or `right`), with `left`
 * as the lower rank's contribution. Throws `InvalidArgument` when the arrays
 * differ or the op does not apply to their datatype.
 *
 * @example
 * ```ts
 * const total = Op.reduceLocal(Op.SUM, Float64Array.of(1, 2), Float64Array.of(10, 20))   // [11, 22]
 * Op.reduceLocal(Op.MAX, partial, incoming, partial)                                     // in place
 * ```
 */
export const reduceLocal = <T extends TypedArray>(op: Op, left: T, right: T, out?: T): T => {
  const datatype = Datatype.of(left)
  if (Datatype.of(right) !== datatype || right.length !== left.length) {
    throw new InvalidArgument({
      argument: "buffer",
      message: `Op.${op.name} combines buffers of one datatype and length; got ${datatype.name}[${left.length}] and ${Datatype.of(right).name}[${right.length}]`
    })
  }
  const kernel = op.kernel(datatype)
  if (kernel === undefined) throw notForDatatype(op, datatype)
  if (op.grain === 2 && left.length % 2 !== 0) throw oddPairs(op, left.length)
  const target = out ?? (new datatype.ctor(left.length) as T)
  kernel(left, right, target)
  return target
}

const elementwise = (name: string, left: TypedArray, right: TypedArray): TypedArray => reduceLocal(byName.get(name)!, left, right)

// ---------------------------------------------------------------------------
// The built-in ops

const builtin = <A>(name: string, commutative: boolean, combine: (left: any, right: any) => any, kernel = kernelOf(name), grain = 1): Op<A> =>
  Object.freeze({ _tag: "Op" as const, name, commutative, combine: combine as (left: A, right: A) => A, kernel, grain })

/**
 * Sum of numbers or of bigints; elementwise on typed arrays.
 *
 * @example
 * ```ts
 * const total = yield* world.allreduce(world.rank, Op.SUM)   // 0 + 1 + … + (size − 1)
 * ```
 */
export const SUM: Op<number | bigint> = builtin("SUM", true, arithmetic("SUM", (a, b) => a + b))
/**
 * Product of numbers or of bigints; elementwise on typed arrays (integers wrap as in C).
 *
 * @example
 * ```ts
 * const product = yield* world.allreduce(2, Op.PROD)   // 2 ** size
 * ```
 */
export const PROD: Op<number | bigint> = builtin("PROD", true, arithmetic("PROD", (a, b) => a * b))
/**
 * The larger value; the first (lower rank) on ties.
 *
 * @example
 * ```ts
 * const longest = yield* world.allreduce(Float64Array.of(t), Op.MAX)
 * ```
 */
export const MAX: Op<number | bigint | string | boolean> = builtin("MAX", true, ordering("MAX", (a, b) => (b > a ? b : a)))
/**
 * The smaller value; the first (lower rank) on ties.
 *
 * @example
 * ```ts
 * const earliest = yield* world.reduce(start, Op.MIN, { root: 0 })
 * ```
 */
export const MIN: Op<number | bigint | string | boolean> = builtin("MIN", true, ordering("MIN", (a, b) => (b < a ? b : a)))
/**
 * Logical and of the values' truthiness (a boolean); 0/1 elementwise on typed arrays.
 *
 * @example
 * ```ts
 * const allDone = yield* world.allreduce(converged, Op.LAND)   // true only if every rank converged
 * ```
 */
export const LAND: Op<unknown> = builtin("LAND", true, logical("LAND", (a, b) => a && b))
/**
 * Logical or (a boolean).
 *
 * @example
 * ```ts
 * const anyFailed = yield* world.allreduce(failed, Op.LOR)
 * ```
 */
export const LOR: Op<unknown> = builtin("LOR", true, logical("LOR", (a, b) => a || b))
/**
 * Logical exclusive or (a boolean).
 *
 * @example
 * ```ts
 * const odd = yield* world.allreduce(flag, Op.LXOR)   // true when an odd number of ranks set it
 * ```
 */
export const LXOR: Op<unknown> = builtin("LXOR", true, logical("LXOR", (a, b) => a !== b))
/**
 * Bitwise and of integers (numbers, bigints, booleans); integer typed arrays elementwise.
 *
 * @example
 * ```ts
 * const common = yield* world.allreduce(Uint32Array.of(mask), Op.BAND)   // bits every rank set
 * ```
 */
export const BAND: Op<number | bigint | boolean> = builtin("BAND", true, bitwise("BAND", (a, b) => a & b))
/**
 * Bitwise or.
 *
 * @example
 * ```ts
 * const seen = yield* world.allreduce(Uint32Array.of(bits), Op.BOR)
 * ```
 */
export const BOR: Op<number | bigint | boolean> = builtin("BOR", true, bitwise("BOR", (a, b) => a | b))
/**
 * Bitwise exclusive or.
 *
 * @example
 * ```ts
 * const parity = yield* world.allreduce(Uint8Array.from(block), Op.BXOR)
 * ```
 */
export const BXOR: Op<number | bigint | boolean> = builtin("BXOR", true, bitwise("BXOR", (a, b) => a ^ b))

/**
 * A `[value, index]` pair for MAXLOC and MINLOC.
 *
 * @example
 * ```ts
 * const [value, index]: Op.Located = yield* world.allreduce([load, world.rank] as Op.Located, Op.MAXLOC)
 * ```
 */
export type Located<V = number> = readonly [value: V, index: number]

/**
 * The pair with the larger value; the lower index on ties. Buffers: interleaved (value, index) pairs.
 *
 * @example
 * ```ts
 * const [busiest, rank] = yield* world.allreduce([load, world.rank], Op.MAXLOC)
 * // buffer form: pairs of (value, index) in one typed array
 * const pairs = yield* world.allreduce(Float64Array.of(load, world.rank), Op.MAXLOC)
 * ```
 */
export const MAXLOC: Op<Located<any>> = builtin("MAXLOC", true, located("MAXLOC", (a, b) => a > b), kernelOf("MAXLOC"), 2)
/**
 * The pair with the smaller value; the lower index on ties.
 *
 * @example
 * ```ts
 * const [best, rank] = yield* world.allreduce([cost, world.rank], Op.MINLOC)
 * ```
 */
export const MINLOC: Op<Located<any>> = builtin("MINLOC", true, located("MINLOC", (a, b) => a < b), kernelOf("MINLOC"), 2)
/**
 * The later contribution (from the higher rank).
 *
 * @example
 * ```ts
 * const last = yield* world.reduce(world.rank, Op.REPLACE, { root: 0 })   // the highest rank's value
 * ```
 */
export const REPLACE: Op<unknown> = builtin("REPLACE", false, (_left: unknown, right: unknown) => right, () => replaceKernel)
/**
 * The earlier contribution (from the lower rank).
 *
 * @example
 * ```ts
 * const first = yield* world.reduce(world.rank, Op.NO_OP, { root: 0 })   // rank 0's value
 * ```
 */
export const NO_OP: Op<unknown> = builtin("NO_OP", false, (left: unknown, _right: unknown) => left, () => noOpKernel)

const byName = new Map<string, Op>(
  [SUM, PROD, MAX, MIN, LAND, LOR, LXOR, BAND, BOR, BXOR, MAXLOC, MINLOC, REPLACE, NO_OP].map((op) => [op.name, op])
)

/**
 * An op of your own (MPI_Op_create). `fn(left, right)` combines two values,
 * `left` from the lower ranks. On typed arrays it is applied element by
 * element unless `buffer` says how whole buffers combine. Without
 * `commutative: true` contributions are combined strictly in rank order.
 *
 * @example
 * ```ts
 * const matmul = Op.make(([a, b, c, d]: M, [e, f, g, h]: M): M => [a*e + b*g, a*f + b*h, c*e + d*g, c*f + d*h])
 * const product = yield* world.allreduce(myMatrix, matmul)   // M0 · M1 · … · M(p-1)
 * ```
 */
export const make = <A>(fn: (left: A, right: A) => A, options?: MakeOptions<A>): Op<A> => {
  const name = options?.name ?? (fn.name || "user op")
  const buffer = options?.buffer
  const kernel: Kernel = buffer ?? ((a, b, o) => {
    const f = fn as unknown as (x: unknown, y: unknown) => any
    for (let i = 0; i < o.length; i++) o[i] = f(a[i], b[i])
  })
  return Object.freeze({
    _tag: "Op" as const,
    name,
    commutative: options?.commutative ?? false,
    combine: fn,
    kernel: () => kernel,
    grain: buffer === undefined ? 1 : 0
  })
}

/**
 * True for an op made by this module.
 *
 * @example
 * ```ts
 * Op.isOp(Op.SUM)          // true
 * Op.isOp((a, b) => a + b) // false: wrap it with Op.make
 * ```
 */
export const isOp = (u: unknown): u is Op => typeof u === "object" && u !== null && (u as { _tag?: unknown })._tag === "Op"
