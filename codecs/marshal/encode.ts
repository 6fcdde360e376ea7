/**
 * The marshal encoder: values of marshal's domain to bytes (see format.ts).
 *
 * Plain recursive code over one reused Writer slab. The per-message tables
 * (which shapes and keys this message has defined) live on long-lived nodes
 * stamped with the message's epoch, so starting a message clears nothing.
 */
import { Writer } from "../bytes/Writer.ts"
import type { EncodeError } from "../errors.ts"
import { describe, error, segment } from "./encodeErrors.ts"
import {
  FIXARRAY,
  FIXARRAY_MAX,
  FIXSHAPE,
  FIXSHAPE_MAX,
  FIXSTR,
  FIXSTR_MAX,
  HOST_LITTLE_ENDIAN,
  MAX_DEPTH,
  swapBytes,
  Tag,
  type TypedArray,
  typedClasses
} from "./format.ts"
import { type KeyEntry, ShapeNode } from "./shapeTree.ts"

/** Past this many shape nodes the tree is dropped and rebuilt, bounding memory under ever-new keys. */
const MAX_SHAPE_NODES = 8192
/**
 * An object with more keys than this is a dictionary rather than a record:
 * it is written as key/value pairs (`Tag.LargeObject`) and adds nothing to the
 * shape tree past this depth.
 */
export const MAX_SHAPE_KEYS = 64

const typedKindByProto = new Map<object, number>()
typedClasses.forEach((C, kind) => {
  if (C !== undefined) typedKindByProto.set(C.prototype as object, kind)
})

export class Encoder {
  private readonly w = new Writer()
  private epoch = 0
  private shapeCount = 0
  private keyCount = 0
  private depth = 0
  /** ancestors[d] is the container at depth d (1-based), for cycle reports and error paths. */
  private readonly ancestors: Array<unknown> = []
  /** Values of the objects being written, gathered during their key walk. */
  private readonly scratch: Array<unknown> = []
  private sp = 0
  private root = new ShapeNode(undefined, undefined)
  private nodeCount = 0
  private keyTable = new Map<string, KeyEntry>()
  /** Whether Object.prototype has enumerable properties (then `for in` needs an own-property check). */
  private inherited = false
  /** True while encoding: a getter that re-enters the codec gets its own encoder. */
  busy = false

  /**
   * Encodes one value into a view of the slab. Values outside the domain,
   * cycles and excessive nesting throw `EncodeError`; an exception thrown by
   * a getter passes through (Codec.make turns it into an `EncodeError`).
   */
  encode(value: unknown): Uint8Array {
    const w = this.w
    w.begin()
    this.epoch++
    this.shapeCount = 0
    this.keyCount = 0
    this.depth = 0
    this.sp = 0
    this.inherited = hasEnumerableInherited()
    if (this.nodeCount > MAX_SHAPE_NODES) {
      this.root = new ShapeNode(undefined, undefined)
      this.keyTable = new Map()
      this.nodeCount = 0
    }
    this.busy = true
    try {
      this.write(value)
      return w.finish()
    } catch (e) {
      w.abort()
      this.scratch.length = 0
      throw e
    } finally {
      this.busy = false
      // Drop the references to the value (a loop: `length = 0` frees the
      // backing store, and regrowing it cost ~60 ns a message).
      const chain = this.ancestors
      for (let d = 1; chain[d] !== undefined; d++) chain[d] = undefined
    }
  }

  private write(v: unknown): void {
    switch (typeof v) {
      case "string":
        return this.writeString(v)
      case "number":
        return this.writeNumber(v)
      case "object": {
        if (v === null) return this.writeByte(Tag.Null)
        if (Array.isArray(v)) return this.writeArray(v)
        const proto = Object.getPrototypeOf(v)
        if (proto === Object.prototype || proto === null) return this.writeObject(v)
        return this.writeOther(v)
      }
      case "boolean":
        return this.writeByte(v ? Tag.True : Tag.False)
      case "undefined":
        return this.writeByte(Tag.Undefined)
      case "bigint":
        return this.writeBigInt(v)
      default:
        throw this.unsupported(v, typeof v === "function" ? "a function" : `a ${typeof v}`)
    }
  }

  private writeByte(b: number): void {
    const w = this.w
    if (w.pos >= w.buf.length) w.ensure(1)
    w.buf[w.pos++] = b
  }

