/**
 * The 2-D 5-point stencil on a row-major grid (rows × cols):
 * `out = center·u + neighbors·(north + south + east + west)`, by default a
 * Jacobi step (center 0, neighbors ¼). Boundary handling: `fixed` keeps
 * the edge cells as they are (Dirichlet: ghost rows and walls), `periodic`
 * wraps around.
 */
import { Effect } from "effect"
import { InvalidArgument } from "../../core/errors.ts"
import type { GpuArray } from "../GpuArray.ts"
import * as Arrays from "../internal/arrays.ts"
import * as Kernel from "../Kernel.ts"

const stencilKernel = Kernel.make({
  name: "stencil",
  bindings: { u: "read", out: "read_write" },
  uniforms: { rows: "u32", cols: "u32", center: "f32", neighbors: "f32", periodic: "u32", n: "u32" },
  wgsl: `
fn kernel(i: u32) {
  let R = params.rows; let C = params.cols;
  let r = i / C; let c = i % C;
  if (params.periodic == 0u && (r == 0u || c == 0u || r == R - 1u || c == C - 1u)) { out[i] = u[i]; return; }
  let up = select(r - 1u, R - 1u, r == 0u);
  let down = select(r + 1u, 0u, r == R - 1u);
  let left = select(c - 1u, C - 1u, c == 0u);
  let right = select(c + 1u, 0u, c == C - 1u);
  let s = u[up * C + c] + u[down * C + c] + u[r * C + left] + u[r * C + right];
  out[i] = out_t(params.center) * u[i] + out_t(params.neighbors) * s;
}`
})

/**
 * Options of `Kernels.stencil`: the grid's shape, the weights, the boundary, an output array.
 *
 * @example
 * ```ts
 * const next = yield* Kernels.stencil(u, { rows: 512, cols: 512, boundary: "periodic" })
 * ```
 */
export interface StencilOptions {
  readonly rows: number
  readonly cols: number
  /** Weight of the cell itself (default 0). */
  readonly center?: number
  /** Weight of each of the four neighbours (default 0.25). */
  readonly neighbors?: number
  /** `fixed` (default): edge cells keep their values; `periodic`: the grid wraps. */
  readonly boundary?: "fixed" | "periodic"
  /** Write into this array (not `u` itself) instead of a new one. */
  readonly out?: GpuArray
}

/** One stencil step of `u`: a new array (or `out`). */
export const stencil = (u: GpuArray, options: StencilOptions) =>
  Effect.gen(function*() {
    const { rows, cols } = options
    const bad = (message: string) => Effect.fail(new InvalidArgument({ argument: "options", message: `stencil: ${message}` }))
    if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1) return yield* bad(`rows and cols must be positive integers, got ${rows} × ${cols}`)
    if (u.length !== rows * cols) return yield* bad(`u has ${u.length} elements, not rows·cols = ${rows * cols}`)
    if (u.dtype !== "f32" && u.dtype !== "f16") return yield* bad(`u must be f32 or f16, got ${u.dtype}`)
    const out = options.out ?? (yield* Arrays.empty(u.state, u.dtype, u.length))
    if (out.length !== u.length || out.dtype !== u.dtype) return yield* bad(`out must be ${u.dtype}[${u.length}]`)
    if (out.allocation === u.allocation) return yield* bad("out must not share memory with u (a Jacobi step reads the old values)")
    yield* Kernel.run(stencilKernel, { u, out }, {
      rows,
      cols,
      center: options.center ?? 0,
      neighbors: options.neighbors ?? 0.25,
      periodic: options.boundary === "periodic" ? 1 : 0,
      n: u.length
    })
    return out
  })
