/**
 * The pickle encoder: walks a value depth-first and writes the format of
 * `format.ts` into a reused slab.
 *
 * The walk is iterative: containers are frames on an explicit stack (parallel
 * arrays, reused across messages), so nesting is bounded only by `maxDepth`
 * and never by the call stack. A frame's leaf children are written in a tight
 * loop; only a child container interrupts it.
 *
 * Hot-path notes (each measured against the obvious alternative):
 * - every object gets an ordinal in the order its tag is written, kept by the
 *   memo (`Memo.ts`, which keeps its hash tables small). A back-reference
 *   writes the ordinal and patches the first occurrence's tag to its SHARED
 *   twin, so the decoder stores only the objects that are referenced again
 *   (by ordinal, in an array);
 * - plain objects are written as a shape (their key list, defined once per
 *   header, found through a per-depth last-shape cache and then a tree of key
 *   transitions kept across messages) followed by the values: a record costs
 *   its values plus one byte;
 * - the path for error messages is rebuilt from the stack only on failure.
 */
import { Writer } from "../bytes/Writer.ts"
import type { Frames } from "../Codec.ts"
import { EncodeError, encodeError } from "../errors.ts"
import type { ClassEntry, ClassRegistry } from "./ClassRegistry.ts"
import * as F from "./format.ts"
import { FrameStack } from "./FrameStack.ts"
import { Memo } from "./Memo.ts"
import { formatPath, P_INDEX, P_MAP_KEY, P_MAP_VALUE, P_PROP, P_SET, segment } from "./path.ts"

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

// Frame kinds.
/** Values of `keys[0..n)` of an object (plain objects, default class instances). */
const FR_PROPS = 0
/** A key string, then its value, for `keys[0..n)` (dictionaries, null-prototype objects, error properties). */
const FR_DICT = 1
/** Items of a dense array; turns into FR_SPARSE at the first hole. */
const FR_ARRAY = 2
/** Present items of a sparse array: `keys` are its own keys, `idx` a cursor in them, `aux` the next index to write. */
const FR_SPARSE = 3
/** A Map: `obj` its entries iterator, `idx` the items written (two per entry), `aux` the pending value. */
const FR_MAP = 4
/** A Set: `obj` its values iterator, `idx` the items written. */
const FR_SET = 5
/** An Error's cause / errors: `aux` the values, `keys` their labels. */
const FR_TAIL = 6
/** A reduced instance's state (`aux`); `obj` the instance, removed from `reducing` when done. */
const FR_STATE = 7

/** Shape-tree nodes kept across messages; past this the tree is dropped before the next message. */
const MAX_SHAPE_NODES = 20_000
const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n
const EMPTY: ReadonlyArray<Uint8Array> = Object.freeze([])
const ObjectPrototype = Object.prototype
const ArrayPrototype = Array.prototype
const hasOwn = Object.hasOwn
const objectHasOwn = Object.prototype.hasOwnProperty

/** Epochs are unique across encoders so that registry entries shared by several encoders never mix up ids. */
let epochCounter = 0

export class Encoder {
  /** True while a message is being written (a `reduce` that pickles re-enters: it gets its own encoder). */
  busy = false
  private readonly w = new Writer()
  /** The objects this message has written, their ordinals and where their tags are. */
  private readonly memo = new Memo()
  private lastSize = 0
  private buffers: Array<Uint8Array> = []
  // The explicit stack (FrameStack.ts) and its pointer.
  private readonly stack: FrameStack<ShapeNode | undefined>
  private sp = 0
  private shapeRoot = new ShapeNode()
  private lastAny: ShapeNode | undefined = undefined
  private shapeNodes = 0
  private shapeCount = 0
  private classCount = 0
  private epoch = 0
  private readonly reducing = new Set<object>()
  /** The prototype of the last registered class written, its entry, and the registry's generation then. */
  private lastClass: object | undefined = undefined
  private lastClassEntry: ClassEntry | undefined = undefined
  private lastClassGeneration = -1
  private readonly codec: string
  private readonly registry: ClassRegistry
  private readonly threshold: number
  private readonly maxDepth: number

