/**
 * Derived datatypes (MPI's `MPI_Type_vector` and friends): layouts of basic
 * elements in memory — a column of a row-major matrix, a face of a 3-D block,
 * the fields of a record — that a buffer spec `[data, type, count]` sends and
 * receives without the caller packing them.
 *
 * A derived type is flattened once, when it is made, into the byte blocks of
 * one item (offset and length, in typemap order, adjacent blocks merged), with
 * MPI's bounds: `lowerBound` and `extent` place consecutive items, `size` is
 * the bytes of data in one item. On the wire a derived type is its packed
 * elements: a message of `count × elements` of its basic type (a struct that
 * mixes basic types travels as uint8), so a receiver may take it as a plain
 * typed array or scatter it into a layout of its own with `recvInto`.
 *
 * @example
 * ```ts
 * import { Datatype } from "rankflow/codecs"
 *
 * const column = Datatype.vector(4, 1, 4, "float64")   // one column of a 4×4 row-major matrix
 * yield* world.send([matrix, column, 1], { dest: 1 })  // 4 doubles, strided, no packing by hand
 * yield* world.recvInto([other, column, 1], { source: 0 })
 * ```
 */
import { Data } from "effect"
import type { Datatype, DatatypeName } from "./Datatype.ts"

/**
 * A datatype that cannot be built: a negative count, displacements and block
 * lengths of different lengths, a subarray outside its array, an unknown
 * basic type.
 *
 * @example
 * ```ts
 * try { Datatype.vector(-1, 1, 2, "float64") } catch (e) { if (e instanceof InvalidDatatype) console.log(e.message) }
 * ```
 */
export class InvalidDatatype extends Data.TaggedError("InvalidDatatype")<{ readonly message: string }> {}

/**
 * A derived datatype: what `Datatype.vector`, `indexed`, `subarray`, … return.
 *
 * @example
 * ```ts
 * const t: DerivedDatatype = Datatype.contiguous(3, "int32")
 * t.size        // 12 bytes of data per item
 * t.extent      // 12: the next item starts 12 bytes further
 * ```
 */
export interface DerivedDatatype {
  readonly _tag: "DerivedDatatype"
  /** How it was made, e.g. `vector(4, 1, 4, float64)`. */
  readonly name: string
  /** The basic type of every element; undefined for a struct that mixes basic types. */
  readonly base: Datatype | undefined
  /** Bytes of data in one item. */
  readonly size: number
  /** Bytes from one item's lower bound to the next item's. */
  readonly extent: number
  /** Where an item's bounds start, relative to its position. */
  readonly lowerBound: number
  /** The first and one past the last byte an item touches, relative to its position. */
  readonly trueLowerBound: number
  readonly trueUpperBound: number
  /** One item's blocks: byte offsets and lengths, in typemap order, adjacent ones merged. */
  readonly offsets: Float64Array
  readonly lengths: Float64Array
  /** The largest basic element size inside (a struct's extent is rounded up to it, as MPI pads structs). */
  readonly alignment: number
}

/**
 * What the constructors take as a type: a basic type (by name or value) or a derived one.
 *
 * @example
 * ```ts
 * const types: Array<TypeArgument> = ["float64", Datatype.byName("int32")!, Datatype.contiguous(2, "int8")]
 * ```
 */
export type TypeArgument = DatatypeName | Datatype | DerivedDatatype

/**
 * Whether `x` is a derived datatype.
 *
 * @example
 * ```ts
 * Datatype.isDerived(Datatype.vector(2, 1, 2, "int8"))   // true
 * ```
 */
export const isDerived = (x: unknown): x is DerivedDatatype =>
  typeof x === "object" && x !== null && (x as { _tag?: unknown })._tag === "DerivedDatatype"

/** Resolves basic type names: set by Datatype.ts (which imports this module) to avoid a cycle at load. */
let basicByName: (name: string) => Datatype | undefined = () => undefined
/** @internal */
export const setBasicTypes = (byName: (name: string) => Datatype | undefined): void => {
  basicByName = byName
}

