/**
 * The marshal decoder: bytes to a value, or a `DecodeError` for any bytes
 * that are not a marshal message.
 *
 * Totality: every count and length is checked against the bytes left before
 * anything is allocated (an element takes at least one byte), the items that
 * all arrays and objects declare together may not exceed the input's length
 * (so nesting cannot multiply what a claimed length allocates), nesting stops
 * at MAX_DEPTH, and shape and key indexes are checked against the tables of
 * the message so far. What is built is charged against the message's
 * allowance (DecodeBudget.ts).
 */
import { allowance, Cost, type DecodeOptions, overLimit } from "../DecodeBudget.ts"
import { decodeError, type DecodeError } from "../errors.ts"
import { readVaruint, varuintEnd, varuintProblem } from "../bytes/Reader.ts"
import {
  HOST_LITTLE_ENDIAN,
  MAX_BIGINT_BYTES,
  MAX_DEPTH,
  POW10,
  swapBytes,
  Tag,
  typedClasses
} from "./format.ts"
import * as KeyCache from "../bytes/keyCache.ts"
import * as Shapes from "./shapeCache.ts"
import type { Shape, ValueSource } from "./shapeCache.ts"
import { decodeString } from "../bytes/strings.ts"

const CODEC = "marshal"

export class Decoder implements ValueSource {
  private buf: Uint8Array = new Uint8Array(0)
  /** A DataView of the whole ArrayBuffer under `buf`, kept while messages come from the same buffer. */
  private view: DataView = emptyView
  private viewBuffer: ArrayBufferLike | undefined = undefined
  /** False when the view's buffer is too large to keep alive after its message. */
  private viewKept = true
  /** The message whose buffer `view` was last checked against. */
  private viewChecked: Uint8Array = empty
  private base = 0
  private pos = 0
  private end = 0
  private depth = 0
  /** Items declared by the arrays and objects read so far; never more than the input's length. */
  private declared = 0
  /** Bytes this message may still allocate. */
  private budget = 0
  private options: DecodeOptions | undefined = undefined
  private readonly keys: Array<string> = []
  private keyCount = 0
  private readonly shapes: Array<Shape> = []
  private shapeCount = 0

  /** Decodes one message; throws `DecodeError` only. */
  decode(bytes: Uint8Array, options?: DecodeOptions): unknown {
    this.buf = bytes
    this.base = bytes.byteOffset
    this.pos = 0
    this.end = bytes.length
    this.depth = 0
    this.declared = 0
    this.options = options
    this.budget = allowance(bytes.length, options)
    this.keyCount = 0
    this.shapeCount = 0
    try {
      const value = this.read()
      if (this.pos !== this.end) throw this.fail(`${this.end - this.pos} bytes after the end of the value`)
      if (this.budget < 0) throw overLimit(CODEC, this.pos, this.end, this.options)
      return value
    } finally {
      this.buf = empty
      this.options = undefined
      this.viewChecked = empty
      if (!this.viewKept) {
        this.viewBuffer = undefined
        this.view = emptyView
        this.viewKept = true
      }
    }
  }

  private fail(what: string, at: number = this.pos): DecodeError {
    return decodeError(CODEC, at, what)
  }

  /** Charges `bytes` of what is about to be built against the message's allowance. */
  private charge(bytes: number): void {
    if ((this.budget -= bytes) < 0) throw overLimit(CODEC, this.pos, this.end, this.options)
  }

  /** Counts `n` more declared items; together they cannot outnumber the input's bytes. */
  private countItems(n: number): void {
    if ((this.declared += n) > this.end) {
      throw this.fail(`${n} more items declared than the ${this.end} bytes of input can hold (with the ${this.declared - n} declared before)`)
    }
  }

  /** Reads one value (public for the compiled constructors of shapeCache.ts). */
  read(): unknown {
    if (this.pos >= this.end) throw this.fail("unexpected end of input")
    const tag = this.buf[this.pos++]!
    if (tag < 0x80) return tag
    if (tag < 0xa0) return this.readString(tag - 0x80)
    if (tag < 0xb0) return this.readArray(tag - 0xa0)
    if (tag < 0xc0) return this.readObject(this.shape(tag - 0xb0))
    if (tag >= 0xe0) return tag - 0x100
    return this.readTagged(tag)
  }

