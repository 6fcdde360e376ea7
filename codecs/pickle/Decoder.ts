/**
 * The pickle decoder: total over any input. Every length is checked against
 * the bytes left before anything is allocated, every count of items is
 * bounded by the bytes left (each item takes at least one byte), every id is
 * checked against what this header defined, and the work done is linear in
 * the input (holes are counted, never looped over).
 *
 * Safety rules: objects are built with plain assignment except for the key
 * `__proto__` (and, on class instances and errors, any key the prototype
 * chain already has), which goes through `Object.defineProperty`, so no key
 * ever reaches a prototype or a setter; classes are looked up by name in the
 * receiver's registry only.
 *
 * Hot-path notes: only objects whose tag is marked SHARED are remembered (in
 * a Map by tag offset), so a tree costs no bookkeeping; shape definitions and
 * key strings are cached across messages by their bytes, so a repeated
 * message reuses the same (internalized) key strings and key arrays; short
 * ASCII strings are built with one `String.fromCharCode` call (twice as fast
 * as concatenating characters).
 */
import type { Frames } from "../Codec.ts"
import { DecodeError, decodeError } from "../errors.ts"
import { wtf8Decode } from "../bytes/Reader.ts"
import type { ClassEntry, ClassRegistry } from "./ClassRegistry.ts"
import * as F from "./format.ts"

export interface DecoderOptions {
  readonly codec: string
  readonly registry: ClassRegistry
  readonly maxDepth: number
}

interface Shape {
  readonly keys: ReadonlyArray<string>
  readonly hasProtoKey: boolean
  /** A prototype none of whose chain has any of the keys: plain assignment is safe on its instances. */
  safeFor: object | undefined
}

/** The bytes behind an ArrayBuffer node; `exact` is the ArrayBuffer value once one exists. */
interface BufferNode {
  bytes: Uint8Array
  exact: ArrayBuffer | undefined
  readonly at: number
  readonly shared: boolean
}

/** A slot for an object that is built after its children (reduced instances, views, boxed values). */
const PENDING: unique symbol = Symbol("pending")
/** A slot whose ArrayBuffer has not been materialized yet (its bytes are a part of a larger out-of-band buffer). */
const LAZY_BUFFER: unique symbol = Symbol("lazy buffer")

const textDecoder = new TextDecoder("utf-8")
const defineProperty = Object.defineProperty
const fromCharCode = String.fromCharCode
const MAX_ARRAY_LENGTH = 2 ** 32 - 1
/** Big integers: at most this many hex digits (V8's own BigInt limit is 2^30 bits). */
const MAX_BIGINT_HEX = 2 ** 28
const EMPTY_BYTES = new Uint8Array(0)
const EMPTY_VIEW = new DataView(new ArrayBuffer(0))
const NO_FRAMES: ReadonlyArray<Uint8Array> = []

/** Sets an own, enumerable, writable property without running a setter or touching a prototype. */
const defineOwn = (o: object, key: string, value: unknown): void => {
  defineProperty(o, key, { value, writable: true, enumerable: true, configurable: true })
}

const defineHidden = (o: object, key: string, value: unknown): void => {
  defineProperty(o, key, { value, writable: true, enumerable: false, configurable: true })
}

/**
 * A small direct-mapped cache from byte strings to decoded things (shape
 * definitions, key strings), kept across messages. Bounded: 1024 slots of
 * at most 1 KiB each.
 */
class BytesCache<T> {
  private readonly bytes: Array<Uint8Array | undefined> = new Array(1024).fill(undefined)
  private readonly values: Array<T | undefined> = new Array(1024).fill(undefined)
  private slot = 0

  get(buf: Uint8Array, start: number, end: number): T | undefined {
    let h = 0x811c9dc5 ^ (end - start)
    for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 16777619)
    const slot = (h ^ (h >>> 15)) & 1023
    this.slot = slot
    const cached = this.bytes[slot]
    if (cached === undefined || cached.length !== end - start) return undefined
    for (let i = 0, j = start; j < end; i++, j++) if (cached[i] !== buf[j]) return undefined
    return this.values[slot]
  }

  /** Stores `value` for the bytes of the last `get` (which missed). */
  set(buf: Uint8Array, start: number, end: number, value: T): void {
    if (end - start > 1024) return
    this.bytes[this.slot] = buf.slice(start, end)
    this.values[this.slot] = value
  }
}