  private writeNumber(v: number): void {
    const w = this.w
    if (w.pos + 9 > w.buf.length) w.ensure(9)
    const buf = w.buf
    let pos = w.pos
    if ((v | 0) === v) {
      if (v >= 0) {
        if (v < 0x80) {
          if (v === 0 && 1 / v < 0) {
            // -0: kept exactly, as a float32.
            buf[pos] = Tag.Float32
            w.view.setFloat32(pos + 1, v, true)
            w.pos = pos + 5
            return
          }
          buf[pos] = v
          w.pos = pos + 1
        } else if (v < 0x100) {
          buf[pos] = Tag.Uint8
          buf[pos + 1] = v
          w.pos = pos + 2
        } else if (v < 0x10000) {
          buf[pos] = Tag.Uint16
          buf[pos + 1] = v
          buf[pos + 2] = v >> 8
          w.pos = pos + 3
        } else {
          buf[pos] = Tag.Uint32
          w.view.setUint32(pos + 1, v, true)
          w.pos = pos + 5
        }
      } else if (v >= -32) {
        buf[pos] = v & 0xff
        w.pos = pos + 1
      } else if (v >= -0x80) {
        buf[pos] = Tag.Int8
        buf[pos + 1] = v
        w.pos = pos + 2
      } else if (v >= -0x8000) {
        buf[pos] = Tag.Int16
        buf[pos + 1] = v
        buf[pos + 2] = v >> 8
        w.pos = pos + 3
      } else {
        buf[pos] = Tag.Int32
        w.view.setInt32(pos + 1, v, true)
        w.pos = pos + 5
      }
      return
    }
    if (v >>> 0 === v) {
      buf[pos] = Tag.Uint32
      w.view.setUint32(pos + 1, v, true)
      w.pos = pos + 5
      return
    }
    // A short decimal (2.72, -0.5, 19.99) as m / 10^k, k <= 4: exact by
    // construction, since the check performs the decoder's very division. One
    // check covers every k: if v = fl(m / 10^k) then round(v * 10^4) = m * 10^(4-k)
    // exactly, and dividing that by 10^4 is the same real quotient, so the same double.
    if (v < 214748 && v > -214748) {
      let m = Math.round(v * 10000)
      if (m / 10000 === v) {
        let k = 4
        while (k > 1 && m % 10 === 0) {
          m /= 10
          k--
        }
        buf[pos++] = Tag.Decimal1 - 1 + k
        let z = m < 0 ? -2 * m - 1 : 2 * m
        while (z >= 0x80) {
          buf[pos++] = (z & 0x7f) | 0x80
          z >>>= 7
        }
        buf[pos++] = z
        w.pos = pos
        return
      }
    }
    if (Math.fround(v) === v) {
      buf[pos] = Tag.Float32
      w.view.setFloat32(pos + 1, v, true)
      w.pos = pos + 5
      return
    }
    buf[pos] = Tag.Float64
    w.view.setFloat64(pos + 1, v, true)
    w.pos = pos + 9
  }

  /** Writes a string with its tag: fixstr up to 31 bytes, else `Tag.String` and a varuint length. */
  private writeString(s: string): void {
    const len = s.length
    const w = this.w
    if (len > FIXSTR_MAX) {
      this.writeByte(Tag.String)
      w.string(s)
      return
    }
    if (w.pos + len * 3 + 2 > w.buf.length) w.ensure(len * 3 + 2)
    const buf = w.buf
    const tagPos = w.pos
    let pos = tagPos + 1
    let i = 0
    for (; i < len; i++) {
      const c = s.charCodeAt(i)
      if (c >= 0x80) break
      buf[pos++] = c
    }
    if (i === len) {
      buf[tagPos] = FIXSTR | len
      w.pos = pos
      return
    }
    // Not ASCII: let the Writer produce WTF-8 (varuint length + bytes) after a String tag.
    // At most 93 bytes, so the length is one byte; a fixstr then takes one byte less.
    buf[tagPos] = Tag.String
    w.pos = tagPos + 1
    const n = w.string(s)
    if (n <= FIXSTR_MAX) {
      w.buf.copyWithin(tagPos + 1, tagPos + 2, tagPos + 2 + n)
      w.buf[tagPos] = FIXSTR | n
      w.pos = tagPos + 1 + n
    }
  }

  /** An unsigned integer in the smallest form (used for key indexes). */
  private writeUint(v: number): void {
    if (v < 0x80) return this.writeByte(v)
    this.writeNumber(v)
  }

  private enter(container: object): void {
    const depth = ++this.depth
    if (depth > MAX_DEPTH) throw this.tooDeep(container)
    this.ancestors[depth] = container
  }

