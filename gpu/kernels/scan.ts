/**
 * Inclusive prefix sum: each workgroup scans a block of 2,048 elements:
 * each of its 256 invocations scans 8 consecutive elements in registers,
 * the 256 totals are scanned in workgroup memory (Hillis–Steele, 8 steps),
 * and each invocation adds the total before it. Each block writes its total;
 * the totals are scanned the same way (recursively), and every block then
 * adds the scanned total of the blocks before it. Eight elements per
 * invocation cut the workgroups and barriers eightfold (on lavapipe a
 * scan of 1 M floats went from 165 ms with one element per invocation).
 */
import { Effect } from "effect"
import { InvalidArgument } from "../../core/errors.ts"
import type { GpuArray } from "../GpuArray.ts"
import * as Arrays from "../internal/arrays.ts"
import * as Kernel from "../Kernel.ts"

const WG = 256
const ITEMS = 8
const BLOCK = WG * ITEMS

const blockScan = Kernel.make({
  name: "scan",
  bindings: { x: "read", out: "read_write", totals: "read_write" },
  uniforms: { n: "u32", groups: "u32" },
  workgroupSize: WG,
  wgsl: `
const ITEMS: u32 = ${ITEMS}u;
var<workgroup> sh: array<out_t, WG>;
@compute @workgroup_size(WG) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = rf_group(wid);
  if (g >= params.groups) { return; }
  let base = g * WG * ITEMS + lid * ITEMS;
  var v: array<out_t, ${ITEMS}>;
  var run = out_t(0);
  for (var k = 0u; k < ITEMS; k++) {
    let i = base + k;
    if (i < params.n) { run += out_t(x[i]); }
    v[k] = run;
  }
  sh[lid] = run;
  workgroupBarrier();
  for (var off = 1u; off < WG; off = off << 1u) {
    var add = out_t(0);
    if (lid >= off) { add = sh[lid - off]; }
    workgroupBarrier();
    sh[lid] += add;
    workgroupBarrier();
  }
  let before = select(out_t(0), sh[max(lid, 1u) - 1u], lid > 0u);
  for (var k = 0u; k < ITEMS; k++) {
    let i = base + k;
    if (i < params.n) { out[i] = v[k] + before; }
  }
  if (lid == WG - 1u) { totals[g] = sh[lid]; }
}`
})

const addBlocks = Kernel.make({
  name: "scan add",
  bindings: { out: "read_write", totals: "read" },
  uniforms: { n: "u32" },
  workgroupSize: WG,
  wgsl: `fn kernel(i: u32) { let g = i / ${BLOCK}u; if (g > 0u) { out[i] += totals[g - 1u]; } }`
})

const scanInto = (x: GpuArray, out: GpuArray): Effect.Effect<void, any> =>
  Effect.gen(function*() {
    const n = x.length
    const groups = Math.ceil(n / BLOCK)
    yield* Arrays.withTemps(x.state, [[out.dtype, groups]], ([totals]) =>
      Effect.gen(function*() {
        yield* Kernel.run(blockScan, { x, out, totals: totals! }, { n, groups }, { invocations: groups * WG })
        if (groups > 1) {
          yield* Arrays.withTemps(x.state, [[out.dtype, groups]], ([scanned]) =>
            Effect.gen(function*() {
              yield* scanInto(totals!, scanned!)
              yield* Kernel.run(addBlocks, { out, totals: scanned! }, { n })
            }))
        }
      }))
  })

/** The inclusive prefix sums of `x`: a new array (or `out`, which may not be `x`). */
export const scan = (x: GpuArray, options?: { readonly out?: GpuArray }) =>
  Effect.gen(function*() {
    const out = options?.out ?? (yield* Arrays.empty(x.state, x.dtype, x.length))
    if (out.length !== x.length || out.dtype !== x.dtype) {
      return yield* Effect.fail(new InvalidArgument({ argument: "out", message: `scan: out must be ${x.dtype}[${x.length}], got ${out.dtype}[${out.length}]` }))
    }
    if (x.length > 0) yield* scanInto(x, out)
    return out
  })
