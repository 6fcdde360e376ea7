/**
 * Tiled matrix product `c = a·b` (row-major, a: m×k, b: k×n): each
 * workgroup of 256 invocations computes a 32×32 tile of c, each invocation
 * a 2×2 block of it, with 32×32 tiles of a and b staged in workgroup
 * memory (each element of a and b is read from storage once per tile
 * instead of once per product).
 */
import { Effect } from "effect"
import { InvalidArgument } from "../../core/errors.ts"
import type { GpuArray } from "../GpuArray.ts"
import * as Arrays from "../internal/arrays.ts"
import * as Kernel from "../Kernel.ts"

const TILE = 32

const matmulKernel = Kernel.make({
  name: "matmul",
  bindings: { a: "read", b: "read", c: "read_write" },
  uniforms: { m: "u32", k: "u32", n: "u32", tilesN: "u32", tiles: "u32" },
  workgroupSize: 256,
  wgsl: `
const T: u32 = ${TILE}u;
var<workgroup> As: array<c_t, ${TILE * TILE}>;
var<workgroup> Bs: array<c_t, ${TILE * TILE}>;
@compute @workgroup_size(WG) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = rf_group(wid);
  if (g >= params.tiles) { return; }
  let row0 = (g / params.tilesN) * T;
  let col0 = (g % params.tilesN) * T;
  let tr = (lid / 16u) * 2u;
  let tc = (lid % 16u) * 2u;
  var c00 = c_t(0); var c01 = c_t(0); var c10 = c_t(0); var c11 = c_t(0);
  let steps = (params.k + T - 1u) / T;
  for (var s = 0u; s < steps; s++) {
    let k0 = s * T;
    for (var e = lid; e < T * T; e += WG) {
      let r = e / T;
      let q = e % T;
      let ar = row0 + r; let ac = k0 + q;
      As[e] = select(c_t(0), a[min(ar * params.k + ac, arrayLength(&a) - 1u)], ar < params.m && ac < params.k);
      let br = k0 + r; let bc = col0 + q;
      Bs[e] = select(c_t(0), b[min(br * params.n + bc, arrayLength(&b) - 1u)], br < params.k && bc < params.n);
    }
    workgroupBarrier();
    for (var j = 0u; j < T; j++) {
      let a0 = As[tr * T + j]; let a1 = As[(tr + 1u) * T + j];
      let b0 = Bs[j * T + tc]; let b1 = Bs[j * T + tc + 1u];
      c00 += a0 * b0; c01 += a0 * b1; c10 += a1 * b0; c11 += a1 * b1;
    }
    workgroupBarrier();
  }
  let r0 = row0 + tr; let q0 = col0 + tc;
  if (r0 < params.m && q0 < params.n) { c[r0 * params.n + q0] = c00; }
  if (r0 < params.m && q0 + 1u < params.n) { c[r0 * params.n + q0 + 1u] = c01; }
  if (r0 + 1u < params.m && q0 < params.n) { c[(r0 + 1u) * params.n + q0] = c10; }
  if (r0 + 1u < params.m && q0 + 1u < params.n) { c[(r0 + 1u) * params.n + q0 + 1u] = c11; }
}`
})

export interface MatmulShape {
  readonly m: number
  readonly k: number
  readonly n: number
  /** Write c into this array (m·n elements) instead of a new one. */
  readonly out?: GpuArray
}

/** `a·b` for row-major a (m×k) and b (k×n): a new m×n array (or `out`). */
export const matmul = (a: GpuArray, b: GpuArray, shape: MatmulShape) =>
  Effect.gen(function*() {
    const { m, k, n } = shape
    const bad = (message: string) => Effect.fail(new InvalidArgument({ argument: "shape", message: `matmul: ${message}` }))
    if (![m, k, n].every((d) => Number.isInteger(d) && d >= 0)) return yield* bad(`m, k and n must be non-negative integers, got ${m}, ${k}, ${n}`)
    if (a.length !== m * k) return yield* bad(`a has ${a.length} elements, not m·k = ${m * k}`)
    if (b.length !== k * n) return yield* bad(`b has ${b.length} elements, not k·n = ${k * n}`)
    if (a.dtype !== b.dtype) return yield* bad(`a is ${a.dtype} but b is ${b.dtype}`)
    const c = shape.out ?? (yield* Arrays.empty(a.state, a.dtype, m * n))
    if (c.length !== m * n || c.dtype !== a.dtype) return yield* bad(`out must be ${a.dtype}[${m * n}], got ${c.dtype}[${c.length}]`)
    if (m * n === 0) return c
    if (k === 0) {
      yield* Arrays.sync(a.state, "matmul", () => {
        a.state.recorder().clearBuffer(c.allocation.buffer, c.offset * c.bytesPerElement, (c.length * c.bytesPerElement + 3) & ~3)
        a.state.recorded()
      })
      return c
    }
    const tilesN = Math.ceil(n / TILE)
    const tiles = Math.ceil(m / TILE) * tilesN
    yield* Kernel.run(matmulKernel, { a, b, c }, { m, k, n, tilesN, tiles }, { invocations: tiles * 256 })
    return c
  })
