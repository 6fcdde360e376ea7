/**
 * The pickle encoder: walks a value depth-first and writes the format of
 * `format.ts` into a reused slab.
 *
 * Hot-path notes (each measured against the obvious alternative):
 * - the memo maps every object to the offset of its tag (one `Map.set`, the
 *   largest single cost on big trees: V8's Map insertions run ~100 ns once
 *   the table outgrows 4096 entries); a back-reference writes that offset and
 *   patches the first occurrence's tag to its SHARED twin, so the decoder
 *   remembers only the objects that are referenced again;
 * - plain objects are written as a shape (their key list, defined once per
 *   header, found through a per-depth last-shape cache and then a tree of key
 *   transitions kept across messages) followed by the values: a record costs
 *   its values plus one byte;
 * - the path for error messages lives in two arrays indexed by depth, written
 *   once per item and formatted only on failure.
 */
import { Writer } from "../bytes/Writer.ts"
import type { Frames } from "../Codec.ts"
import { EncodeError, encodeError } from "../errors.ts"
import type { ClassEntry, ClassRegistry } from "./ClassRegistry.ts"
import * as F from "./format.ts"
import { formatPath, P_CAUSE, P_ERRORS, P_INDEX, P_MAP_KEY, P_MAP_VALUE, P_PROP, P_SET, P_STATE } from "./path.ts"

export interface EncoderOptions {
  readonly codec: string
  readonly registry: ClassRegistry
  readonly outOfBandThreshold: number
  readonly maxDepth: number
}

class ShapeNode {
  next: Map<string, ShapeNode> | undefined = undefined
  keys: ReadonlyArray<string> | undefined = undefined
  /** The encoded definition (varuint key count, then the keys), cached after its first use. */
  def: Uint8Array | undefined = undefined
  epoch = -1
  id = 0
}

/** Shape-tree nodes kept across messages; past this the tree is dropped before the next message. */
const MAX_SHAPE_NODES = 20_000
const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n
const EMPTY: ReadonlyArray<Uint8Array> = Object.freeze([])
const ObjectPrototype = Object.prototype
const ArrayPrototype = Array.prototype
const hasOwn = Object.hasOwn

/** Epochs are unique across encoders so that registry entries shared by several encoders never mix up ids. */
let epochCounter = 0

export class Encoder {
  /** True while a message is being written (a `reduce` that pickles re-enters: it gets its own encoder). */
  busy = false
  private readonly w = new Writer()
  private readonly memo = new Map<object, number>()
  private lastSize = 0
  private buffers: Array<Uint8Array> = []
  private depth = 0
  private readonly pathKinds: Uint8Array
  private readonly pathKeys: Array<string | number>
  private readonly lastShape: Array<ShapeNode | undefined>
  private shapeRoot = new ShapeNode()
  private shapeNodes = 0
  private shapeCount = 0
  private classCount = 0
  private epoch = 0
  private readonly reducing = new Set<object>()
  private readonly codec: string
  private readonly registry: ClassRegistry
  private readonly threshold: number
  private readonly maxDepth: number

  constructor(options: EncoderOptions) {
    this.codec = options.codec
    this.registry = options.registry
    this.threshold = options.outOfBandThreshold
    this.maxDepth = options.maxDepth
    this.pathKinds = new Uint8Array(options.maxDepth + 2)
    this.pathKeys = new Array(options.maxDepth + 2).fill(0)
    this.lastShape = new Array(options.maxDepth + 2).fill(undefined)
  }

  /** Encodes one value; throws only `EncodeError`. */
  encode(value: unknown): Frames {
    const w = this.w
    this.busy = true
    this.epoch = ++epochCounter
    if (this.shapeNodes > MAX_SHAPE_NODES) this.dropShapes()
    w.begin()
    // A large message grows the slab once, to the last size, instead of doubling its way up.
    if (this.lastSize > 16384) w.ensure(this.lastSize)
    try {
      w.u8(F.VERSION)
      this.value(value)
      const header = w.finish()
      this.lastSize = header.length
      if (this.buffers.length === 0) return { header, buffers: EMPTY }
      const buffers = this.buffers
      this.buffers = []
      return { header, buffers }
    } catch (e) {
      w.abort()
      this.buffers = []
      throw this.toEncodeError(e)
    } finally {
      this.memo.clear()
      this.depth = 0
      this.shapeCount = 0
      this.classCount = 0
      if (this.reducing.size !== 0) this.reducing.clear()
      this.busy = false
    }
  }

  private dropShapes(): void {
    this.shapeRoot = new ShapeNode()
    this.shapeNodes = 0
    this.lastShape.fill(undefined)
  }