const invalid = (message: string): InvalidDatatype => new InvalidDatatype({ message })

const nameOf = (t: TypeArgument): string => (typeof t === "string" ? t : t.name)

/** A type argument as a layout (a basic type is one block of its size). */
const layoutOf = (t: TypeArgument, where: string): DerivedDatatype => {
  if (isDerived(t)) return t
  const basic = typeof t === "string" ? basicByName(t) : t
  if (basic === undefined || typeof basic !== "object" || typeof basic.size !== "number") {
    throw invalid(`${where}: unknown datatype ${typeof t === "string" ? JSON.stringify(t) : String(t)}`)
  }
  return {
    _tag: "DerivedDatatype", name: basic.name, base: basic, size: basic.size, extent: basic.size, lowerBound: 0,
    trueLowerBound: 0, trueUpperBound: basic.size, offsets: Float64Array.of(0), lengths: Float64Array.of(basic.size), alignment: basic.size
  }
}

const count = (n: unknown, what: string, where: string): number => {
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) throw invalid(`${where}: ${what} must be a non-negative integer, got ${String(n)}`)
  return n
}

const integer = (n: unknown, what: string, where: string): number => {
  if (typeof n !== "number" || !Number.isSafeInteger(n)) throw invalid(`${where}: ${what} must be an integer, got ${String(n)}`)
  return n
}

/**
 * A run of `count` copies of `child`, one extent apart, starting at byte `shift`.
 * A run of a dense child (one block that fills its extent, a basic type) is one
 * block however long it is, so a 1000×1000 subarray is 1000 runs, not a million pieces.
 */
type Run = readonly [shift: number, child: DerivedDatatype, count: number]

const isDense = (t: DerivedDatatype): boolean =>
  t.offsets.length === 1 && t.offsets[0] === 0 && t.lengths[0] === t.extent && t.lowerBound === 0

/** Runs of copies of children placed at byte shifts (in typemap order), as one derived type. */
const place = (name: string, pieces: ReadonlyArray<Run>, bounds?: { lb: number; extent: number }): DerivedDatatype => {
  const offsets: Array<number> = []
  const lengths: Array<number> = []
  let lb = Infinity
  let ub = -Infinity
  let size = 0
  let alignment = 1
  let base: Datatype | undefined | null = null // null: no element seen yet
  const add = (off: number, len: number) => {
    if (len === 0) return
    const last = offsets.length - 1
    if (last >= 0 && offsets[last]! + lengths[last]! === off) lengths[last]! += len
    else {
      offsets.push(off)
      lengths.push(len)
    }
  }
  let any = false
  for (const [shift, child, count] of pieces) {
    if (count === 0) continue
    any = true
    const lastShift = shift + (count - 1) * child.extent
    lb = Math.min(lb, shift + child.lowerBound, lastShift + child.lowerBound)
    ub = Math.max(ub, shift + child.lowerBound + child.extent, lastShift + child.lowerBound + child.extent)
    size += count * child.size
    alignment = Math.max(alignment, child.alignment)
    if (child.size > 0) base = base === null ? child.base : base === child.base ? base : undefined
    if (isDense(child) && child.extent > 0) {
      add(shift, count * child.extent)
      continue
    }
    for (let k = 0; k < count; k++) {
      const origin = shift + k * child.extent
      for (let b = 0; b < child.offsets.length; b++) add(origin + child.offsets[b]!, child.lengths[b]!)
    }
  }
  if (!any) lb = ub = 0
  let trueLb = Infinity
  let trueUb = -Infinity
  for (let b = 0; b < offsets.length; b++) {
    trueLb = Math.min(trueLb, offsets[b]!)
    trueUb = Math.max(trueUb, offsets[b]! + lengths[b]!)
  }
  if (offsets.length === 0) trueLb = trueUb = 0
  return {
    _tag: "DerivedDatatype", name, base: base ?? undefined, size,
    extent: bounds?.extent ?? ub - lb, lowerBound: bounds?.lb ?? lb,
    trueLowerBound: trueLb, trueUpperBound: trueUb,
    offsets: Float64Array.from(offsets), lengths: Float64Array.from(lengths), alignment
  }
}