export class Decoder {
  busy = false
  private buf: Uint8Array = EMPTY_BYTES
  private dataView: DataView = EMPTY_VIEW
  private viewOf: Uint8Array = EMPTY_BYTES
  private pos = 0
  private end = 0
  private depth = 0
  /** Objects marked SHARED, by the offset of their tag. */
  private shared: Map<number, unknown> | undefined = undefined
  /** The tag offset of the object about to be built when its tag was SHARED, else -1. */
  private shareAt = -1
  private shapes: Array<Shape> = []
  private classes: Array<ClassEntry> = []
  private bufferNodes: Map<number, BufferNode> | undefined = undefined
  private frames: ReadonlyArray<Uint8Array> = NO_FRAMES
  private framesUsed: Uint8Array | undefined = undefined
  private readonly shapeCache = new BytesCache<Shape>()
  private readonly keyCache = new BytesCache<string>()
  private readonly codec: string
  private readonly registry: ClassRegistry
  private readonly maxDepth: number

  constructor(options: DecoderOptions) {
    this.codec = options.codec
    this.registry = options.registry
    this.maxDepth = options.maxDepth
  }

  /** Decodes one header and its buffers; throws only `DecodeError`. */
  decode(frames: Frames): unknown {
    const header = frames?.header
    if (!(header instanceof Uint8Array)) throw decodeError(this.codec, 0, "the header frame is not a Uint8Array")
    const buffers = frames.buffers
    if (!Array.isArray(buffers)) throw decodeError(this.codec, 0, "the buffers are not an array")
    this.busy = true
    this.buf = header
    this.pos = 0
    this.end = header.length
    this.depth = 0
    this.shareAt = -1
    this.frames = buffers
    if (this.shapes.length !== 0) this.shapes = []
    if (this.classes.length !== 0) this.classes = []
    try {
      if (this.end === 0) throw this.fail("empty header")
      const version = this.buf[this.pos++]
      if (version !== F.VERSION) throw this.fail(`unknown format version ${version} (this decoder reads version ${F.VERSION})`, 0)
      const value = this.value()
      if (this.pos !== this.end) throw this.fail(`${this.end - this.pos} bytes left over after the value`)
      return value
    } catch (e) {
      throw this.toDecodeError(e)
    } finally {
      this.buf = EMPTY_BYTES
      this.dataView = EMPTY_VIEW
      this.viewOf = EMPTY_BYTES
      this.frames = NO_FRAMES
      this.shared = undefined
      this.bufferNodes = undefined
      this.framesUsed = undefined
      this.busy = false
    }
  }

  private fail(what: string, at: number = this.pos): DecodeError {
    return decodeError(this.codec, at, what)
  }

  private toDecodeError(e: unknown): DecodeError {
    if (e instanceof DecodeError) return e
    if (e instanceof RangeError && /call stack/i.test(e.message)) {
      return this.fail(`nesting too deep for the call stack (the limit is ${this.maxDepth} levels)`)
    }
    return this.fail(e instanceof Error ? e.message : String(e))
  }

  // ---- primitives -------------------------------------------------------

  /** The DataView over the header, made on first use (many messages hold no fixed-width numbers). */
  private view(): DataView {
    const buf = this.buf
    if (this.viewOf !== buf) {
      this.dataView = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
      this.viewOf = buf
    }
    return this.dataView
  }

  private u8(): number {
    if (this.pos >= this.end) throw this.fail("unexpected end of input")
    return this.buf[this.pos++]!
  }

  private need(n: number): void {
    if (n > this.end - this.pos) throw this.fail(`needs ${n} bytes, ${this.end - this.pos} left`)
  }