  private fail(what: string): EncodeError {
    return encodeError(this.codec, formatPath(this.pathKinds, this.pathKeys, this.depth), what)
  }

  private toEncodeError(e: unknown): EncodeError {
    if (e instanceof EncodeError) return e
    if (e instanceof RangeError && /call stack/i.test(e.message)) {
      return this.fail(`nesting too deep for the call stack (the limit is ${this.maxDepth} levels)`)
    }
    return this.fail(e instanceof Error ? e.message : String(e))
  }

  // ---- primitives -------------------------------------------------------

  private u8(b: number): void {
    const w = this.w
    if (w.pos >= w.buf.length) w.ensure(1)
    w.buf[w.pos++] = b
  }

  private value(v: unknown): void {
    switch (typeof v) {
      case "number":
        return this.number(v)
      case "string":
        return this.string(v)
      case "object":
        return v === null ? this.u8(F.NULL) : this.object(v)
      case "boolean":
        return this.u8(v ? F.TRUE : F.FALSE)
      case "undefined":
        return this.u8(F.UNDEFINED)
      case "bigint":
        return this.bigint(v)
      case "function":
        throw this.fail(`a function (${(v as { name?: string }).name || "anonymous"}) cannot be pickled`)
      default:
        throw this.fail(`a symbol (${String(v)}) cannot be pickled`)
    }
  }

  private number(v: number): void {
    const w = this.w
    w.ensure(9)
    const buf = w.buf
    let pos = w.pos
    if ((v | 0) === v && (v !== 0 || 1 / v > 0)) {
      if (v >= 0) {
        if (v <= F.FIXINT_MAX) buf[pos++] = v
        else if (v < 0x80) {
          buf[pos++] = F.INT8
          buf[pos++] = v
        } else if (v < 0x8000) {
          buf[pos++] = F.INT16
          buf[pos++] = v
          buf[pos++] = v >> 8
        } else {
          buf[pos++] = F.INT32
          w.view.setInt32(pos, v, true)
          pos += 4
        }
      } else if (v >= -32) buf[pos++] = 0x100 + v
      else if (v >= -0x80) {
        buf[pos++] = F.INT8
        buf[pos++] = v
      } else if (v >= -0x8000) {
        buf[pos++] = F.INT16
        buf[pos++] = v
        buf[pos++] = v >> 8
      } else {
        buf[pos++] = F.INT32
        w.view.setInt32(pos, v, true)
        pos += 4
      }
    } else {
      buf[pos++] = F.FLOAT64
      w.view.setFloat64(pos, v, true)
      pos += 8
    }
    w.pos = pos
  }

  private string(s: string): void {
    const n = s.length
    const w = this.w
    if (n < 32) {
      // Short ASCII strings: the length goes into the tag byte.
      w.ensure(n + 1)
      const buf = w.buf
      const start = w.pos
      let pos = start + 1
      let i = 0
      for (; i < n; i++) {
        const c = s.charCodeAt(i)
        if (c >= 0x80) break
        buf[pos++] = c
      }
      if (i === n) {
        buf[start] = F.FIXSTR | n
        w.pos = pos
        return
      }
    }
    this.u8(F.STRING)
    w.string(s)
  }

  private varuint(v: number): void {
    const w = this.w
    if (v >= 0x10000000) return w.varuint(v)
    if (w.pos + 4 > w.buf.length) w.ensure(4)
    const buf = w.buf
    let pos = w.pos
    while (v >= 0x80) {
      buf[pos++] = (v & 0x7f) | 0x80
      v >>>= 7
    }
    buf[pos++] = v
    w.pos = pos
  }

  private bigint(v: bigint): void {
    const w = this.w
    if (v >= INT64_MIN && v <= INT64_MAX) {
      w.ensure(9)
      w.buf[w.pos++] = F.BIGINT64
      w.view.setBigInt64(w.pos, v, true)
      w.pos += 8
    } else {
      this.u8(v < 0n ? F.BIGINT_NEG : F.BIGINT_POS)
      w.string((v < 0n ? -v : v).toString(16))
    }
  }

  /** Writes a back-reference to the object whose tag is at `at`, marking that tag as shared. */
  private ref(at: number): void {
    const w = this.w
    const i = w.messageStart + at
    const tag = w.buf[i]!
    if (tag < F.FIXARRAY + F.SHARED) w.buf[i] = tag + F.SHARED
    this.u8(F.REF)
    this.varuint(at)
  }

