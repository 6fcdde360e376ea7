/**
 * Element types of GPU arrays: `f32`, `i32`, `u32`, and `f16` where the
 * adapter has the `shader-f16` feature. Each pairs a WGSL scalar type with
 * a host typed array.
 *
 * @example
 * ```ts
 * import { Dtype } from "rankflow/gpu"
 *
 * Dtype.of(new Float32Array(4))   // "f32"
 * Dtype.bytes("f16")              // 2
 * ```
 */
export type Dtype = "f32" | "i32" | "u32" | "f16"

/**
 * Host arrays that map to a dtype.
 *
 * @example
 * ```ts
 * const host: Dtype.HostArray = yield* GpuArray.toHost(x)   // Float32Array for an f32 array
 * ```
 */
export type HostArray = Float32Array | Int32Array | Uint32Array | Float16Array

/**
 * The host array type of a dtype.
 *
 * @example
 * ```ts
 * const f: Dtype.HostOf<"i32"> = new Int32Array(4)
 * ```
 */
export type HostOf<D extends Dtype> = D extends "f32" ? Float32Array : D extends "i32" ? Int32Array : D extends "u32" ? Uint32Array : Float16Array

/**
 * Every dtype.
 *
 * @example
 * ```ts
 * Dtype.all   // ["f32", "i32", "u32", "f16"]
 * ```
 */
export const all: ReadonlyArray<Dtype> = ["f32", "i32", "u32", "f16"]

/**
 * Bytes per element.
 *
 * @example
 * ```ts
 * Dtype.bytes("f16")   // 2
 * ```
 */
export const bytes = (d: Dtype): number => (d === "f16" ? 2 : 4)

/**
 * The host constructor of a dtype.
 *
 * @example
 * ```ts
 * const host = new (Dtype.ctor("u32"))(16)   // a Uint32Array
 * ```
 */
export const ctor = (d: Dtype): { new (n: number): HostArray; new (b: ArrayBuffer, o?: number, n?: number): HostArray } =>
  (d === "f32" ? Float32Array : d === "i32" ? Int32Array : d === "u32" ? Uint32Array : Float16Array) as never

/**
 * The dtype of a host array, or undefined for one with no GPU dtype.
 *
 * @example
 * ```ts
 * Dtype.of(new Float32Array(1))   // "f32"
 * Dtype.of(new Float64Array(1))   // undefined: WebGPU has no f64
 * ```
 */
export const of = (a: ArrayBufferView): Dtype | undefined =>
  a instanceof Float32Array ? "f32" : a instanceof Int32Array ? "i32" : a instanceof Uint32Array ? "u32" : a instanceof Float16Array ? "f16" : undefined

/**
 * True for a float dtype.
 *
 * @example
 * ```ts
 * Dtype.isFloat("f16")   // true
 * ```
 */
export const isFloat = (d: Dtype): boolean => d === "f32" || d === "f16"