  private readTagged(tag: number): unknown {
    // Literal case labels (the Tag name beside each): measured 5-10% faster a
    // value than `case Tag.Null:`, whose property loads keep V8 from a jump table.
    switch (tag) {
      case 0xc0 /* Null */:
        return null
      case 0xc1 /* Undefined */:
        return undefined
      case 0xc2 /* False */:
        return false
      case 0xc3 /* True */:
        return true
      case 0xc4 /* Uint8 */:
        this.need(1)
        return this.buf[this.pos++]!
      case 0xc5 /* Uint16 */: {
        this.need(2)
        const pos = this.pos
        this.pos = pos + 2
        return this.buf[pos]! | (this.buf[pos + 1]! << 8)
      }
      case 0xc6 /* Uint32 */:
        return this.int32() >>> 0
      case 0xc7 /* Int8 */:
        this.need(1)
        return (this.buf[this.pos++]! << 24) >> 24
      case 0xc8 /* Int16 */: {
        this.need(2)
        const pos = this.pos
        this.pos = pos + 2
        return ((this.buf[pos]! | (this.buf[pos + 1]! << 8)) << 16) >> 16
      }
      case 0xc9 /* Int32 */:
        return this.int32()
      case 0xca /* Float32 */: {
        this.need(4)
        const pos = this.pos
        this.pos = pos + 4
        return this.dataView().getFloat32(this.base + pos, true)
      }
      case 0xcb /* Float64 */: {
        this.need(8)
        const pos = this.pos
        this.pos = pos + 8
        return this.dataView().getFloat64(this.base + pos, true)
      }
      case 0xcc /* Decimal1 */:
      case 0xcd /* Decimal2 */:
      case 0xce /* Decimal3 */:
      case 0xcf /* Decimal4 */: {
        const z = this.varuint()
        return (z % 2 === 0 ? z / 2 : -(z + 1) / 2) / POW10[tag - Tag.Decimal1 + 1]!
      }
      case 0xd0 /* String */:
        return this.readString(this.varuint())
      case 0xd1 /* Array */:
        return this.readArray(this.varuint())
      case 0xd2 /* ShapeNew */:
        return this.readObject(this.defineShape())
      case 0xd3 /* Shape */:
        return this.readObject(this.shape(this.varuint()))
      case 0xd4 /* BigPositive */:
        return this.readBigInt(false)
      case 0xd5 /* BigNegative */:
        return this.readBigInt(true)
      case 0xd6 /* Typed */:
        return this.readTyped()
      case 0xd7 /* LargeObject */:
        return this.readLargeObject()
      default:
        throw this.fail(`unknown tag 0x${tag.toString(16)}`, this.pos - 1)
    }
  }

  private need(n: number): void {
    if (n > this.end - this.pos) throw this.fail(`needs ${n} bytes, ${this.end - this.pos} left`)
  }

  /**
   * Floats are read through a DataView (measured 2.5x faster than copying
   * through a scratch Float64Array), but making one costs ~90 ns: it is made
   * on the first float of a message and kept while messages arrive in the same
   * ArrayBuffer (a ring, a slab).
   */
  private dataView(): DataView {
    // `.buffer` is a builtin call (~20 ns): looked at once per message.
    if (this.viewChecked !== this.buf) {
      this.viewChecked = this.buf
      const buffer = this.buf.buffer
      if (buffer !== this.viewBuffer) {
        this.view = new DataView(buffer)
        this.viewBuffer = buffer
        this.viewKept = buffer.byteLength <= MAX_KEPT_VIEW
      }
    }
    return this.view
  }

  private int32(): number {
    this.need(4)
    const buf = this.buf
    const pos = this.pos
    this.pos = pos + 4
    return buf[pos]! | (buf[pos + 1]! << 8) | (buf[pos + 2]! << 16) | (buf[pos + 3]! << 24)
  }

  /** Unsigned LEB128 up to 2^53-1. */
  private varuint(): number {
    const buf = this.buf
    const start = this.pos
    if (start < this.end) {
      const b = buf[start]!
      if (b < 0x80) {
        this.pos = start + 1
        return b
      }
    }
    const v = readVaruint(buf, start, this.end)
    if (v < 0) throw this.fail(varuintProblem(v), start)
    this.pos = varuintEnd
    return v
  }

