/**
 * Datatypes of the raw buffer path: the element types a typed array can hold
 * (MPI's basic datatypes), each with a stable one-byte id that message headers
 * carry, and the derived datatypes built from them (`vector`, `indexed`,
 * `subarray`, `struct`, …; DerivedDatatype.ts).
 *
 * `of(array)` discovers the datatype of a typed array, the way mpi4py picks an
 * MPI datatype from a NumPy array's dtype.
 *
 * @example
 * ```ts
 * import { Datatype } from "rankflow/codecs"
 *
 * Datatype.of(new Float64Array(4)).name  // "float64"
 * Datatype.byName("int32")?.size         // 4
 * ```
 */
import { setBasicTypes } from "./DerivedDatatype.ts"

/**
 * The name of a basic datatype, as buffer specs take it.
 *
 * @example
 * ```ts
 * const name: DatatypeName = "float64"
 * yield* world.send([bytes, name, 10], { dest: 1 })
 * ```
 */
export type DatatypeName =
  | "int8"
  | "uint8"
  | "uint8clamped"
  | "int16"
  | "uint16"
  | "int32"
  | "uint32"
  | "float16"
  | "float32"
  | "float64"
  | "int64"
  | "uint64"

/**
 * Any typed array (never a DataView). `Float16Array` exists only on runtimes that have it.
 *
 * @example
 * ```ts
 * const sum = (xs: TypedArray) => { let s = 0; for (const x of xs) s += Number(x); return s }
 * ```
 */
export type TypedArray =
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float16Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array

/**
 * The constructor of a typed array class.
 *
 * @example
 * ```ts
 * const make = (ctor: Datatype.TypedArrayConstructor, n: number) => new ctor(n)
 * make(Float32Array, 4)
 * ```
 */
export interface TypedArrayConstructor {
  new (length: number): TypedArray
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): TypedArray
  readonly BYTES_PER_ELEMENT: number
  readonly name: string
}

/**
 * An element type of the buffer path (MPI's basic datatypes): its name, one-byte id, size and typed array class.
 *
 * @example
 * ```ts
 * const d: Datatype.Datatype = Datatype.of(new Int32Array(4))   // { name: "int32", id, size: 4, ctor: Int32Array }
 * ```
 */
export interface Datatype {
  readonly name: DatatypeName
  /** The one-byte id carried in message headers; stable across versions. */
  readonly id: number
  /** Bytes per element. */
  readonly size: number
  /** The typed array class that holds this datatype. */
  readonly ctor: TypedArrayConstructor
}

const Float16ArrayCtor = (globalThis as { Float16Array?: TypedArrayConstructor }).Float16Array

const make = (name: DatatypeName, id: number, ctor: TypedArrayConstructor): Datatype =>
  Object.freeze({ name, id, size: ctor.BYTES_PER_ELEMENT, ctor })

/**
 * Every datatype this runtime supports, in id order (float16 only where `Float16Array` exists).
 *
 * @example
 * ```ts
 * Datatype.all.map((d) => d.name)   // ["int8", "uint8", …, "float64", …]
 * ```
 */
export const all: ReadonlyArray<Datatype> = Object.freeze([
  make("int8", 1, Int8Array),
  make("uint8", 2, Uint8Array),
  make("uint8clamped", 3, Uint8ClampedArray),
  make("int16", 4, Int16Array),
  make("uint16", 5, Uint16Array),
  make("int32", 6, Int32Array),
  make("uint32", 7, Uint32Array),
  ...(Float16ArrayCtor === undefined ? [] : [make("float16", 8, Float16ArrayCtor)]),
  make("float32", 9, Float32Array),
  make("float64", 10, Float64Array),
  make("int64", 11, BigInt64Array),
  make("uint64", 12, BigUint64Array)
])

/**
 * Names of every datatype, including float16 on runtimes that lack it (for error messages).
 *
 * @example
 * ```ts
 * Datatype.names.includes("float64")   // true
 * ```
 */
export const names: ReadonlyArray<DatatypeName> = [
  "int8",
  "uint8",
  "uint8clamped",
  "int16",
  "uint16",
  "int32",
  "uint32",
  "float16",
  "float32",
  "float64",
  "int64",
  "uint64"
]

const byIdTable: Array<Datatype | undefined> = new Array(256).fill(undefined)
const byNameTable = new Map<string, Datatype>()
/** Keyed by the typed array's [[TypedArrayName]] (e.g. "Float64Array"). */
const byClassName = new Map<string, Datatype>()
for (const d of all) {
  byIdTable[d.id] = d
  byNameTable.set(d.name, d)
  byClassName.set(d.ctor.name, d)
}

/**
 * The datatype with this name, or undefined (also for float16 where the runtime lacks `Float16Array`).
 *
 * @example
 * ```ts
 * Datatype.byName("float32")?.size   // 4
 * ```
 */
export const byName = (name: string): Datatype | undefined => byNameTable.get(name)

/**
 * The datatype with this one-byte id, or undefined.
 *
 * @example
 * ```ts
 * Datatype.byId(Datatype.of(new Float64Array(1)).id)?.name   // "float64"
 * ```
 */
export const byId = (id: number): Datatype | undefined => byIdTable[id]

// %TypedArray%.prototype[Symbol.toStringTag] returns the class name of a typed array
// (subclasses and other realms included) and undefined for anything else, in one call.
const typedArrayTag = Object.getOwnPropertyDescriptor(
  Object.getPrototypeOf(Int8Array.prototype),
  Symbol.toStringTag
)!.get! as (this: unknown) => string | undefined

/**
 * True for any typed array (never for a DataView or an ArrayBuffer).
 *
 * @example
 * ```ts
 * Datatype.isTypedArray(new Uint8Array(2))   // true
 * Datatype.isTypedArray(new DataView(new ArrayBuffer(2)))   // false
 * ```
 */
export const isTypedArray = (x: unknown): x is TypedArray => typedArrayTag.call(x) !== undefined

/**
 * The datatype of a typed array (MPI's automatic datatype discovery): a
 * `Float64Array` is float64, a Node `Buffer` is uint8.
 *
 * @example
 * ```ts
 * Datatype.of(new BigInt64Array(1)).name   // "int64"
 * ```
 */
export const of = (array: TypedArray): Datatype => {
  const d = byClassName.get(typedArrayTag.call(array) as string)
  if (d === undefined) throw new TypeError(`not a typed array: ${Object.prototype.toString.call(array)}`)
  return d
}

/**
 * The datatype of `x` if it is a typed array, else undefined.
 *
 * @example
 * ```ts
 * Datatype.ofUnknown([1, 2])   // undefined: not a typed array
 * ```
 */
export const ofUnknown = (x: unknown): Datatype | undefined => {
  const tag = typedArrayTag.call(x)
  return tag === undefined ? undefined : byClassName.get(tag)
}

setBasicTypes(byName)

export {
  contiguous, indexed, indexedBlock, InvalidDatatype, isDerived, resized, struct, subarray, vector
} from "./DerivedDatatype.ts"
export type { DerivedDatatype, TypeArgument } from "./DerivedDatatype.ts"