  private varuint(): number {
    const buf = this.buf
    let pos = this.pos
    if (pos < this.end) {
      const b = buf[pos]!
      if (b < 0x80) {
        this.pos = pos + 1
        return b
      }
    }
    const start = pos
    let result = 0
    let scale = 1
    for (let i = 0; ; i++) {
      if (pos >= this.end) throw this.fail("unexpected end of input in a varint", start)
      if (i >= 8) throw this.fail("varint longer than 53 bits", start)
      const b = buf[pos++]!
      result += (b & 0x7f) * scale
      if (b < 0x80) break
      scale *= 0x80
    }
    if (result > Number.MAX_SAFE_INTEGER) throw this.fail("varint larger than 2^53-1", start)
    this.pos = pos
    return result
  }

  /** A count of items that each take at least `minBytes` bytes: bounded by the bytes left. */
  private count(minBytes: number): number {
    const at = this.pos
    const n = this.varuint()
    if (n * minBytes > this.end - this.pos) throw this.fail(`a count of ${n} items cannot fit in the ${this.end - this.pos} bytes left`, at)
    return n
  }

  private f64(): number {
    if (this.pos + 8 > this.end) throw this.fail("unexpected end of input in a float64")
    const v = this.view().getFloat64(this.pos, true)
    this.pos += 8
    return v
  }

  /** A string of `n` bytes of WTF-8 (malformed sequences become U+FFFD). */
  private stringOfLength(n: number): string {
    if (n > this.end - this.pos) throw this.fail(`a string of ${n} bytes, ${this.end - this.pos} left`)
    const start = this.pos
    this.pos = start + n
    if (n <= 8) {
      const s = shortAscii(this.buf, start, n)
      if (s !== undefined) return s
    } else if (n < 32) {
      const s = shortAscii(this.buf, start, 8)
      const t = s === undefined ? undefined : mediumAscii(this.buf, start + 8, n - 8)
      if (t !== undefined) return s + t
    }
    const bytes = this.buf.subarray(start, start + n)
    if (n < 32) return wtf8Decode(bytes)
    // TextDecoder cannot carry lone surrogates (WTF-8's ED A0..BF xx): decode those by hand.
    let i = bytes.indexOf(0xed)
    while (i !== -1) {
      const next = bytes[i + 1]
      if (next !== undefined && next >= 0xa0 && next <= 0xbf) return wtf8Decode(bytes)
      i = bytes.indexOf(0xed, i + 1)
    }
    return textDecoder.decode(bytes)
  }

  private string(): string {
    return this.stringOfLength(this.varuint())
  }

  /** A key or a class name: short ones come from the cache (the same internalized string every time). */
  private key(): string {
    const n = this.varuint()
    if (n > 64) return this.stringOfLength(n)
    if (n > this.end - this.pos) throw this.fail(`a string of ${n} bytes, ${this.end - this.pos} left`)
    const start = this.pos
    const cached = this.keyCache.get(this.buf, start, start + n)
    if (cached !== undefined) {
      this.pos = start + n
      return cached
    }
    const s = this.stringOfLength(n)
    this.keyCache.set(this.buf, start, start + n, s)
    return s
  }

  private enter(): void {
    if (++this.depth > this.maxDepth) throw this.fail(`nesting deeper than ${this.maxDepth} levels`)
  }

  // ---- shared objects ---------------------------------------------------

  /** Remembers a just-created object if its tag was SHARED. Called before its children are read. */
  private keep(o: unknown): void {
    if (this.shareAt >= 0) {
      ;(this.shared ??= new Map()).set(this.shareAt, o)
      this.shareAt = -1
    }
  }

  /** Like `keep` for an object built after its children: returns its slot (or -1) for `fill`. */
  private reserve(): number {
    const at = this.shareAt
    if (at >= 0) {
      ;(this.shared ??= new Map()).set(at, PENDING)
      this.shareAt = -1
    }
    return at
  }

  private fill(at: number, o: unknown): void {
    if (at >= 0) this.shared!.set(at, o)
  }

  private ref(): unknown {
    const at = this.pos
    const target = this.varuint()
    const v = this.shared?.get(target)
    if (v === undefined) throw this.fail(`back-reference to offset ${target}, where no shared object was read`, at)
    if (v === PENDING) throw this.fail(`back-reference to offset ${target}, an object still being built (a cycle through a reduced state)`, at)
    if (v === LAZY_BUFFER) return this.materialize(this.bufferNodes!.get(target)!)
    return v
  }