/**
 * `count` copies of `type`, one after another (MPI_Type_contiguous).
 *
 * @example
 * ```ts
 * const triple = Datatype.contiguous(3, "float64")   // size 24, extent 24
 * ```
 */
export const contiguous = (n: number, type: TypeArgument): DerivedDatatype => {
  const where = "Datatype.contiguous"
  const child = layoutOf(type, where)
  count(n, "count", where)
  return place(`contiguous(${n}, ${nameOf(type)})`, [[0, child, n]])
}

/**
 * `count` blocks of `blocklength` items of `type`, the starts of consecutive
 * blocks `stride` items apart (MPI_Type_vector): a column of a row-major
 * matrix is `vector(rows, 1, columns, "float64")`.
 *
 * @example
 * ```ts
 * const column = Datatype.vector(3, 1, 4, "float64")   // column 0 of a 3×4 matrix: size 24, extent 136
 * ```
 */
export const vector = (n: number, blocklength: number, stride: number, type: TypeArgument): DerivedDatatype => {
  const where = "Datatype.vector"
  const child = layoutOf(type, where)
  count(n, "count", where)
  count(blocklength, "blocklength", where)
  integer(stride, "stride", where)
  const pieces: Array<Run> = []
  for (let i = 0; i < n; i++) pieces.push([i * stride * child.extent, child, blocklength])
  return place(`vector(${n}, ${blocklength}, ${stride}, ${nameOf(type)})`, pieces)
}

const indexedPieces = (blocklengths: ReadonlyArray<number>, displacements: ReadonlyArray<number>, child: DerivedDatatype, where: string) => {
  if (!Array.isArray(blocklengths) || !Array.isArray(displacements) || blocklengths.length !== displacements.length) {
    throw invalid(`${where}: blocklengths and displacements must be arrays of the same length`)
  }
  const pieces: Array<Run> = []
  for (let i = 0; i < blocklengths.length; i++) {
    const length = count(blocklengths[i], `blocklengths[${i}]`, where)
    const disp = integer(displacements[i], `displacements[${i}]`, where)
    pieces.push([disp * child.extent, child, length])
  }
  return pieces
}

/**
 * Blocks of `blocklengths[i]` items of `type` at `displacements[i]` (in items
 * of `type`), in that order (MPI_Type_indexed).
 *
 * @example
 * ```ts
 * const upper = Datatype.indexed([3, 2, 1], [0, 4, 8], "float64")   // the upper triangle of a 3×3 matrix
 * ```
 */
export const indexed = (blocklengths: ReadonlyArray<number>, displacements: ReadonlyArray<number>, type: TypeArgument): DerivedDatatype => {
  const where = "Datatype.indexed"
  const child = layoutOf(type, where)
  return place(`indexed([${blocklengths}], [${displacements}], ${nameOf(type)})`, indexedPieces(blocklengths, displacements, child, where))
}

/**
 * Blocks of the same `blocklength` at `displacements` (MPI_Type_create_indexed_block).
 *
 * @example
 * ```ts
 * const picks = Datatype.indexedBlock(2, [0, 6, 10], "int32")   // int32s 0-1, 6-7 and 10-11
 * ```
 */
export const indexedBlock = (blocklength: number, displacements: ReadonlyArray<number>, type: TypeArgument): DerivedDatatype => {
  const where = "Datatype.indexedBlock"
  const child = layoutOf(type, where)
  count(blocklength, "blocklength", where)
  if (!Array.isArray(displacements)) throw invalid(`${where}: displacements must be an array`)
  return place(
    `indexedBlock(${blocklength}, [${displacements}], ${nameOf(type)})`,
    indexedPieces(displacements.map(() => blocklength), displacements, child, where)
  )
}

