/**
 * Built-in kernels. Each checks its arguments (a typed `InvalidArgument`),
 * records its dispatches (batched until a download, a transfer or
 * `gpu.flush()`), and returns a GPU array or, for reductions, a number.
 * Error bounds against a float64 reference are in docs/gpu.md.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Gpu, Kernels } from "rankflow/gpu"
 *
 * const program = Effect.gen(function* () {
 *   const gpu = yield* Gpu.Device
 *   const x = yield* gpu.array(Float32Array.of(1, 2, 3, 4))
 *   const y = yield* gpu.fill("f32", 4, 1)
 *   yield* Kernels.axpy(2, x, y)                       // y = 2x + y
 *   const z = yield* Kernels.map("a * b", [x, y])      // z = x·y elementwise
 *   const total = yield* Kernels.sum(z)                // a number
 *   const c = yield* Kernels.matmul(x, y, { m: 2, k: 2, n: 2 })
 * }).pipe(Effect.provide(Gpu.layer()))
 * ```
 */
import type { GpuArray } from "./GpuArray.ts"
import * as Elementwise from "./kernels/elementwise.ts"
import * as Matmul from "./kernels/matmul.ts"
import * as Reduce from "./kernels/reduce.ts"
import * as Scan from "./kernels/scan.ts"
import * as Stencil from "./kernels/stencil.ts"

export type { MapOptions } from "./kernels/elementwise.ts"
export type { MatmulShape } from "./kernels/matmul.ts"
export type { StencilOptions } from "./kernels/stencil.ts"

/**
 * Elementwise `out[i] = expr` over 1–3 inputs of one length, `expr` being
 * WGSL in `a`, `b`, `c` (the inputs' elements) and `i`.
 *
 * @example
 * ```ts
 * const r = yield* Kernels.map("sqrt(a * a + b * b)", [x, y])
 * ```
 */
export const map = Elementwise.map

/**
 * `y = alpha·x + y` in place (returns y).
 *
 * @example
 * ```ts
 * yield* Kernels.axpy(0.5, x, y)
 * ```
 */
export const axpy = Elementwise.axpy

/**
 * The sum of the elements, as a number (floats accumulate in f32; integers wrap).
 *
 * @example
 * ```ts
 * const s = yield* Kernels.sum(x)
 * ```
 */
export const sum = (x: GpuArray) => Reduce.reduce("sum", x)

/**
 * The product of the elements.
 *
 * @example
 * ```ts
 * const p = yield* Kernels.prod(x)
 * ```
 */
export const prod = (x: GpuArray) => Reduce.reduce("prod", x)

/**
 * The smallest element (Infinity, or the dtype's largest value, for an empty array).
 *
 * @example
 * ```ts
 * const lo = yield* Kernels.min(x)
 * ```
 */
export const min = (x: GpuArray) => Reduce.reduce("min", x)

/**
 * The largest element.
 *
 * @example
 * ```ts
 * const hi = yield* Kernels.max(x)
 * ```
 */
export const max = (x: GpuArray) => Reduce.reduce("max", x)

/**
 * The dot product of two arrays of one dtype and length.
 *
 * @example
 * ```ts
 * const d = yield* Kernels.dot(x, y)
 * ```
 */
export const dot = (x: GpuArray, y: GpuArray) => Reduce.reduce("sum", x, y)

/**
 * Tiled matrix product of row-major a (m×k) and b (k×n).
 *
 * @example
 * ```ts
 * const c = yield* Kernels.matmul(a, b, { m: 512, k: 512, n: 512 })
 * ```
 */
export const matmul = Matmul.matmul

/**
 * One 5-point stencil step on a rows × cols grid (a Jacobi step by default).
 *
 * @example
 * ```ts
 * const next = yield* Kernels.stencil(u, { rows, cols, center: 1 - 4 * r, neighbors: r, out: scratch })
 * ```
 */
export const stencil = Stencil.stencil

/**
 * Inclusive prefix sums.
 *
 * @example
 * ```ts
 * const cumulative = yield* Kernels.scan(x)
 * ```
 */
export const scan = Scan.scan