  // ---- values -----------------------------------------------------------

  private value(): unknown {
    if (this.pos >= this.end) throw this.fail("unexpected end of input")
    let tag = this.buf[this.pos++]!
    if (tag <= F.FIXINT_MAX) return tag
    if (tag < F.FIXARRAY) return this.stringOfLength(tag - F.FIXSTR)
    if (tag >= F.FIXARRAY + F.SHARED) {
      if (tag >= F.FIXNEG) return tag - 0x100
      tag -= F.SHARED
      if (tag >= F.UNDEFINED && tag < F.ARRAY) throw this.fail(`unknown tag 0x${(tag + F.SHARED).toString(16)}`, this.pos - 1)
      this.shareAt = this.pos - 1
    }
    if (tag < F.FIXSHAPE) return this.array(tag - F.FIXARRAY)
    if (tag < F.UNDEFINED) return this.object(this.definedShape(tag - F.FIXSHAPE))
    switch (tag) {
      case F.UNDEFINED:
        return undefined
      case F.NULL:
        return null
      case F.FALSE:
        return false
      case F.TRUE:
        return true
      case F.INT8:
        return (this.u8() << 24) >> 24
      case F.INT16: {
        this.need(2)
        const v = this.view().getInt16(this.pos, true)
        this.pos += 2
        return v
      }
      case F.INT32: {
        this.need(4)
        const v = this.view().getInt32(this.pos, true)
        this.pos += 4
        return v
      }
      case F.FLOAT64:
        return this.f64()
      case F.BIGINT64: {
        this.need(8)
        const v = this.view().getBigInt64(this.pos, true)
        this.pos += 8
        return v
      }
      case F.BIGINT_POS:
      case F.BIGINT_NEG:
        return this.bigHex(tag === F.BIGINT_NEG)
      case F.STRING:
        return this.string()
      case F.REF:
        return this.ref()
      case F.ARRAY: {
        const at = this.pos
        const n = this.varuint()
        if (n > MAX_ARRAY_LENGTH) throw this.fail(`array length ${n} is over 2^32-1`, at)
        return this.array(n)
      }
      case F.OBJECT:
        return this.object(this.shapeRef())
      case F.OBJECT_DICT:
        return this.dict({})
      case F.OBJECT_NULL:
        return this.dict(Object.create(null))
      case F.DATE: {
        const d = new Date(this.f64())
        this.keep(d)
        return d
      }
      case F.REGEXP:
        return this.regexp()
      case F.ERROR:
        return this.error()
      case F.MAP:
        return this.map()
      case F.SET:
        return this.set()
      case F.ARRAYBUFFER:
      case F.ARRAYBUFFER_OOB: {
        const at = this.shareAt
        this.shareAt = -1
        return this.materialize(this.bufferNode(tag, at >= 0 ? at : this.pos - 1, at >= 0))
      }
      case F.VIEW:
        return this.viewOfBuffer()
      case F.TYPED:
      case F.TYPED_OOB:
        return this.standaloneView(tag)
      case F.INSTANCE:
        return this.instance()
      case F.INSTANCE_REDUCED:
        return this.reducedInstance()
      case F.BOXED:
        return this.boxed()
      case F.HOLE:
      case F.HOLES:
        throw this.fail("a hole outside an array", this.pos - 1)
      default:
        throw this.fail(`unknown tag 0x${tag.toString(16)}`, this.pos - 1)
    }
  }

  private bigHex(negative: boolean): bigint {
    const at = this.pos
    const hex = this.string()
    if (hex.length === 0 || hex.length > MAX_BIGINT_HEX || !/^[0-9a-f]+$/.test(hex)) throw this.fail("a malformed big integer", at)
    const magnitude = BigInt("0x" + hex)
    return negative ? -magnitude : magnitude
  }

  private array(n: number): Array<unknown> {
    const a: Array<unknown> = []
    this.keep(a)
    this.enter()
    const buf = this.buf
    let i = 0
    while (i < n) {
      const tag = buf[this.pos]
      if (tag === F.HOLE) {
        this.pos++
        a.length = ++i
      } else if (tag === F.HOLES) {
        this.pos++
        const at = this.pos
        const count = this.varuint()
        if (count > n - i) throw this.fail(`${count} holes overrun the array's length ${n}`, at)
        i += count
        a.length = i
      } else {
        a.push(this.value())
        i++
      }
    }
    this.depth--
    return a
  }