  private writeArray(a: ReadonlyArray<unknown>): void {
    this.enter(a)
    const n = a.length
    if (n <= FIXARRAY_MAX) this.writeByte(FIXARRAY | n)
    else {
      this.writeByte(Tag.Array)
      this.w.varuint(n)
    }
    // Holes read as undefined, so a sparse array arrives dense.
    for (let i = 0; i < n; i++) this.write(a[i])
    this.depth--
  }

  private writeObject(o: object): void {
    this.enter(o)
    const obj = o as Record<string, unknown>
    const scratch = this.scratch
    const base = this.sp
    let sp = base
    let node = this.root
    const inherited = this.inherited
    // One `for in` gathers both the shape and the values: V8 turns `obj[key]`
    // inside it into a field load through the enum cache.
    for (const key in obj) {
      if (inherited && !Object.hasOwn(obj, key)) continue
      if (sp - base === MAX_SHAPE_KEYS) {
        for (let i = base; i < sp; i++) scratch[i] = undefined
        return this.writeLargeObject(obj)
      }
      node = node.child(key) ?? this.addChild(node, key)
      scratch[sp++] = obj[key]
    }
    this.sp = sp
    if (node.epoch === this.epoch) {
      const index = node.index
      if (index <= FIXSHAPE_MAX) this.writeByte(FIXSHAPE | index)
      else {
        this.writeByte(Tag.Shape)
        this.w.varuint(index)
      }
    } else this.defineShape(node)
    for (let i = base; i < sp; i++) {
      const v = scratch[i]
      scratch[i] = undefined
      this.write(v)
    }
    this.sp = base
    this.depth--
  }

