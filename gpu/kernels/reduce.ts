/**
 * Reductions to one number: `sum`, `prod`, `min`, `max` and `dot`. A
 * workgroup tree in workgroup memory: pass 1 has each workgroup fold a
 * strided share of the input per invocation, then halve its 256 partial
 * results in workgroup memory; pass 2 runs the same kernel over the
 * partials with one workgroup; the one value is downloaded. The number of
 * workgroups of pass 1 follows the adapter (`reductionGroups`): 2,048 on a
 * GPU, enough to keep its memory busy; 32 on a CPU driver such as lavapipe,
 * where every workgroup barrier costs a context switch (measured there: a
 * sum of 1 M floats took 33 ms with 1,024 workgroups, 4 ms with 64, 3 ms
 * with 16).
 * Floats accumulate in f32 (f16 inputs too); integers wrap as in WGSL.
 */
import { Effect } from "effect"
import { InvalidArgument } from "../../core/errors.ts"
import type { Dtype } from "../Dtype.ts"
import * as Dtypes from "../Dtype.ts"
import type { GpuArray } from "../GpuArray.ts"
import * as Arrays from "../internal/arrays.ts"
import * as Kernel from "../Kernel.ts"

export type Reduction = "sum" | "prod" | "min" | "max"

const COMBINE: Record<Reduction, string> = { sum: "a + b", prod: "a * b", min: "min(a, b)", max: "max(a, b)" }
const WG = 256

const accOf = (d: Dtype): "f32" | "i32" | "u32" => (Dtypes.isFloat(d) ? "f32" : d === "i32" ? "i32" : "u32")

const identity = (r: Reduction, acc: "f32" | "i32" | "u32"): number => {
  if (r === "sum") return 0
  if (r === "prod") return 1
  if (acc === "f32") return r === "min" ? Infinity : -Infinity
  if (acc === "i32") return r === "min" ? 2147483647 : -2147483648
  return r === "min" ? 4294967295 : 0
}

const kernels = new Map<string, Kernel.Kernel<any, any>>()
const kernelOf = (r: Reduction, acc: "f32" | "i32" | "u32", dot: boolean) => {
  const key = `${r}:${acc}:${dot}`
  let k = kernels.get(key)
  if (k === undefined) {
    const load = dot ? "out_t(x[i]) * out_t(y[i])" : "out_t(x[i])"
    k = Kernel.make({
      name: dot ? "dot" : r,
      bindings: dot ? { x: "read", y: "read", out: "read_write" } : { x: "read", out: "read_write" },
      uniforms: { init: acc, n: "u32", groups: "u32" },
      workgroupSize: WG,
      wgsl: `
var<workgroup> sh: array<out_t, WG>;
fn combine(a: out_t, b: out_t) -> out_t { return ${COMBINE[r]}; }
@compute @workgroup_size(WG) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = rf_group(wid);
  if (g >= params.groups) { return; }
  var acc = params.init;
  let stride = params.groups * WG;
  for (var i = g * WG + lid; i < params.n; i += stride) { acc = combine(acc, ${load}); }
  sh[lid] = acc;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { sh[lid] = combine(sh[lid], sh[lid + s]); }
    workgroupBarrier();
  }
  if (lid == 0u) { out[g] = sh[0]; }
}`
    })
    kernels.set(key, k)
  }
  return k
}

/** Reduces `x` (and, for dot, `x·y`) to one number on the host. */
export const reduce = (r: Reduction, x: GpuArray, y?: GpuArray) =>
  Effect.gen(function*() {
    if (y !== undefined && (y.length !== x.length || y.dtype !== x.dtype)) {
      return yield* Effect.fail(new InvalidArgument({ argument: "y", message: `dot: x is ${x.dtype}[${x.length}] but y is ${y.dtype}[${y.length}]; they must match` }))
    }
    const acc = accOf(x.dtype)
    const init = identity(r, acc)
    if (x.length === 0) return init
    const groups = Math.min(x.state.reductionGroups, Math.ceil(x.length / WG))
    return yield* Arrays.withTemps(x.state, [[acc, groups], [acc, 1]], ([partials, total]) =>
      Effect.gen(function*() {
        const first = kernelOf(r, acc, y !== undefined)
        yield* Kernel.run(first, y !== undefined ? { x, y, out: partials! } : { x, out: partials! }, { init, n: x.length, groups }, { invocations: groups * WG })
        const last = groups > 1 ? total! : partials!
        if (groups > 1) yield* Kernel.run(kernelOf(r, acc, false), { x: partials!, out: total! }, { init, n: groups, groups: 1 }, { invocations: WG })
        const host = yield* Arrays.toHost(last.subarray(0, 1))
        return host[0]!
      }))
  })