  private definedShape(id: number): Shape {
    if (id >= this.shapes.length) throw this.fail(`shape ${id} is not defined (${this.shapes.length} so far)`, this.pos - 1)
    return this.shapes[id]!
  }

  private shapeRef(): Shape {
    const at = this.pos
    const id = this.varuint()
    const shapes = this.shapes
    if (id < shapes.length) return shapes[id]!
    if (id > shapes.length) throw this.fail(`shape ${id} is not defined (${shapes.length} so far)`, at)
    // A definition: find its extent, then reuse the cached shape for the same bytes.
    const start = this.pos
    const n = this.count(1)
    for (let i = 0; i < n; i++) {
      const len = this.varuint()
      if (len > this.end - this.pos) throw this.fail(`a key of ${len} bytes, ${this.end - this.pos} left`)
      this.pos += len
    }
    const end = this.pos
    let shape = this.shapeCache.get(this.buf, start, end)
    if (shape === undefined) {
      this.pos = start
      this.varuint()
      const keys = new Array<string>(n)
      let hasProtoKey = false
      for (let i = 0; i < n; i++) {
        const k = this.key()
        if (k === "__proto__") hasProtoKey = true
        keys[i] = k
      }
      shape = { keys, hasProtoKey, safeFor: undefined }
      this.shapeCache.set(this.buf, start, end, shape)
    }
    shapes.push(shape)
    return shape
  }

  private object(shape: Shape): Record<string, unknown> {
    const o: Record<string, unknown> = {}
    this.keep(o)
    this.enter()
    const keys = shape.keys
    const n = keys.length
    if (!shape.hasProtoKey) {
      for (let i = 0; i < n; i++) o[keys[i]!] = this.value()
    } else {
      for (let i = 0; i < n; i++) {
        const k = keys[i]!
        const v = this.value()
        if (k === "__proto__") defineOwn(o, k, v)
        else o[k] = v
      }
    }
    this.depth--
    return o
  }

  private dict(o: Record<string, unknown>): Record<string, unknown> {
    const n = this.count(2)
    this.keep(o)
    this.enter()
    for (let i = 0; i < n; i++) {
      const k = this.key()
      const v = this.value()
      if (k === "__proto__") defineOwn(o, k, v)
      else o[k] = v
    }
    this.depth--
    return o
  }

  private map(): Map<unknown, unknown> {
    const n = this.count(2)
    const m = new Map<unknown, unknown>()
    this.keep(m)
    this.enter()
    for (let i = 0; i < n; i++) {
      const k = this.value()
      m.set(k, this.value())
    }
    this.depth--
    return m
  }

  private set(): Set<unknown> {
    const n = this.count(1)
    const s = new Set<unknown>()
    this.keep(s)
    this.enter()
    for (let i = 0; i < n; i++) s.add(this.value())
    this.depth--
    return s
  }

  private regexp(): RegExp {
    const at = this.pos
    const source = this.string()
    const flags = this.string()
    let r: RegExp
    try {
      r = new RegExp(source, flags)
    } catch (e) {
      throw this.fail(`an invalid RegExp: ${(e as Error).message}`, at)
    }
    this.keep(r)
    return r
  }

  private boxed(): object {
    const slot = this.reserve()
    const at = this.pos
    const inner = this.value()
    const t = typeof inner
    if (t !== "number" && t !== "string" && t !== "boolean" && t !== "bigint") throw this.fail("a boxed value that is not a primitive", at)
    const o = Object(inner) as object
    this.fill(slot, o)
    return o
  }

