/**
 * Elementwise kernels: `map` from a WGSL expression over 1–3 inputs, `axpy`,
 * and the in-place combine that GPU-aware reductions use.
 */
import { Effect } from "effect"
import { InvalidArgument } from "../../core/errors.ts"
import type { Op } from "../../core/op/Op.ts"
import type { Dtype } from "../Dtype.ts"
import * as Dtypes from "../Dtype.ts"
import type { GpuArray } from "../GpuArray.ts"
import * as Kernel from "../Kernel.ts"
import * as Arrays from "../internal/arrays.ts"

const maps = new Map<string, Kernel.Kernel<any, any>>()
const mapKernel = (expr: string, arity: number): Kernel.Kernel<any, { n: "u32" }> => {
  const key = `${arity}:${expr}`
  let k = maps.get(key)
  if (k === undefined) {
    const names = ["a", "b", "c"].slice(0, arity)
    const bindings: Record<string, Kernel.Access> = {}
    names.forEach((_, j) => (bindings[`in${j}`] = "read"))
    bindings.out = "read_write"
    k = Kernel.make({
      name: `map(${expr})`,
      wgsl: `fn kernel(i: u32) {\n${names.map((n, j) => `  let ${n} = in${j}[i];`).join("\n")}\n  out[i] = out_t(${expr});\n}`,
      bindings,
      uniforms: { n: "u32" }
    })
    maps.set(key, k)
  }
  return k
}

const sameLength = (name: string, arrays: ReadonlyArray<GpuArray>): InvalidArgument | undefined => {
  const n = arrays[0]!.length
  const bad = arrays.find((a) => a.length !== n)
  return bad === undefined ? undefined : new InvalidArgument({ argument: "inputs", message: `${name}: every input must have the same length; got ${arrays.map((a) => a.length).join(", ")}` })
}

/**
 * Options of `Kernels.map`: the output's dtype, and an array to write into.
 *
 * @example
 * ```ts
 * yield* Kernels.map("a * b + c", [x, y, z], { out: z })   // in place
 * ```
 */
export interface MapOptions {
  /** The output's dtype (default: the first input's). */
  readonly dtype?: Dtype
  /** Write into this array instead of a new one. */
  readonly out?: GpuArray
}

/** `out[i] = expr(a[i], b[i], c[i])`: `expr` is WGSL over `a`, `b`, `c` (the inputs) and `i`. */
export const map = (expr: string, inputs: ReadonlyArray<GpuArray>, options?: MapOptions) =>
  Effect.gen(function*() {
    if (inputs.length < 1 || inputs.length > 3) return yield* Effect.fail(new InvalidArgument({ argument: "inputs", message: `map takes 1 to 3 inputs, got ${inputs.length}` }))
    const bad = sameLength("map", inputs)
    if (bad !== undefined) return yield* Effect.fail(bad)
    const n = inputs[0]!.length
    const out = options?.out ?? (yield* Arrays.empty(inputs[0]!.state, options?.dtype ?? inputs[0]!.dtype, n))
    if (out.length !== n) return yield* Effect.fail(new InvalidArgument({ argument: "out", message: `map: out has ${out.length} elements but the inputs have ${n}` }))
    const bindings: Record<string, GpuArray> = { out }
    inputs.forEach((x, j) => (bindings[`in${j}`] = x))
    yield* Kernel.run(mapKernel(expr, inputs.length), bindings, { n })
    return out
  })

const axpyKernel = Kernel.make({
  name: "axpy",
  wgsl: "fn kernel(i: u32) { y[i] = y_t(params.alpha) * x[i] + y[i]; }",
  bindings: { x: "read", y: "read_write" },
  uniforms: { alpha: "f32", n: "u32" }
})

/** `y = alpha·x + y` in place; returns `y`. */
export const axpy = (alpha: number, x: GpuArray, y: GpuArray) =>
  Effect.gen(function*() {
    if (x.dtype !== y.dtype) return yield* Effect.fail(new InvalidArgument({ argument: "x", message: `axpy: x is ${x.dtype} but y is ${y.dtype}` }))
    const bad = sameLength("axpy", [x, y])
    if (bad !== undefined) return yield* Effect.fail(bad)
    yield* Kernel.run(axpyKernel, { x, y }, { alpha, n: x.length })
    return y
  })

const COMBINE: Record<string, string> = {
  SUM: "a + b",
  PROD: "a * b",
  MIN: "min(a, b)",
  MAX: "max(a, b)",
  BAND: "a & b",
  BOR: "a | b",
  BXOR: "a ^ b"
}

/** The ops that reduce GPU arrays on the GPU, by dtype. */
export const gpuOp = (op: Op, dtype: Dtype): string | undefined =>
  ["BAND", "BOR", "BXOR"].includes(op.name) && Dtypes.isFloat(dtype) ? undefined : COMBINE[op.name]

const combines = new Map<string, Kernel.Kernel<any, any>>()

/** `acc[i] = acc[i] op inc[i]` for `n` elements (recorded, not waited for). */
export const combineInto = (op: Op, acc: GpuArray, inc: GpuArray) => {
  const expr = gpuOp(op, acc.dtype)!
  let k = combines.get(expr)
  if (k === undefined) {
    k = Kernel.make({
      name: `combine ${op.name}`,
      wgsl: `fn kernel(i: u32) { let a = acc[i]; let b = inc[i]; acc[i] = ${expr}; }`,
      bindings: { acc: "read_write", inc: "read" },
      uniforms: { n: "u32" }
    })
    combines.set(expr, k)
  }
  return Kernel.run(k, { acc, inc }, { n: acc.length })
}