  /** A dictionary-like object: its key/value pairs, keys as plain strings (they rarely repeat). */
  private writeLargeObject(obj: Record<string, unknown>): void {
    const keys = Object.keys(obj)
    this.writeByte(Tag.LargeObject)
    this.w.varuint(keys.length)
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!
      this.writeString(key)
      this.write(obj[key])
    }
    this.depth--
  }

  private addChild(parent: ShapeNode, key: string): ShapeNode {
    let entry = this.keyTable.get(key)
    if (entry === undefined) {
      entry = { key, epoch: 0, index: 0 }
      this.keyTable.set(key, entry)
    }
    const child = new ShapeNode(parent, entry)
    if (parent.firstChild === undefined) {
      parent.firstKey = key
      parent.firstChild = child
    } else (parent.children ??= new Map()).set(key, child)
    this.nodeCount++
    return child
  }

  private defineShape(node: ShapeNode): void {
    const epoch = this.epoch
    node.epoch = epoch
    node.index = this.shapeCount++
    const entries = node.shapeEntries()
    let allNew = true
    for (let i = 0; i < entries.length; i++) {
      if (entries[i]!.epoch === epoch) {
        allNew = false
        break
      }
    }
    if (allNew) {
      // The usual case (every shape of a small message): the definition is
      // the same bytes every time, so it is copied rather than re-encoded.
      for (let i = 0; i < entries.length; i++) {
        const entry = entries[i]!
        entry.epoch = epoch
        entry.index = this.keyCount++
      }
      const definition = node.definition
      if (definition !== undefined) return this.writeBytes(definition)
      const start = this.w.pos
      this.writeByte(Tag.ShapeNew)
      this.w.varuint(entries.length)
      for (let i = 0; i < entries.length; i++) this.writeString(entries[i]!.key)
      node.definition = this.w.buf.slice(start, this.w.pos)
      return
    }
    this.writeByte(Tag.ShapeNew)
    this.w.varuint(entries.length)
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!
      if (entry.epoch === epoch) this.writeUint(entry.index)
      else {
        entry.epoch = epoch
        entry.index = this.keyCount++
        this.writeString(entry.key)
      }
    }
  }

  /** Copies bytes in; a loop for short runs (a `set` call costs more below ~64 bytes). */
  private writeBytes(bytes: Uint8Array): void {
    const n = bytes.length
    const w = this.w
    if (w.pos + n > w.buf.length) w.ensure(n)
    const buf = w.buf
    const pos = w.pos
    if (n <= 64) for (let i = 0; i < n; i++) buf[pos + i] = bytes[i]!
    else buf.set(bytes, pos)
    w.pos = pos + n
  }

  private writeBigInt(v: bigint): void {
    const negative = v < 0n
    const mag = negative ? -v : v
    this.writeByte(negative ? Tag.BigNegative : Tag.BigPositive)
    const w = this.w
    if (mag <= 0xffffffffffffffffn) {
      let lo = Number(mag & 0xffffffffn)
      const hi = Number(mag >> 32n)
      const n = hi !== 0 ? 4 + byteCount(hi) : byteCount(lo)
      w.ensure(9)
      const buf = w.buf
      let pos = w.pos
      buf[pos++] = n
      for (let i = 0; i < n; i++) {
        if (i === 4) lo = hi
        buf[pos++] = lo & 0xff
        lo = lo >>> 8
      }
      w.pos = pos
      return
    }
    // Large: through hex, linear in the size (byte-by-byte shifts would be quadratic).
    let hex = mag.toString(16)
    if (hex.length % 2 === 1) hex = "0" + hex
    const n = hex.length / 2
    w.varuint(n)
    w.ensure(n)
    const buf = w.buf
    const pos = w.pos
    for (let i = 0; i < n; i++) {
      const at = hex.length - 2 - 2 * i
      buf[pos + i] = (hexDigit(hex.charCodeAt(at)) << 4) | hexDigit(hex.charCodeAt(at + 1))
    }
    w.pos = pos + n
  }

  /** Typed arrays (class kept), and plain objects of another realm; anything else is an EncodeError. */
  private writeOther(v: object): void {
    if (ArrayBuffer.isView(v)) {
      const kind = typedKindOf(v)
      if (kind >= 0) return this.writeTyped(v as TypedArray, kind)
      throw this.unsupported(v, v instanceof DataView ? "a DataView" : describe(v))
    }
    if (isForeignPlainObject(v)) return this.writeObject(v)
    throw this.unsupported(v, describe(v))
  }

  private writeTyped(a: TypedArray, kind: number): void {
    const w = this.w
    const n = a.byteLength
    w.ensure(n + 12)
    w.buf[w.pos++] = Tag.Typed
    w.buf[w.pos++] = kind
    w.varuint(n)
    const bytes = new Uint8Array(a.buffer, a.byteOffset, n)
    w.buf.set(bytes, w.pos)
    if (!HOST_LITTLE_ENDIAN) swapBytes(w.buf, w.pos, n, a.BYTES_PER_ELEMENT)
    w.pos += n
  }

  private unsupported(v: unknown, what: string): EncodeError {
    const path = this.pathTo(this.depth, v)
    return error(
      path,
      `${what} is outside marshal's domain (null, undefined, booleans, numbers, bigints, strings, arrays, ` +
        `plain objects, typed arrays); use pickle for object graphs, Map, Set, Date and classes`
    )
  }

  /** Called when a container would sit deeper than MAX_DEPTH: a cycle if an ancestor repeats. */
  private tooDeep(container: object): EncodeError {
    const chain = this.ancestors
    chain[MAX_DEPTH + 1] = container
    const seen = new Map<unknown, number>()
    for (let d = 1; d <= MAX_DEPTH + 1; d++) {
      const earlier = seen.get(chain[d])
      if (earlier !== undefined) {
        const path = this.pathTo(d - 1, chain[d])
        return error(
          path,
          `a cycle: it is its own ancestor ${this.pathTo(earlier - 1, chain[earlier])}; ` +
            `marshal writes values, not references (use pickle for object graphs)`
        )
      }
      seen.set(chain[d], d)
    }
    return error(this.pathTo(MAX_DEPTH, container), `nesting deeper than ${MAX_DEPTH} levels`)
  }

  /** The path (`$.a.b[3]`) of `leaf` inside the container at `depth`, found by identity. */
  private pathTo(depth: number, leaf: unknown): string {
    let path = "$"
    const chain = this.ancestors
    for (let d = 1; d <= depth; d++) {
      path += segment(chain[d], d < depth ? chain[d + 1] : leaf)
    }
    return path
  }
}

const hasEnumerableInherited = (): boolean => {
  for (const _ in Object.prototype) return true
  return false
}

const typedKindOf = (v: object): number => {
  let proto = Object.getPrototypeOf(v)
  // Subclasses (Node's Buffer) travel as their base class.
  while (proto !== null) {
    const kind = typedKindByProto.get(proto)
    if (kind !== undefined) return kind
    proto = Object.getPrototypeOf(proto)
  }
  return -1
}

/** A plain object from another realm (a vm context): its prototype is an `Object.prototype`. */
const isForeignPlainObject = (v: object): boolean => {
  const proto = Object.getPrototypeOf(v)
  return Object.getPrototypeOf(proto) === null && typeof proto.constructor === "function" && proto.constructor.name === "Object"
}

const byteCount = (v: number): number => (v === 0 ? 0 : v < 0x100 ? 1 : v < 0x10000 ? 2 : v < 0x1000000 ? 3 : 4)

const hexDigit = (c: number): number => (c <= 0x39 ? c - 0x30 : c - 0x57)