  constructor(options: EncoderOptions) {
    this.codec = options.codec
    this.registry = options.registry
    this.threshold = options.outOfBandThreshold
    this.maxDepth = options.maxDepth
    this.stack = new FrameStack<ShapeNode | undefined>(this.maxDepth, undefined, () => this.fail(`nesting deeper than ${this.maxDepth} levels (raise maxDepth with Pickle.make)`))
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
      this.item(value)
      if (this.sp !== 0) this.run()
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
      this.forget()
      this.shapeCount = 0
      this.classCount = 0
      if (this.reducing.size !== 0) this.reducing.clear()
      this.busy = false
    }
  }

  /** Lets go of the message's objects (the memo and the stack hold them). */
  private forget(): void {
    this.memo.clear()
    this.sp = 0
    this.stack.release()
  }

  /** Where the next byte goes, from the message's start (an object's tag offset). */
  private get offset(): number {
    return this.w.pos - this.w.messageStart
  }

  private dropShapes(): void {
    this.shapeRoot = new ShapeNode()
    this.shapeNodes = 0
    this.stack.extras.fill(undefined)
    this.lastAny = undefined
  }

  // ---- the stack --------------------------------------------------------

  private push(kind: number, obj: unknown, keys: ReadonlyArray<string> | undefined, n: number, aux: unknown): void {
    this.stack.open(this.sp, kind, obj, keys, n, aux)
    this.sp++
  }

  /** Writes the children of the open containers until none is left open. */
  private run(): void {
    const { kinds, objs, keyLists, idxs, lens, auxs } = this.stack
    outer: while (this.sp > 0) {
      const f = this.sp - 1
      switch (kinds[f]) {
        case FR_PROPS: {
          const o = objs[f] as Record<string, unknown>
          const keys = keyLists[f]!
          const n = lens[f]!
          let i = idxs[f]!
          while (i < n) {
            const k = keys[i++]!
            idxs[f] = i
            this.item(o[k])
            if (this.sp !== f + 1) continue outer
          }
          break
        }
        case FR_ARRAY: {
          const a = objs[f] as Array<unknown>
          const n = lens[f]!
          let i = idxs[f]!
          while (i < n) {
            const v = a[i]
            if (v === undefined && !(i in a)) {
              // From the first hole on, walk only the present indices (a length of 2^32-1 costs nothing).
              kinds[f] = FR_SPARSE
              keyLists[f] = Object.keys(a)
              idxs[f] = 0
              auxs[f] = i
              continue outer
            }
            idxs[f] = ++i
            this.item(v)
            if (this.sp !== f + 1) continue outer
          }
          break
        }
        case FR_DICT: {
          const o = objs[f] as Record<string, unknown>
          const keys = keyLists[f]!
          const n = lens[f]!
          let i = idxs[f]!
          while (i < n) {
            const k = keys[i++]!
            idxs[f] = i
            this.w.string(k)
            this.item(o[k])
            if (this.sp !== f + 1) continue outer
          }
          break
        }
        case FR_SPARSE: {
          const a = objs[f] as Array<unknown>
          const keys = keyLists[f]!
          const n = lens[f]!
          let j = idxs[f]!
          let at = auxs[f] as number
          while (j < keys.length) {
            const k = keys[j++]!
            const index = Number(k)
            if (!(index < n) || String(index) !== k) break // index keys come first, in ascending order
            if (index < at) continue
            this.holes(index - at)
            at = index + 1
            idxs[f] = j
            auxs[f] = at
            this.item(a[index])
            if (this.sp !== f + 1) continue outer
          }
          this.holes(n - at)
          break
        }
        case FR_MAP: {
          const entries = objs[f] as MapIterator<[unknown, unknown]>
          const n = lens[f]!
          for (;;) {
            const i = idxs[f]!
            if ((i & 1) === 1) {
              idxs[f] = i + 1
              const v = auxs[f]
              auxs[f] = undefined
              this.item(v)
            } else {
              const r = entries.next()
              if (r.done === true || i >> 1 === n) {
                if (r.done !== true || i >> 1 !== n) throw this.fail("the Map changed size while it was being encoded", f)
                break
              }
              idxs[f] = i + 1
              auxs[f] = r.value[1]
              this.item(r.value[0])
            }
            if (this.sp !== f + 1) continue outer
          }
          break
        }
        case FR_SET: {
          const values = objs[f] as SetIterator<unknown>
          const n = lens[f]!
          for (;;) {
            const i = idxs[f]!
            const r = values.next()
            if (r.done === true || i === n) {
              if (r.done !== true || i !== n) throw this.fail("the Set changed size while it was being encoded", f)
              break
            }
            idxs[f] = i + 1
            this.item(r.value)
            if (this.sp !== f + 1) continue outer
          }
          break
        }
        case FR_TAIL: {
          const values = auxs[f] as Array<unknown>
          let i = idxs[f]!
          while (i < values.length) {
            idxs[f] = ++i
            this.item(values[i - 1])
            if (this.sp !== f + 1) continue outer
          }
          break
        }
        default: {
          // FR_STATE
          if (idxs[f] === 0) {
            idxs[f] = 1
            this.item(auxs[f])
            if (this.sp !== f + 1) continue outer
          }
          this.reducing.delete(objs[f] as object)
        }
      }
      this.sp = f
    }
  }

  // ---- errors -----------------------------------------------------------

  /** An EncodeError at the path of the child being written by frames `[0, upto)`. */
  private fail(what: string, upto: number = this.sp): EncodeError {
    const segments: Array<string> = []
    for (let f = 0; f < upto; f++) {
      const i = this.stack.idxs[f]!
      switch (this.stack.kinds[f]) {
        case FR_PROPS:
        case FR_DICT:
          segments.push(segment(P_PROP, this.stack.keyLists[f]![i - 1]!))
          break
        case FR_ARRAY:
          segments.push(segment(P_INDEX, i - 1))
          break
        case FR_SPARSE:
          segments.push(segment(P_INDEX, (this.stack.auxs[f] as number) - 1))
          break
        case FR_MAP:
          segments.push(segment((i - 1) & 1 ? P_MAP_VALUE : P_MAP_KEY, (i - 1) >> 1))
          break
        case FR_SET:
          segments.push(segment(P_SET, i - 1))
          break
        case FR_TAIL:
          if (i > 0) segments.push(`.${this.stack.keyLists[f]![i - 1]}`)
          break
        default:
          segments.push("(state)")
      }
    }
    return encodeError(this.codec, formatPath(segments), what)
  }

  private toEncodeError(e: unknown): EncodeError {
    if (e instanceof EncodeError) return e
    return this.fail(e instanceof Error ? e.message : String(e))
  }

  // ---- values -----------------------------------------------------------

  /** Writes a value: a leaf whole, a container as its header plus an open frame. */
  private item(v: unknown): void {
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

  private u8(b: number): void {
    const w = this.w
    if (w.pos >= w.buf.length) w.ensure(1)
    w.buf[w.pos++] = b
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

  /** Writes a back-reference to object `ordinal`, marking its tag as shared. */
  private ref(ordinal: number): void {
    const w = this.w
    const i = w.messageStart + this.memo.offsetOf(ordinal)
    const tag = w.buf[i]!
    if (tag < F.FIXARRAY + F.SHARED) w.buf[i] = tag + F.SHARED
    this.u8(F.REF)
    this.varuint(ordinal)
  }

  // ---- objects ----------------------------------------------------------

  private object(o: object): void {
    const seen = this.memo.admit(o, this.offset)
    if (seen !== -1) {
      if (this.reducing.size !== 0 && this.reducing.has(o)) {
        throw this.fail("a cycle runs through the reduced state of a class instance; such a cycle cannot be rebuilt")
      }
      return this.ref(seen)
    }
    const proto = Object.getPrototypeOf(o)
    if (proto === ObjectPrototype) return this.plain(o as Record<string, unknown>)
    if (proto === ArrayPrototype) return this.array(o as Array<unknown>)
    if (proto === null) return this.dict(o as Record<string, unknown>, Object.keys(o), F.OBJECT_NULL)
    // The class met last, while the registry is unchanged: no lookups.
    if (proto === this.lastClass && this.registry.generation === this.lastClassGeneration) return this.instanceOf(o, this.lastClassEntry!)
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
    let shape = this.cachedShape(o)
    let keys: ReadonlyArray<string>
    if (shape !== undefined) keys = shape.keys!
    else {
      keys = Object.keys(o)
      if (keys.length > F.MAX_SHAPE_KEYS) return this.dict(o, keys, F.OBJECT_DICT)
      shape = this.shapeOf(keys, keys.length)
    }
    const n = keys.length
    if (shape.epoch === this.epoch && shape.id < 16) this.u8(F.FIXSHAPE | shape.id)
    else {
      this.u8(F.OBJECT)
      this.shapeRef(shape, keys, n)
    }
    if (n !== 0) this.push(FR_PROPS, o, keys, n, undefined)
  }

  /**
   * The last shape used at this depth (or anywhere) if `o`'s own enumerable
   * keys are exactly its keys. Checked with `for...in`, which walks V8's enum
   * cache without allocating: 2.5x faster than `Object.keys` on records.
   */
  private cachedShape(o: object): ShapeNode | undefined {
    const depth = this.sp
    let shape = this.stack.extras[depth]
    if (shape === undefined || !hasExactKeys(o, shape.keys!)) {
      shape = this.lastAny
      if (shape === undefined || !hasExactKeys(o, shape.keys!)) return undefined
      this.stack.extras[depth] = shape
    }
    return shape
  }

  /** Finds the shape node for `keys`: the last shape used at this depth, else the transition tree. */
  private shapeOf(keys: ReadonlyArray<string>, n: number): ShapeNode {
    const depth = this.sp
    const last = this.stack.extras[depth]
    if (last !== undefined && sameKeys(last.keys!, keys, n)) return last
    // Then the last shape used at any depth (a graph walked depth-first meets one shape at many depths).
    const any = this.lastAny
    if (any !== undefined && any !== last && sameKeys(any.keys!, keys, n)) {
      this.stack.extras[depth] = any
      return any
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
    this.stack.extras[depth] = node
    this.lastAny = node
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
    if (n !== 0) this.push(FR_DICT, o, keys, n, undefined)
  }

  private array(a: Array<unknown>): void {
    const n = a.length
    if (n < 16) this.u8(F.FIXARRAY | n)
    else {
      this.u8(F.ARRAY)
      this.varuint(n)
    }
    if (n !== 0) this.push(FR_ARRAY, a, undefined, n, undefined)
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
    this.push(FR_MAP, m.entries(), undefined, size, undefined)
  }

  private set(s: Set<unknown>): void {
    const size = s.size
    this.u8(F.SET)
    this.varuint(size)
    this.push(FR_SET, s.values(), undefined, size, undefined)
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
    this.item(inner)
  }

  /** Wire order: header, own props (a dictionary), then cause and errors. */
  private error(e: Error, kind: number): void {
    let flags = 0
    const hasMessage = hasOwn(e, "message")
    const stack = hasOwn(e, "stack") ? e.stack : undefined
    const tail: Array<unknown> = []
    const labels: Array<string> = []
    if (hasMessage) flags |= F.ERR_MESSAGE
    if (typeof stack === "string") flags |= F.ERR_STACK
    if (hasOwn(e, "cause")) {
      flags |= F.ERR_CAUSE
      tail.push(e.cause)
      labels.push("cause")
    }
    if (kind === F.AGGREGATE_ERROR_KIND && hasOwn(e, "errors")) {
      flags |= F.ERR_ERRORS
      tail.push((e as AggregateError).errors)
      labels.push("errors")
    }
    const keys = Object.keys(e).filter((k) => k !== "message" && k !== "stack" && k !== "cause" && k !== "errors")
    this.u8(F.ERROR)
    this.u8(kind)
    this.u8(flags)
    if (hasMessage) this.w.string(String(e.message))
    if (typeof stack === "string") this.w.string(stack)
    this.varuint(keys.length)
    // The tail runs after the properties: it goes under them on the stack.
    if (tail.length !== 0) this.push(FR_TAIL, e, labels, tail.length, tail)
    if (keys.length !== 0) this.push(FR_DICT, e, keys, keys.length, undefined)
  }

  // ---- binary data ------------------------------------------------------

  private arrayBufferValue(ab: ArrayBuffer): void {
    // The memo already holds `ab` (object() put it there): write the node itself.
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
    const known = this.memo.seen(buffer)
    if (full || known !== -1) {
      this.u8(F.VIEW)
      this.u8(kind)
      if (known !== -1) this.ref(known)
      else {
        this.memo.add(buffer, this.offset)
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
    this.lastClass = proto
    this.lastClassEntry = entry
    this.lastClassGeneration = this.registry.generation
    this.instanceOf(o, entry)
  }

  private instanceOf(o: object, entry: ClassEntry): void {
    if (entry.reduced) return this.reducedInstance(o, entry)
    this.u8(F.INSTANCE)
    this.classRef(entry)
    const cached = this.cachedShape(o)
    const keys = cached !== undefined ? cached.keys! : Object.keys(o)
    const n = keys.length
    this.shapeRef(cached ?? this.shapeOf(keys, n), keys, n)
    if (n !== 0) this.push(FR_PROPS, o, keys, n, undefined)
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
    this.push(FR_STATE, o, undefined, 1, state)
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

/** Whether `o`'s own enumerable string keys are exactly `keys`, in order. */
const hasExactKeys = (o: object, keys: ReadonlyArray<string>): boolean => {
  const n = keys.length
  let i = 0
  for (const k in o) {
    if (!objectHasOwn.call(o, k)) continue
    if (i >= n || k !== keys[i]) return false
    i++
  }
  return i === n
}

const sameKeys = (a: ReadonlyArray<string>, b: ReadonlyArray<string>, n: number): boolean => {
  if (a.length !== n) return false
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false
  return true
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