  private readString(n: number): string {
    const pos = this.pos
    if (n > this.end - pos) throw this.fail(`a string of ${n} bytes, ${this.end - pos} left`)
    // Charged without a check (strings are at most the input's bytes): the next container's charge, or the end, checks.
    this.budget -= Cost.string + n
    this.pos = pos + n
    return decodeString(this.buf, pos, n)
  }

  private enter(): void {
    if (++this.depth > MAX_DEPTH) throw this.fail(`nesting deeper than ${MAX_DEPTH} levels`)
  }

  private readArray(n: number): Array<unknown> {
    if (n > this.end - this.pos) throw this.fail(`an array of ${n} elements, ${this.end - this.pos} bytes left`)
    this.countItems(n)
    this.charge(Cost.array + Cost.slot * n)
    this.enter()
    const a = new Array<unknown>(n)
    for (let i = 0; i < n; i++) a[i] = this.read()
    this.depth--
    return a
  }

  private shape(index: number): Shape {
    if (index >= this.shapeCount) throw this.fail(`shape ${index} is not defined (${this.shapeCount} so far)`)
    return this.shapes[index]!
  }

  private defineShape(): Shape {
    const start = this.pos
    const n = this.varuint()
    // Each key and each value takes at least one byte.
    if (n > (this.end - this.pos) / 2) throw this.fail(`an object of ${n} keys, ${this.end - this.pos} bytes left`, start)
    // A definition whose keys are all new short strings is the same bytes in
    // every message that defines the shape first: look it up by those bytes.
    const buf = this.buf
    let end = this.pos
    let fixstrs = 0
    while (fixstrs < n && end < this.end) {
      const tag = buf[end]!
      if (tag < 0x80 || tag >= 0xa0) break
      end += 1 + (tag - 0x80)
      fixstrs++
    }
    const whole = fixstrs === n && end <= this.end && end - start <= Shapes.MAX_DEFINITION
    let shape = whole ? Shapes.lookupDefinition(buf, start, end) : undefined
    if (shape !== undefined) {
      const keys = shape.keys
      for (let i = 0; i < n; i++) this.keys[this.keyCount++] = keys[i]!
      this.pos = end
    } else {
      const keys = new Array<string>(n)
      for (let i = 0; i < n; i++) keys[i] = this.readKey()
      shape = Shapes.intern(keys)
      if (whole) Shapes.rememberDefinition(buf, start, end, shape)
    }
    this.shapes[this.shapeCount++] = shape
    return shape
  }

  /** A key in a shape definition: a new string, or the index of an earlier one. */
  private readKey(): string {
    if (this.pos >= this.end) throw this.fail("unexpected end of input in a key")
    const at = this.pos
    const tag = this.buf[this.pos++]!
    let index: number
    if (tag < 0x80) index = tag
    else if (tag < 0xa0 || tag === Tag.String) {
      const n = tag === Tag.String ? this.varuint() : tag - 0x80
      const pos = this.pos
      let key: string | undefined
      if (n <= KeyCache.MAX_CACHED_KEY && n <= this.end - pos) {
        key = KeyCache.lookup(this.buf, pos, n)
        if (key === undefined) key = KeyCache.remember(this.buf, pos, n, this.readString(n))
        else this.pos = pos + n
      } else key = this.readString(n)
      this.keys[this.keyCount++] = key
      return key
    } else if (tag === Tag.Uint8 || tag === Tag.Uint16 || tag === Tag.Uint32) {
      this.pos--
      index = this.read() as number
    } else throw this.fail(`a key must be a string or a key index, found tag 0x${tag.toString(16)}`, at)
    if (index >= this.keyCount) throw this.fail(`key ${index} is not defined (${this.keyCount} so far)`, at)
    return this.keys[index]!
  }