  /** The offset the next byte will have in this message. */
  private offset(): number {
    return this.w.pos - this.w.messageStart
  }

  /** Enters a container; returns the depth of its items. */
  private enter(kind: number): number {
    const d = this.depth + 1
    if (d > this.maxDepth) throw this.fail(`nesting deeper than ${this.maxDepth} levels (raise maxDepth with Pickle.make)`)
    this.pathKinds[d] = kind
    this.depth = d
    return d
  }

  // ---- objects ----------------------------------------------------------

  private object(o: object): void {
    const seen = this.memo.get(o)
    if (seen !== undefined) {
      if (this.reducing.size !== 0 && this.reducing.has(o)) {
        throw this.fail("a cycle runs through the reduced state of a class instance; such a cycle cannot be rebuilt")
      }
      return this.ref(seen)
    }
    this.memo.set(o, this.offset())
    const proto = Object.getPrototypeOf(o)
    if (proto === ObjectPrototype) return this.plain(o as Record<string, unknown>)
    if (proto === ArrayPrototype) return this.array(o as Array<unknown>)
    if (proto === null) return this.dict(o as Record<string, unknown>, Object.keys(o), F.OBJECT_NULL)
    const kind = F.builtinPrototypes.get(proto)
    if (kind === undefined) return this.instance(o, proto)
    if (kind < F.K_VIEW) return this.error(o as Error, kind - F.K_ERROR)
    if (kind < F.K_DATE) return this.view(o as ArrayBufferView, kind - F.K_VIEW)
    switch (kind) {
      case F.K_DATE:
        return this.date(o as Date)
      case F.K_REGEXP:
        return this.regexp(o as RegExp)
      case F.K_MAP:
        return this.map(o as Map<unknown, unknown>)
      case F.K_SET:
        return this.set(o as Set<unknown>)
      case F.K_ARRAYBUFFER:
        return this.arrayBufferValue(o as ArrayBuffer)
      default:
        return this.boxed(o, proto)
    }
  }

  private plain(o: Record<string, unknown>): void {
    const keys = Object.keys(o)
    const n = keys.length
    if (n > F.MAX_SHAPE_KEYS) return this.dict(o, keys, F.OBJECT_DICT)
    const shape = this.shapeOf(keys, n)
    if (shape.epoch === this.epoch && shape.id < 16) this.u8(F.FIXSHAPE | shape.id)
    else {
      this.u8(F.OBJECT)
      this.shapeRef(shape, keys, n)
    }
    this.props(o, keys, n)
  }

  private props(o: Record<string, unknown>, keys: ReadonlyArray<string>, n: number): void {
    const d = this.enter(P_PROP)
    const pathKeys = this.pathKeys
    for (let i = 0; i < n; i++) {
      const k = keys[i]!
      pathKeys[d] = k
      this.value(o[k])
    }
    this.depth = d - 1
  }

  /** Finds the shape node for `keys`: the last shape used at this depth, else the transition tree. */
  private shapeOf(keys: ReadonlyArray<string>, n: number): ShapeNode {
    const depth = this.depth
    const last = this.lastShape[depth]
    if (last !== undefined) {
      const lastKeys = last.keys!
      if (lastKeys.length === n) {
        let i = 0
        while (i < n && lastKeys[i] === keys[i]) i++
        if (i === n) return last
      }
    }
    let node = this.shapeRoot
    for (let i = 0; i < n; i++) {
      const k = keys[i]!
      let next = node.next === undefined ? undefined : node.next.get(k)
      if (next === undefined) {
        next = new ShapeNode()
        this.shapeNodes++
        if (node.next === undefined) node.next = new Map()
        node.next.set(k, next)
      }
      node = next
    }
    if (node.keys === undefined) node.keys = keys
    this.lastShape[depth] = node
    return node
  }

  /** Writes a shape's id, defining it first if this header has not seen it. */
  private shapeRef(shape: ShapeNode, keys: ReadonlyArray<string>, n: number): void {
    if (shape.epoch === this.epoch) return this.varuint(shape.id)
    shape.epoch = this.epoch
    shape.id = this.shapeCount++
    this.varuint(shape.id)
    const w = this.w
    if (shape.def !== undefined) return w.bytes(shape.def)
    const start = w.pos
    this.varuint(n)
    for (let i = 0; i < n; i++) w.string(keys[i]!)
    shape.def = w.buf.slice(start, w.pos)
  }

  private dict(o: Record<string, unknown>, keys: ReadonlyArray<string>, tag: number): void {
    const n = keys.length
    this.u8(tag)
    this.varuint(n)
    const d = this.enter(P_PROP)
    for (let i = 0; i < n; i++) {
      const k = keys[i]!
      this.pathKeys[d] = k
      this.w.string(k)
      this.value(o[k])
    }
    this.depth = d - 1
  }