  private error(): Error {
    const at = this.pos - 1
    const kind = this.u8()
    const Ctor = F.errorClasses[kind]
    if (Ctor === undefined) throw this.fail(`unknown error kind ${kind}`, at)
    const flags = this.u8()
    if (flags > 15) throw this.fail(`unknown error flags ${flags}`, at)
    if ((flags & F.ERR_ERRORS) !== 0 && kind !== F.AGGREGATE_ERROR_KIND) throw this.fail("errors on an Error that is not an AggregateError", at)
    const message = (flags & F.ERR_MESSAGE) !== 0 ? this.string() : undefined
    const stack = (flags & F.ERR_STACK) !== 0 ? this.string() : undefined
    const e = newError(Ctor, kind)
    if (message !== undefined) defineHidden(e, "message", message)
    if (stack !== undefined) defineHidden(e, "stack", stack)
    else delete e.stack
    this.keep(e)
    this.enter()
    if ((flags & F.ERR_CAUSE) !== 0) defineHidden(e, "cause", this.value())
    if ((flags & F.ERR_ERRORS) !== 0) defineHidden(e, "errors", this.value())
    const n = this.count(2)
    for (let i = 0; i < n; i++) {
      const k = this.key()
      const v = this.value()
      if (k in e) defineOwn(e, k, v)
      else (e as unknown as Record<string, unknown>)[k] = v
    }
    this.depth--
    return e
  }

  // ---- binary data ------------------------------------------------------

  /** Takes out-of-band buffer `index`; each may be used once (so no input can make us copy one twice). */
  private frame(): Uint8Array {
    const at = this.pos
    const index = this.varuint()
    const frames = this.frames
    if (index >= frames.length) throw this.fail(`out-of-band buffer ${index} is missing (${frames.length} received)`, at)
    const used = (this.framesUsed ??= new Uint8Array(frames.length))
    if (used[index] !== 0) throw this.fail(`out-of-band buffer ${index} is used twice`, at)
    used[index] = 1
    const f = frames[index]
    if (!(f instanceof Uint8Array)) throw this.fail(`out-of-band buffer ${index} is not a Uint8Array`, at)
    return f
  }

  /** Reads an ArrayBuffer node (inline or out of band) whose tag was at `at`. */
  private bufferNode(tag: number, at: number, shared: boolean): BufferNode {
    let node: BufferNode
    if (tag === F.ARRAYBUFFER) {
      const n = this.varuint()
      this.need(n)
      const ab = new ArrayBuffer(n)
      const bytes = new Uint8Array(ab)
      bytes.set(this.buf.subarray(this.pos, this.pos + n))
      this.pos += n
      node = { bytes, exact: ab, at, shared }
    } else {
      const f = this.frame()
      const whole = f.byteOffset === 0 && f.byteLength === f.buffer.byteLength && f.buffer instanceof ArrayBuffer
      node = { bytes: f, exact: whole ? (f.buffer as ArrayBuffer) : undefined, at, shared }
    }
    ;(this.bufferNodes ??= new Map()).set(at, node)
    if (shared) (this.shared ??= new Map()).set(at, node.exact ?? LAZY_BUFFER)
    return node
  }

  /** The ArrayBuffer of a node, copying its bytes out of a larger buffer the first time it is needed. */
  private materialize(node: BufferNode): ArrayBuffer {
    if (node.exact === undefined) {
      const copy = node.bytes.slice()
      node.exact = copy.buffer
      node.bytes = copy
      if (node.shared) this.shared!.set(node.at, copy.buffer)
    }
    return node.exact
  }