/**
 * The block `subsizes` at `starts` of an array of `sizes` items of `type`
 * (MPI_Type_create_subarray); `order` "C" (row-major, the default: the last
 * dimension varies fastest) or "F" (column-major). The extent is the whole
 * array's, so consecutive items are consecutive arrays.
 *
 * @example
 * ```ts
 * const face = Datatype.subarray([8, 8, 8], [1, 8, 8], [7, 0, 0], "float64")   // the last x-face of an 8³ block
 * ```
 */
export const subarray = (
  sizes: ReadonlyArray<number>, subsizes: ReadonlyArray<number>, starts: ReadonlyArray<number>, type: TypeArgument, order: "C" | "F" = "C"
): DerivedDatatype => {
  const where = "Datatype.subarray"
  const child = layoutOf(type, where)
  const dims = Array.isArray(sizes) ? sizes.length : 0
  if (dims === 0 || !Array.isArray(subsizes) || !Array.isArray(starts) || subsizes.length !== dims || starts.length !== dims) {
    throw invalid(`${where}: sizes, subsizes and starts must be arrays of the same length, at least 1`)
  }
  if (order !== "C" && order !== "F") throw invalid(`${where}: order must be "C" or "F", got ${String(order)}`)
  for (let d = 0; d < dims; d++) {
    const size = count(sizes[d], `sizes[${d}]`, where)
    const sub = count(subsizes[d], `subsizes[${d}]`, where)
    const start = count(starts[d], `starts[${d}]`, where)
    if (size < 1 || sub < 1 || start + sub > size) {
      throw invalid(`${where}: dimension ${d}: a block of ${sub} from ${start} does not fit in ${size} (each must be at least 1)`)
    }
  }
  // Dimensions from slowest to fastest varying, with their strides in items.
  const axes = order === "C" ? [...Array(dims).keys()] : [...Array(dims).keys()].reverse()
  const strides = new Array<number>(dims)
  let stride = 1
  for (let k = axes.length - 1; k >= 0; k--) {
    strides[axes[k]!] = stride
    stride *= sizes[axes[k]!]!
  }
  const total = stride
  const pieces: Array<Run> = []
  const index = new Array<number>(dims).fill(0)
  const fastest = axes[axes.length - 1]!
  for (;;) {
    let item = 0
    for (let d = 0; d < dims; d++) item += (starts[d]! + index[d]!) * strides[d]!
    pieces.push([item * child.extent, child, subsizes[fastest]!]) // a row along the fastest dimension
    let k = axes.length - 2
    while (k >= 0) {
      const d = axes[k]!
      if (++index[d]! < subsizes[d]!) break
      index[d] = 0
      k--
    }
    if (k < 0) break
  }
  const name = `subarray([${sizes}], [${subsizes}], [${starts}], ${nameOf(type)}${order === "F" ? ", F" : ""})`
  return place(name, pieces, { lb: child.lowerBound, extent: total * child.extent })
}

/**
 * A record: `blocklengths[i]` items of `types[i]` at byte `displacements[i]`
 * (MPI_Type_create_struct). Its extent is rounded up to its largest basic
 * element, as MPI pads a struct for alignment. A struct whose fields mix basic
 * types travels as uint8.
 *
 * @example
 * ```ts
 * // { id: int32 at 0, x: float64 at 8 }, 16 bytes per record
 * const particle = Datatype.struct([1, 1], [0, 8], ["int32", "float64"])
 * ```
 */
export const struct = (blocklengths: ReadonlyArray<number>, displacements: ReadonlyArray<number>, types: ReadonlyArray<TypeArgument>): DerivedDatatype => {
  const where = "Datatype.struct"
  if (!Array.isArray(blocklengths) || !Array.isArray(displacements) || !Array.isArray(types) ||
    blocklengths.length !== displacements.length || types.length !== displacements.length) {
    throw invalid(`${where}: blocklengths, displacements and types must be arrays of the same length`)
  }
  const pieces: Array<Run> = []
  for (let i = 0; i < types.length; i++) {
    const child = layoutOf(types[i]!, where)
    const length = count(blocklengths[i], `blocklengths[${i}]`, where)
    const disp = integer(displacements[i], `displacements[${i}]`, where)
    pieces.push([disp, child, length])
  }
  const placed = place(`struct([${blocklengths}], [${displacements}], [${types.map(nameOf)}])`, pieces)
  const a = placed.alignment
  return { ...placed, extent: Math.ceil(placed.extent / a) * a }
}