  private array(a: Array<unknown>): void {
    const n = a.length
    if (n < 16) this.u8(F.FIXARRAY | n)
    else {
      this.u8(F.ARRAY)
      this.varuint(n)
    }
    const d = this.enter(P_INDEX)
    const pathKeys = this.pathKeys
    for (let i = 0; i < n; i++) {
      const v = a[i]
      if (v === undefined && !(i in a)) {
        this.sparseRest(a, i, n, d)
        break
      }
      pathKeys[d] = i
      this.value(v)
    }
    this.depth = d - 1
  }

  /** From the first hole on, walks only the present indices (a length of 2^32-1 costs nothing). */
  private sparseRest(a: Array<unknown>, from: number, n: number, d: number): void {
    const keys = Object.keys(a)
    let at = from
    for (let j = 0; j < keys.length; j++) {
      const k = keys[j]!
      const index = Number(k)
      if (!(index < n) || String(index) !== k) break // index keys come first, in ascending order
      if (index < at) continue
      this.holes(index - at)
      this.pathKeys[d] = index
      this.value(a[index])
      at = index + 1
    }
    this.holes(n - at)
  }

  private holes(count: number): void {
    if (count === 1) this.u8(F.HOLE)
    else if (count > 1) {
      this.u8(F.HOLES)
      this.varuint(count)
    }
  }

  private map(m: Map<unknown, unknown>): void {
    const size = m.size
    this.u8(F.MAP)
    this.varuint(size)
    const d = this.enter(P_MAP_KEY)
    let i = 0
    for (const [k, v] of m) {
      this.pathKinds[d] = P_MAP_KEY
      this.pathKeys[d] = i
      this.value(k)
      this.pathKinds[d] = P_MAP_VALUE
      this.value(v)
      i++
    }
    this.depth = d - 1
    if (i !== size) throw this.fail("the Map changed size while it was being encoded")
  }

  private set(s: Set<unknown>): void {
    const size = s.size
    this.u8(F.SET)
    this.varuint(size)
    const d = this.enter(P_SET)
    let i = 0
    for (const v of s) {
      this.pathKeys[d] = i++
      this.value(v)
    }
    this.depth = d - 1
    if (i !== size) throw this.fail("the Set changed size while it was being encoded")
  }

  private date(o: Date): void {
    const w = this.w
    const t = Date.prototype.getTime.call(o)
    w.ensure(9)
    w.buf[w.pos++] = F.DATE
    w.view.setFloat64(w.pos, t, true)
    w.pos += 8
  }

  private regexp(o: RegExp): void {
    const source = o.source
    const flags = o.flags
    this.u8(F.REGEXP)
    this.w.string(source)
    this.w.string(flags)
  }

  private boxed(o: object, proto: object): void {
    const inner = proto === Number.prototype ? Number.prototype.valueOf.call(o)
      : proto === String.prototype ? String.prototype.valueOf.call(o)
      : proto === Boolean.prototype ? Boolean.prototype.valueOf.call(o)
      : BigInt.prototype.valueOf.call(o)
    this.u8(F.BOXED)
    this.value(inner)
  }

  private error(e: Error, kind: number): void {
    let flags = 0
    const hasMessage = hasOwn(e, "message")
    const stack = hasOwn(e, "stack") ? e.stack : undefined
    if (hasMessage) flags |= F.ERR_MESSAGE
    if (typeof stack === "string") flags |= F.ERR_STACK
    if (hasOwn(e, "cause")) flags |= F.ERR_CAUSE
    if (kind === F.AGGREGATE_ERROR_KIND && hasOwn(e, "errors")) flags |= F.ERR_ERRORS
    this.u8(F.ERROR)
    this.u8(kind)
    this.u8(flags)
    if (hasMessage) this.w.string(String(e.message))
    if (typeof stack === "string") this.w.string(stack)
    const d = this.enter(P_CAUSE)
    this.pathKeys[d] = ""
    if ((flags & F.ERR_CAUSE) !== 0) this.value(e.cause)
    this.pathKinds[d] = P_ERRORS
    if ((flags & F.ERR_ERRORS) !== 0) this.value((e as AggregateError).errors)
    this.depth = d - 1
    const keys = Object.keys(e).filter((k) => k !== "message" && k !== "stack" && k !== "cause" && k !== "errors")
    this.varuint(keys.length)
    const dp = this.enter(P_PROP)
    for (const k of keys) {
      this.pathKeys[dp] = k
      this.w.string(k)
      this.value((e as unknown as Record<string, unknown>)[k])
    }
    this.depth = dp - 1
  }