  private viewOfBuffer(): ArrayBufferView {
    const at = this.pos - 1
    const slot = this.reserve()
    const { ctor, size } = this.viewKind(at)
    let node: BufferNode
    const tagAt = this.pos
    const tag = this.u8()
    if (tag === F.ARRAYBUFFER || tag === F.ARRAYBUFFER_OOB) node = this.bufferNode(tag, tagAt, false)
    else if (tag === F.ARRAYBUFFER + F.SHARED || tag === F.ARRAYBUFFER_OOB + F.SHARED) node = this.bufferNode(tag - F.SHARED, tagAt, true)
    else if (tag === F.REF) {
      const refAt = this.pos
      const target = this.varuint()
      const found = this.bufferNodes?.get(target)
      if (found === undefined) throw this.fail(`a view's buffer refers to offset ${target}, where no ArrayBuffer was read`, refAt)
      node = found
    } else throw this.fail("a view without a buffer", tagAt)
    const byteOffset = this.varuint()
    const length = this.varuint()
    const byteLength = length * size
    const available = node.bytes.byteLength
    if (byteOffset > available || byteLength > available - byteOffset) {
      throw this.fail(`a view of ${byteLength} bytes at offset ${byteOffset} does not fit its ${available}-byte buffer`, at)
    }
    if (byteOffset % size !== 0) throw this.fail(`a view's offset ${byteOffset} is not a multiple of its element size ${size}`, at)
    if ((node.bytes.byteOffset + byteOffset) % size !== 0) {
      // An out-of-band buffer at an unaligned place: copy its bytes once; every view of it then shares the copy.
      const copy = node.bytes.slice()
      node.bytes = copy
      if (node.exact === undefined) {
        node.exact = copy.buffer
        if (node.shared) this.shared!.set(node.at, copy.buffer)
      }
    }
    const bytes = node.bytes
    const v = new ctor(bytes.buffer, bytes.byteOffset + byteOffset, length)
    this.fill(slot, v)
    return v
  }

  private standaloneView(tag: number): ArrayBufferView {
    const at = this.pos - 1
    const slot = this.reserve()
    const { ctor, size } = this.viewKind(at)
    let bytes: Uint8Array
    if (tag === F.TYPED) {
      const n = this.varuint()
      this.need(n)
      bytes = new Uint8Array(new ArrayBuffer(n))
      bytes.set(this.buf.subarray(this.pos, this.pos + n))
      this.pos += n
    } else {
      bytes = this.frame()
      if (bytes.byteOffset % size !== 0) bytes = bytes.slice()
    }
    if (bytes.byteLength % size !== 0) throw this.fail(`${bytes.byteLength} bytes are not a whole number of ${size}-byte elements`, at)
    const v = new ctor(bytes.buffer, bytes.byteOffset, bytes.byteLength / size)
    this.fill(slot, v)
    return v
  }

  private viewKind(at: number): { readonly ctor: NonNullable<(typeof F.viewKinds)[number]["ctor"]>; readonly size: number } {
    const kind = this.u8()
    const k = F.viewKinds[kind]
    if (k === undefined) throw this.fail(`unknown typed array kind ${kind}`, at)
    if (k.ctor === undefined) throw this.fail(`this runtime has no ${k.name}`, at)
    return k as { ctor: NonNullable<typeof k.ctor>; size: number }
  }

  // ---- class instances --------------------------------------------------

  private classRef(): ClassEntry {
    const at = this.pos
    const id = this.varuint()
    const classes = this.classes
    if (id < classes.length) return classes[id]!
    if (id > classes.length) throw this.fail(`class ${id} is not defined (${classes.length} so far)`, at)
    const name = this.key()
    const entry = this.registry.forName(name)
    if (entry === undefined) {
      throw this.fail(`unknown class "${name}": the receiver must register it with registerClass(Class, { name: "${name}" })`, at)
    }
    classes.push(entry)
    return entry
  }

  private instance(): object {
    const at = this.pos - 1
    const entry = this.classRef()
    if (entry.reduced) throw this.fail(`class "${entry.name}" is registered with reduce/construct here, but arrived as plain properties`, at)
    const shape = this.shapeRef()
    const proto = entry.prototype
    const o = Object.create(proto) as Record<string, unknown>
    this.keep(o)
    this.enter()
    const keys = shape.keys
    const n = keys.length
    if (shape.safeFor !== proto) {
      // Cached per shape: whether any key exists on the prototype chain (a setter, a read-only property, __proto__).
      let safe = true
      for (let i = 0; i < n && safe; i++) safe = !(keys[i]! in proto)
      if (safe) shape.safeFor = proto
    }
    if (shape.safeFor === proto) {
      for (let i = 0; i < n; i++) o[keys[i]!] = this.value()
    } else {
      for (let i = 0; i < n; i++) {
        const k = keys[i]!
        const v = this.value()
        if (k in proto) defineOwn(o, k, v)
        else o[k] = v
      }
    }
    this.depth--
    return o
  }