  private readObject(shape: Shape): Record<string, unknown> {
    const keys = shape.keys
    const n = keys.length
    if (n > this.end - this.pos) throw this.fail(`an object of ${n} values, ${this.end - this.pos} bytes left`)
    this.countItems(n)
    this.charge(Cost.object + Cost.property * n)
    this.enter()
    const build = shape.build
    if (build !== undefined) {
      const built = build(this)
      this.depth--
      return built
    }
    Shapes.used(shape)
    const obj: Record<string, unknown> = {}
    if (shape.hasProtoKey) {
      for (let i = 0; i < n; i++) {
        const key = keys[i]!
        const value = this.read()
        // An assignment to "__proto__" would set the prototype: define an own property instead.
        if (key === "__proto__") Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true })
        else obj[key] = value
      }
    } else {
      for (let i = 0; i < n; i++) obj[keys[i]!] = this.read()
    }
    this.depth--
    return obj
  }

  private readLargeObject(): Record<string, unknown> {
    const start = this.pos
    const n = this.varuint()
    if (n > (this.end - this.pos) / 2) throw this.fail(`an object of ${n} keys, ${this.end - this.pos} bytes left`, start)
    this.countItems(2 * n)
    this.charge(Cost.dictionary + Cost.dictionaryEntry * n)
    this.enter()
    const obj: Record<string, unknown> = {}
    for (let i = 0; i < n; i++) {
      if (this.pos >= this.end) throw this.fail("unexpected end of input in a key")
      const at = this.pos
      const tag = this.buf[this.pos++]!
      let key: string
      if (tag >= 0x80 && tag < 0xa0) key = this.readString(tag - 0x80)
      else if (tag === Tag.String) key = this.readString(this.varuint())
      else throw this.fail(`a key must be a string, found tag 0x${tag.toString(16)}`, at)
      const value = this.read()
      if (key === "__proto__") Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true })
      else obj[key] = value
    }
    this.depth--
    return obj
  }

  private readBigInt(negative: boolean): bigint {
    const start = this.pos
    const n = this.varuint()
    if (n > this.end - this.pos) throw this.fail(`a bigint of ${n} bytes, ${this.end - this.pos} left`, start)
    if (n > MAX_BIGINT_BYTES) throw this.fail(`a bigint of ${n} bytes (at most ${MAX_BIGINT_BYTES})`, start)
    this.charge(Cost.bigint + n)
    const buf = this.buf
    const pos = this.pos
    this.pos = pos + n
    let mag: bigint
    if (n <= 6) {
      let v = 0
      for (let i = n - 1; i >= 0; i--) v = v * 256 + buf[pos + i]!
      mag = BigInt(v)
    } else if (n <= 8) {
      let lo = 0
      let hi = 0
      for (let i = 3; i >= 0; i--) lo = lo * 256 + buf[pos + i]!
      for (let i = n - 1; i >= 4; i--) hi = hi * 256 + buf[pos + i]!
      mag = (BigInt(hi) << 32n) | BigInt(lo)
    } else {
      // Through hex: linear in the size, where shifting byte by byte would be quadratic.
      const parts: Array<string> = []
      for (let i = n - 1; i >= 0; i--) parts.push(HEX[buf[pos + i]!]!)
      mag = BigInt("0x" + parts.join(""))
    }
    return negative ? -mag : mag
  }

  private readTyped(): unknown {
    const start = this.pos - 1
    this.need(1)
    const kind = this.buf[this.pos++]!
    const C = typedClasses[kind]
    if (C === undefined) {
      throw this.fail(kind === 11 ? "a Float16Array, which this runtime lacks" : `unknown typed array kind ${kind}`, start)
    }
    const n = this.varuint()
    if (n > this.end - this.pos) throw this.fail(`a ${C.name} of ${n} bytes, ${this.end - this.pos} left`, start)
    if (n % C.BYTES_PER_ELEMENT !== 0) throw this.fail(`a ${C.name} of ${n} bytes, not a whole number of elements`, start)
    this.charge(Cost.view + Cost.arrayBuffer + n)
    // A copy: the frame's memory may be reused once the message is consumed; slice() also aligns it.
    const copy = this.buf.slice(this.pos, this.pos + n)
    this.pos += n
    if (!HOST_LITTLE_ENDIAN) swapBytes(copy, 0, n, C.BYTES_PER_ELEMENT)
    return new C(copy.buffer)
  }
}

const empty = new Uint8Array(0)
const emptyView = new DataView(new ArrayBuffer(0))

/** A DataView over a buffer larger than this is not kept after its message (it would keep the buffer alive). */
const MAX_KEPT_VIEW = 1 << 20
const HEX: ReadonlyArray<string> = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))
