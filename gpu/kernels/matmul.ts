/**
 * Tiled matrix product `c = a·b` (row-major, a: m×k, b: k×n): each
 * workgroup of 256 invocations computes a 64×64 tile of c, each invocation
 * a 4×4 block of it held in registers, stepping through k 16 at a time with
 * a 64×16 slice of a and a 16×64 slice of b staged in workgroup memory:
 * each element read from workgroup memory feeds four products.
 */
import { Effect } from "effect"
import { InvalidArgument } from "../../core/errors.ts"
import type { GpuArray } from "../GpuArray.ts"
import * as Arrays from "../internal/arrays.ts"
import * as Kernel from "../Kernel.ts"

const TILE = 64
const KSTEP = 16

const matmulKernel = Kernel.make({
  name: "matmul",
  bindings: { a: "read", b: "read", c: "read_write" },
  uniforms: { m: "u32", k: "u32", n: "u32", tilesN: "u32", tiles: "u32" },
  workgroupSize: 256,
  wgsl: `
const T: u32 = ${TILE}u;
const KS: u32 = ${KSTEP}u;
var<workgroup> As: array<c_t, ${TILE * KSTEP}>;
var<workgroup> Bs: array<c_t, ${KSTEP * TILE}>;
@compute @workgroup_size(WG) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = rf_group(wid);
  if (g >= params.tiles) { return; }
  let row0 = (g / params.tilesN) * T;
  let col0 = (g % params.tilesN) * T;
  let tr = (lid / 16u) * 4u;
  let tc = (lid % 16u) * 4u;
  var acc: array<array<c_t, 4>, 4>;
  for (var i = 0u; i < 4u; i++) { for (var j = 0u; j < 4u; j++) { acc[i][j] = c_t(0); } }
  let steps = (params.k + KS - 1u) / KS;
  let lastA = arrayLength(&a) - 1u;
  let lastB = arrayLength(&b) - 1u;
  for (var s = 0u; s < steps; s++) {
    let k0 = s * KS;
    // 1,024 elements of each tile, 4 per invocation: As is T rows × KS, Bs is KS rows × T.
    for (var e = lid; e < T * KS; e += WG) {
      let ar = row0 + e / KS; let ac = k0 + e % KS;
      As[e] = select(c_t(0), a[min(ar * params.k + ac, lastA)], ar < params.m && ac < params.k);
      let br = k0 + e / T; let bc = col0 + e % T;
      Bs[e] = select(c_t(0), b[min(br * params.n + bc, lastB)], br < params.k && bc < params.n);
    }
    workgroupBarrier();
    for (var q = 0u; q < KS; q++) {
      var av: array<c_t, 4>;
      var bv: array<c_t, 4>;
      for (var i = 0u; i < 4u; i++) { av[i] = As[(tr + i) * KS + q]; bv[i] = Bs[q * T + tc + i]; }
      for (var i = 0u; i < 4u; i++) { for (var j = 0u; j < 4u; j++) { acc[i][j] += av[i] * bv[j]; } }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) {
      let r = row0 + tr + i; let q = col0 + tc + j;
      if (r < params.m && q < params.n) { c[r * params.n + q] = acc[i][j]; }
    }
  }
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