  private reducedInstance(): object {
    const at = this.pos - 1
    const entry = this.classRef()
    const slot = this.reserve()
    this.enter()
    const state = this.value()
    this.depth--
    let o: unknown
    try {
      o = entry.construct !== undefined ? entry.construct(state) : fromState(entry.prototype, state)
    } catch (e) {
      if (e instanceof DecodeError) throw e
      throw this.fail(`construct of class "${entry.name}" threw: ${e instanceof Error ? e.message : String(e)}`, at)
    }
    this.fill(slot, o)
    return o as object
  }
}

/** 1..8 ASCII bytes as a string in one call, or undefined when a byte is not ASCII. */
const shortAscii = (b: Uint8Array, s: number, n: number): string | undefined => {
  switch (n) {
    case 0:
      return ""
    case 1: {
      const a = b[s]!
      return a < 0x80 ? fromCharCode(a) : undefined
    }
    case 2: {
      const a = b[s]!, c = b[s + 1]!
      return (a | c) < 0x80 ? fromCharCode(a, c) : undefined
    }
    case 3: {
      const a = b[s]!, c = b[s + 1]!, d = b[s + 2]!
      return (a | c | d) < 0x80 ? fromCharCode(a, c, d) : undefined
    }
    case 4: {
      const a = b[s]!, c = b[s + 1]!, d = b[s + 2]!, e = b[s + 3]!
      return (a | c | d | e) < 0x80 ? fromCharCode(a, c, d, e) : undefined
    }
    case 5: {
      const a = b[s]!, c = b[s + 1]!, d = b[s + 2]!, e = b[s + 3]!, f = b[s + 4]!
      return (a | c | d | e | f) < 0x80 ? fromCharCode(a, c, d, e, f) : undefined
    }
    case 6: {
      const a = b[s]!, c = b[s + 1]!, d = b[s + 2]!, e = b[s + 3]!, f = b[s + 4]!, g = b[s + 5]!
      return (a | c | d | e | f | g) < 0x80 ? fromCharCode(a, c, d, e, f, g) : undefined
    }
    case 7: {
      const a = b[s]!, c = b[s + 1]!, d = b[s + 2]!, e = b[s + 3]!, f = b[s + 4]!, g = b[s + 5]!, h = b[s + 6]!
      return (a | c | d | e | f | g | h) < 0x80 ? fromCharCode(a, c, d, e, f, g, h) : undefined
    }
    default: {
      const a = b[s]!, c = b[s + 1]!, d = b[s + 2]!, e = b[s + 3]!, f = b[s + 4]!, g = b[s + 5]!, h = b[s + 6]!, k = b[s + 7]!
      return (a | c | d | e | f | g | h | k) < 0x80 ? fromCharCode(a, c, d, e, f, g, h, k) : undefined
    }
  }
}

/** Up to 23 more ASCII bytes, eight at a time. */
const mediumAscii = (b: Uint8Array, s: number, n: number): string | undefined => {
  let out = ""
  while (n > 0) {
    const m = n < 8 ? n : 8
    const part = shortAscii(b, s, m)
    if (part === undefined) return undefined
    out += part
    s += m
    n -= m
  }
  return out
}

/** Default construct: a new instance carrying the state's own enumerable properties. */
const fromState = (prototype: object, state: unknown): object => {
  const o = Object.create(prototype) as object
  if (typeof state === "object" && state !== null) {
    for (const k of Object.keys(state)) {
      const v = (state as Record<string, unknown>)[k]
      if (k in o) defineOwn(o, k, v)
      else (o as Record<string, unknown>)[k] = v
    }
  }
  return o
}

/** A real Error object of the given class, without the cost of capturing a stack trace. */
const newError = (Ctor: ErrorConstructor | AggregateErrorConstructor, kind: number): Error => {
  const E = Error as { stackTraceLimit?: number }
  const limit = E.stackTraceLimit
  try {
    E.stackTraceLimit = 0
  } catch {
    // frozen intrinsics: pay for the stack trace
  }
  try {
    return kind === F.AGGREGATE_ERROR_KIND ? new (Ctor as AggregateErrorConstructor)([]) : new (Ctor as ErrorConstructor)()
  } finally {
    try {
      E.stackTraceLimit = limit
    } catch {
      // as above
    }
  }
}