/**
 * `type` with new bounds (MPI_Type_create_resized): the same data, items
 * placed `extent` bytes apart starting at `lb`.
 *
 * @example
 * ```ts
 * // one double per row of a 4-column matrix, so that item i is row i's first element
 * const everyRow = Datatype.resized("float64", 0, 32)
 * ```
 */
export const resized = (type: TypeArgument, lb: number, extent: number): DerivedDatatype => {
  const where = "Datatype.resized"
  const child = layoutOf(type, where)
  integer(lb, "lb", where)
  integer(extent, "extent", where)
  return { ...child, name: `resized(${nameOf(type)}, ${lb}, ${extent})`, lowerBound: lb, extent }
}

// ---------------------------------------------------------------------------------------------
// Packing and unpacking

/**
 * Why `count` items of `type` do not fit `byteLength` bytes, or undefined: every
 * byte an item touches must lie inside the buffer.
 */
export const overrun = (type: DerivedDatatype, items: number, byteLength: number): string | undefined => {
  if (items === 0 || type.size === 0) return undefined
  const first = Math.min(type.trueLowerBound, (items - 1) * type.extent + type.trueLowerBound)
  const end = Math.max(type.trueUpperBound, (items - 1) * type.extent + type.trueUpperBound)
  if (first >= 0 && end <= byteLength) return undefined
  return `${items} × ${type.name} touches bytes ${first}..${end} but the buffer has ${byteLength}`
}

/** How many whole items of `type` fit `byteLength` bytes (0 for a type that touches nothing). */
export const itemsThatFit = (type: DerivedDatatype, byteLength: number): number => {
  if (type.size === 0 || type.trueLowerBound < 0 || type.trueUpperBound > byteLength) return 0
  if (type.extent <= 0) return 1
  return Math.floor((byteLength - type.trueUpperBound) / type.extent) + 1
}

/** Whether `items` of `type` are one contiguous run of bytes starting at the item's position (sendable as a view). */
export const isContiguous = (type: DerivedDatatype, items: number): boolean =>
  type.offsets.length === 1 && (items <= 1 || type.extent === type.size)

/** Copies `length` bytes, by hand when short (a subarray per block costs more than the copy). */
const copy = (from: Uint8Array, at: number, to: Uint8Array, into: number, length: number): void => {
  if (length <= 32) for (let k = 0; k < length; k++) to[into + k] = from[at + k]!
  else to.set(from.subarray(at, at + length), into)
}

/** The data of `items` items of `type` in `memory`, packed in typemap order (the caller checked `overrun`). */
export const pack = (type: DerivedDatatype, items: number, memory: Uint8Array): Uint8Array => {
  const out = new Uint8Array(items * type.size)
  let p = 0
  for (let i = 0; i < items; i++) {
    const origin = i * type.extent
    for (let b = 0; b < type.offsets.length; b++) {
      const length = type.lengths[b]!
      copy(memory, origin + type.offsets[b]!, out, p, length)
      p += length
    }
  }
  return out
}

/** Writes the first `bytes` of `packed` into `memory` along `type`'s layout (item after item). */
export const unpack = (type: DerivedDatatype, packed: Uint8Array, bytes: number, memory: Uint8Array): void => {
  let p = 0
  for (let i = 0; p < bytes; i++) {
    const origin = i * type.extent
    for (let b = 0; b < type.offsets.length && p < bytes; b++) {
      const length = Math.min(type.lengths[b]!, bytes - p)
      copy(packed, p, memory, origin + type.offsets[b]!, length)
      p += length
    }
  }
}