  // ---- binary data ------------------------------------------------------

  private arrayBufferValue(ab: ArrayBuffer): void {
    // The memo already holds `ab` at this offset (object() put it there): write the node itself.
    this.bufferBytes(ab, F.ARRAYBUFFER, F.ARRAYBUFFER_OOB)
  }

  private bufferBytes(ab: ArrayBufferLike, inlineTag: number, oobTag: number): void {
    const n = ab.byteLength
    if (n >= this.threshold) {
      this.u8(oobTag)
      this.varuint(this.buffers.length)
      this.buffers.push(new Uint8Array(ab))
    } else {
      this.u8(inlineTag)
      this.varuint(n)
      this.w.bytes(new Uint8Array(ab))
    }
  }

  /**
   * A view that covers its whole buffer, or whose buffer this header already
   * carries, refers to that buffer (sharing and byteOffset kept); any other
   * view travels alone with just its own bytes.
   */
  private view(v: ArrayBufferView, kind: number): void {
    const buffer = v.buffer
    const byteOffset = v.byteOffset
    const byteLength = v.byteLength
    const full = byteOffset === 0 && byteLength === buffer.byteLength
    const known = this.memo.get(buffer)
    if (full || known !== undefined) {
      this.u8(F.VIEW)
      this.u8(kind)
      if (known !== undefined) this.ref(known)
      else {
        this.memo.set(buffer, this.offset())
        this.bufferBytes(buffer, F.ARRAYBUFFER, F.ARRAYBUFFER_OOB)
      }
      this.varuint(byteOffset)
      this.varuint(byteLength / F.viewKinds[kind]!.size)
      return
    }
    const bytes = new Uint8Array(buffer, byteOffset, byteLength)
    if (byteLength >= this.threshold) {
      this.u8(F.TYPED_OOB)
      this.u8(kind)
      this.varuint(this.buffers.length)
      this.buffers.push(bytes)
    } else {
      this.u8(F.TYPED)
      this.u8(kind)
      this.varuint(byteLength)
      this.w.bytes(bytes)
    }
  }

  // ---- class instances --------------------------------------------------

  private instance(o: object, proto: object): void {
    const entry = this.registry.forPrototype(proto)
    if (entry === undefined) throw this.fail(unregisteredMessage(o, proto))
    if (entry.reduced) return this.reducedInstance(o, entry)
    this.u8(F.INSTANCE)
    this.classRef(entry)
    const keys = Object.keys(o)
    const n = keys.length
    this.shapeRef(this.shapeOf(keys, n), keys, n)
    this.props(o as Record<string, unknown>, keys, n)
  }

  private reducedInstance(o: object, entry: ClassEntry): void {
    let state: unknown
    try {
      state = entry.reduce !== undefined ? entry.reduce(o) : { ...o }
    } catch (e) {
      throw this.fail(`reduce of class "${entry.name}" threw: ${e instanceof Error ? e.message : String(e)}`)
    }
    this.u8(F.INSTANCE_REDUCED)
    this.classRef(entry)
    this.reducing.add(o)
    const d = this.enter(P_STATE)
    this.pathKeys[d] = ""
    this.value(state)
    this.depth = d - 1
    this.reducing.delete(o)
  }

  private classRef(entry: ClassEntry): void {
    if (entry.epoch === this.epoch) return this.varuint(entry.wireId)
    entry.epoch = this.epoch
    entry.wireId = this.classCount++
    this.varuint(entry.wireId)
    const w = this.w
    if (entry.nameBytes !== undefined) return w.bytes(entry.nameBytes)
    const start = w.pos
    w.string(entry.name)
    entry.nameBytes = w.buf.slice(start, w.pos)
  }
}

const unregisteredMessage = (o: object, proto: object): string => {
  if (typeof SharedArrayBuffer !== "undefined" && proto === SharedArrayBuffer.prototype) {
    return "a SharedArrayBuffer cannot be pickled; send a typed array over it (its bytes travel) instead"
  }
  let name = "?"
  try {
    const ctor = (proto as { constructor?: { name?: unknown } }).constructor
    name = typeof ctor?.name === "string" && ctor.name !== "" ? ctor.name : Object.prototype.toString.call(o)
  } catch {
    // a throwing getter on the prototype: keep "?"
  }
  return `an instance of the unregistered class ${name}; register it with registerClass(${name}, { name: "${name}" })`
}
