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
 * The walk recurses for the first RECURSION_DEPTH levels (plain objects and
 * dense arrays, the common containers, are filled by a direct loop, a plain
 * object no back-reference names by its shape's compiled constructor); below
 * that, and for every other container, open containers are frames on an
 * explicit stack (parallel arrays, reused across messages), so nesting is
 * bounded by `maxDepth` and never by the call stack.
 *
 * Allocation: what is built is charged against the message's allowance
 * (DecodeBudget.ts), and an array's slots are reserved up front only while
 * the slots reserved for the whole message fit in its header (each item takes
 * a byte), so nested arrays that each claim every byte left reserve nothing
 * beyond the first: the rest grow as their items arrive.
 *
 * Hot-path notes: objects are counted in tag order (their ordinals, as the
 * encoder numbered them) and only those whose tag is marked SHARED are
 * stored, in an array by ordinal, so a tree costs no bookkeeping; shape definitions and
 * key strings are cached across messages by their bytes, so a repeated
 * message reuses the same (internalized) key strings and key arrays; short
 * ASCII strings are built with one `String.fromCharCode` call (twice as fast
 * as concatenating characters).
 */
import type { Frames } from "../Codec.ts"
import { allowance, Cost, type DecodeOptions, overLimit } from "../DecodeBudget.ts"
import { DecodeError, decodeError } from "../errors.ts"
import { decodeWtf8, readVaruint, varuintEnd, varuintProblem, wtf8Decode } from "../bytes/Reader.ts"
import { BytesCache, mediumAscii, shortAscii } from "./strings.ts"
import type { ClassEntry, ClassRegistry } from "./ClassRegistry.ts"
import * as F from "./format.ts"
import { FrameStack } from "./FrameStack.ts"
import { type CompilableShape, type CompileBudget, countUse, type ValueSource } from "../compiledShapes.ts"

export interface DecoderOptions {
  readonly codec: string
  readonly registry: ClassRegistry
  readonly maxDepth: number
}

interface Shape extends CompilableShape {
  /** A prototype none of whose chain has any of the keys: plain assignment is safe on its instances. */
  safeFor: object | undefined
}

/** The bytes behind an ArrayBuffer node; `exact` is the ArrayBuffer value once one exists. */
interface BufferNode {
  bytes: Uint8Array
  exact: ArrayBuffer | undefined
  readonly ordinal: number
  readonly shared: boolean
}

/** Returned by `item()` when it opened a container (pushed a frame) instead of reading a whole value. */
const OPEN: unique symbol = Symbol("open")

// Frame kinds.
/** A dense array's items (HOLE / HOLES allowed). */
const DF_ARRAY = 0
/** Values for `keys`, set by plain assignment (the keys are known safe). */
const DF_OBJECT = 1
/** Values for `keys`, defined as own properties where the key is `__proto__` or on the prototype chain (`aux`). */
const DF_OBJECT_CHECKED = 2
/** (key, value) pairs onto a plain or null-prototype object (`__proto__` defined, not assigned). */
const DF_DICT = 3
/** (key, value) pairs onto an Error (keys on its prototype chain defined, not assigned). */
const DF_ERROR_PROPS = 4
/** An Error's cause / errors: `extra` holds the flags still to read, `aux` the label being read. */
const DF_ERROR_TAIL = 5
/** A Map's keys and values; `idx` counts both, `aux` holds the pending key. */
const DF_MAP = 6
const DF_SET = 7
/** A reduced instance's state: `obj` is its class entry, `extra` its shared slot. */
const DF_STATE = 8

/** Shape and class slots kept between messages. */
const KEEP_IDS = 1024
/** Shape and class ids whose last definition is kept to be compared in place (`shapeRef`, `classRef`). */
const LAST_DEFINITIONS = 16
/** How deep `value` recurses on the call stack before `run`'s explicit stack takes over. */
const RECURSION_DEPTH = 64

/** A slot for an object that is built after its children (reduced instances, views, boxed values). */
const PENDING: unique symbol = Symbol("pending")
/** A slot whose ArrayBuffer has not been materialized yet (its bytes are a part of a larger out-of-band buffer). */
const LAZY_BUFFER: unique symbol = Symbol("lazy buffer")

const defineProperty = Object.defineProperty
const MAX_ARRAY_LENGTH = 2 ** 32 - 1
/** Big integers: at most this many hex digits (V8's own BigInt limit is 2^30 bits). */
const MAX_BIGINT_HEX = 2 ** 28
const EMPTY_BYTES = new Uint8Array(0)
const EMPTY_VIEW = new DataView(new ArrayBuffer(0))
/** A message's first fixed-width numbers are read through an 8-byte scratch on little-endian machines: cheaper than a DataView for a few. */
const scratch = new Uint8Array(8)
const scratchF64 = new Float64Array(scratch.buffer)
/** Floats of a message read through the scratch before its DataView is made. */
const SCRATCH_READS = 8
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1
const NO_FRAMES: ReadonlyArray<Uint8Array> = []

/** Sets an own, enumerable, writable property without running a setter or touching a prototype. */
const defineOwn = (o: object, key: string, value: unknown): void => {
  defineProperty(o, key, { value, writable: true, enumerable: true, configurable: true })
}

const defineHidden = (o: object, key: string, value: unknown): void => {
  defineProperty(o, key, { value, writable: true, enumerable: false, configurable: true })
}

export class Decoder implements ValueSource {
  busy = false
  private buf: Uint8Array = EMPTY_BYTES
  private dataView: DataView = EMPTY_VIEW
  private viewOf: Uint8Array = EMPTY_BYTES
  private scratchReads = 0
  private pos = 0
  private end = 0
  /** Bytes this message may still allocate (DecodeBudget.ts). */
  private budget = 0
  /** Array slots that may still be reserved before their items arrive. */
  private presizeLeft = 0
  private inputBytes = 0
  private options: DecodeOptions | undefined = undefined
  // The explicit stack (FrameStack.ts) and its pointer.
  private readonly stack: FrameStack<number>
  private sp = 0
  /** Objects marked SHARED, by ordinal (a sparse array). */
  private shared: Array<unknown> | undefined = undefined
  /** Objects read so far: the ordinal of the next one. */
  private ordinal = 0
  /** Whether the object about to be built had a SHARED tag. */
  private shareNext = false
  /** This message's shapes and classes by id: the first `shapeCount` / `classCount` (the arrays are reused; they hold cached entries only). */
  private readonly shapes: Array<Shape> = []
  private shapeCount = 0
  private readonly classes: Array<ClassEntry> = []
  private classCount = 0
  private bufferNodes: Map<number, BufferNode> | undefined = undefined
  private frames: ReadonlyArray<Uint8Array> = NO_FRAMES
  private framesUsed: Uint8Array | undefined = undefined
  private readonly shapeCache = new BytesCache<Shape>()
  /** Constructors compiled (../compiledShapes.ts); the count starts over each time the shape cache could have turned over. */
  private readonly compileBudget: CompileBudget = { compiled: 0 }
  private shapesMade = 0
  /** The first shapes' definitions in the last message that defined them, by id: a sender repeats them. */
  private readonly lastShapes: Array<{ readonly bytes: Uint8Array; readonly shape: Shape } | undefined> = []
  /** Likewise the first classes' names, with the registry's generation they were looked up in. */
  private readonly lastClasses: Array<{ readonly bytes: Uint8Array; readonly entry: ClassEntry; readonly generation: number } | undefined> = []
  private readonly keyCache = new BytesCache<string>()
  private readonly codec: string
  private readonly registry: ClassRegistry
  private readonly maxDepth: number

  constructor(options: DecoderOptions) {
    this.codec = options.codec
    this.registry = options.registry
    this.maxDepth = options.maxDepth
    this.stack = new FrameStack<number>(this.maxDepth, 0, () => this.fail(`nesting deeper than ${this.maxDepth} levels`))
  }

  /** Decodes one header and its buffers; throws only `DecodeError`. */
  decode(frames: Frames, options?: DecodeOptions): unknown {
    const header = frames?.header
    if (!(header instanceof Uint8Array)) throw decodeError(this.codec, 0, "the header frame is not a Uint8Array")
    const buffers = frames.buffers
    if (!Array.isArray(buffers)) throw decodeError(this.codec, 0, "the buffers are not an array")
    let inputBytes = header.length
    for (let i = 0; i < buffers.length; i++) inputBytes += (buffers[i] as Uint8Array | undefined)?.byteLength ?? 0
    this.inputBytes = inputBytes
    this.options = options
    this.budget = allowance(inputBytes, options)
    this.presizeLeft = header.length
    this.busy = true
    this.buf = header
    this.pos = 0
    this.end = header.length
    this.sp = 0
    this.shareNext = false
    this.ordinal = 0
    this.frames = buffers
    this.shapeCount = 0
    this.classCount = 0
    try {
      if (this.end === 0) throw this.fail("empty header")
      const version = this.buf[this.pos++]
      if (version !== F.VERSION) throw this.fail(`unknown format version ${version} (this decoder reads version ${F.VERSION})`, 0)
      const value = this.value(0)
      if (this.pos !== this.end) throw this.fail(`${this.end - this.pos} bytes left over after the value`)
      if (this.budget < 0) throw overLimit(this.codec, this.pos, this.inputBytes, this.options)
      return value
    } catch (e) {
      throw this.toDecodeError(e)
    } finally {
      this.buf = EMPTY_BYTES
      this.dataView = EMPTY_VIEW
      this.viewOf = EMPTY_BYTES
      this.scratchReads = 0
      this.frames = NO_FRAMES
      this.options = undefined
      this.shared = undefined
      this.bufferNodes = undefined
      this.framesUsed = undefined
      // Let go of the message's objects.
      this.stack.release()
      // After a message of very many shapes or classes, give their slots back.
      if (this.shapes.length > KEEP_IDS) this.shapes.length = 0
      if (this.classes.length > KEEP_IDS) this.classes.length = 0
      this.busy = false
    }
  }

  private fail(what: string, at: number = this.pos): DecodeError {
    return decodeError(this.codec, at, what)
  }

  /** Charges `bytes` of what is about to be built against the message's allowance. */
  private charge(bytes: number): void {
    if ((this.budget -= bytes) < 0) throw overLimit(this.codec, this.pos, this.inputBytes, this.options)
  }

  private toDecodeError(e: unknown): DecodeError {
    if (e instanceof DecodeError) return e
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
    const pos = this.pos
    if (pos < this.end) {
      const b = buf[pos]!
      if (b < 0x80) {
        this.pos = pos + 1
        return b
      }
    }
    const v = readVaruint(buf, pos, this.end)
    if (v < 0) throw this.fail(varuintProblem(v), pos)
    this.pos = varuintEnd
    return v
  }

  /** A count of items that each take at least `minBytes` bytes: bounded by the bytes left. */
  private count(minBytes: number): number {
    const at = this.pos
    const n = this.varuint()
    if (n * minBytes > this.end - this.pos) throw this.fail(`a count of ${n} items cannot fit in the ${this.end - this.pos} bytes left`, at)
    return n
  }

  private f64(): number {
    const pos = this.pos
    if (pos + 8 > this.end) throw this.fail("unexpected end of input in a float64")
    this.pos = pos + 8
    // A DataView costs ~60 ns to make and ~1 ns a read, the scratch ~8 ns a read: the scratch for a message's first few floats, a view for many.
    if (this.viewOf === this.buf) return this.dataView.getFloat64(pos, true)
    if (!LITTLE_ENDIAN || ++this.scratchReads > SCRATCH_READS) return this.view().getFloat64(pos, true)
    const buf = this.buf
    scratch[0] = buf[pos]!
    scratch[1] = buf[pos + 1]!
    scratch[2] = buf[pos + 2]!
    scratch[3] = buf[pos + 3]!
    scratch[4] = buf[pos + 4]!
    scratch[5] = buf[pos + 5]!
    scratch[6] = buf[pos + 6]!
    scratch[7] = buf[pos + 7]!
    return scratchF64[0]!
  }

  /** A string of `n` bytes of WTF-8 (malformed sequences become U+FFFD). */
  private stringOfLength(n: number): string {
    if (n > this.end - this.pos) throw this.fail(`a string of ${n} bytes, ${this.end - this.pos} left`)
    // Charged without a check (strings are at most the input's bytes): the next container's charge, or the end, checks.
    this.budget -= Cost.string + n
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
    return n < 32 ? wtf8Decode(bytes) : decodeWtf8(bytes)
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

  // ---- shared objects ---------------------------------------------------

  /** Counts a just-created object and stores it if its tag was SHARED. Called before its children are read. */
  private keep(o: unknown): void {
    const n = this.ordinal++
    if (this.shareNext) {
      ;(this.shared ??= [])[n] = o
      this.shareNext = false
    }
  }

  /** Like `keep` for an object built after its children: returns its slot (or -1) for `fill`. */
  private reserve(): number {
    const n = this.ordinal++
    if (!this.shareNext) return -1
    ;(this.shared ??= [])[n] = PENDING
    this.shareNext = false
    return n
  }

  private fill(slot: number, o: unknown): void {
    if (slot >= 0) this.shared![slot] = o
  }

  private ref(): unknown {
    const at = this.pos
    const id = this.varuint()
    const v = id < this.ordinal ? this.shared?.[id] : undefined
    if (v === undefined) throw this.fail(`back-reference to object ${id}, which is not a shared object read before`, at)
    if (v === PENDING) throw this.fail(`back-reference to object ${id}, still being built (a cycle through a reduced state)`, at)
    if (v === LAZY_BUFFER) return this.materialize(this.bufferNodes!.get(id)!)
    return v
  }

  // ---- the stack --------------------------------------------------------

  /** Opens a container: its children are read by `run`. Returns OPEN. */
  private push(kind: number, obj: unknown, keys: ReadonlyArray<string> | undefined, n: number, aux: unknown, extra: number): typeof OPEN {
    const f = this.sp
    this.stack.open(f, kind, obj, keys, n, aux)
    this.stack.extras[f] = extra
    this.sp = f + 1
    return OPEN
  }

  /**
   * Reads one value whole, at nesting `depth` (the explicit stack's pointer).
   * A plain object's or a dense array's frame near the top is filled here,
   * each child read by recursing: no turn of `run`'s loop per child. From
   * RECURSION_DEPTH on, and for every other container, `run` takes over, so
   * the call stack stays shallow however deep the value nests.
   */
  private value(depth: number): unknown {
    const tag = this.buf[this.pos]! // past the end: undefined, which no test below passes, and `item` fails
    if (tag < F.FIXARRAY) {
      this.pos++
      return tag <= F.FIXINT_MAX ? tag : this.stringOfLength(tag - F.FIXSTR)
    }
    if (depth < RECURSION_DEPTH) {
      if (tag < F.FIXSHAPE) {
        this.pos++
        return this.denseArray(tag - F.FIXARRAY, depth)
      }
      if (tag < F.UNDEFINED || tag === F.OBJECT) {
        this.pos++
        return this.plainObject(tag === F.OBJECT ? this.shapeRef() : this.definedShape(tag - F.FIXSHAPE), depth)
      }
    }
    const x = this.item()
    if (x !== OPEN) return x
    const f = this.sp - 1
    if (depth >= RECURSION_DEPTH) return this.run(f)
    const stack = this.stack
    const kind = stack.kinds[f]
    if (kind === DF_OBJECT) {
      const o = stack.objs[f] as Record<string, unknown>
      const keys = stack.keyLists[f]!
      const n = stack.lens[f]!
      for (let i = 0; i < n; i++) o[keys[i]!] = this.value(f + 1)
      this.sp = f
      return o
    }
    if (kind === DF_ARRAY) {
      const a = stack.objs[f] as Array<unknown>
      this.fillArray(a, stack.lens[f]!, f + 1)
      this.sp = f
      return a
    }
    return this.run(f)
  }

  /** An array of up to 15 items that no back-reference names, filled here (holes allowed). */
  private denseArray(n: number, depth: number): Array<unknown> {
    const a = this.newArray(n)
    if (n === 0) return a
    // An open container counts as a level, as a frame would (an empty one opens none).
    if (depth >= this.maxDepth) throw this.fail(`nesting deeper than ${this.maxDepth} levels`)
    this.sp = depth + 1
    this.fillArray(a, n, depth + 1)
    this.sp = depth
    return a
  }

  /** The holes a HOLE or HOLES tag next says (read past), for item `i` of `n`; -1 where an item comes next. */
  private holesNext(i: number, n: number): number {
    const tag = this.buf[this.pos]
    if (tag === F.HOLE) {
      this.pos++
      return 1
    }
    if (tag !== F.HOLES) return -1
    const at = ++this.pos
    const count = this.varuint()
    if (count > n - i) throw this.fail(`${count} holes overrun the array's length ${n}`, at)
    return count
  }

  /** Reads `n` items (HOLE / HOLES allowed) into `a`, each at nesting `depth`. */
  private fillArray(a: Array<unknown>, n: number, depth: number): void {
    let i = 0
    while (i < n) {
      const holes = this.holesNext(i, n)
      if (holes >= 0) {
        i += holes
        continue
      }
      const v = this.value(depth)
      if (i >= a.length) this.charge(Cost.slot) // past its reserve, the array grows
      a[i++] = v
    }
    if (a.length !== n) a.length = n
  }

  /**
   * A plain object that no back-reference names (its tag is not SHARED), so
   * nothing needs it before its values: built after them, by its shape's
   * compiled constructor once the shape has one (../compiledShapes.ts).
   */
  private plainObject(shape: Shape, depth: number): unknown {
    if (shape.hasProtoKey) {
      // `__proto__` must be defined, not assigned: the checked frame does that.
      const o = this.object(shape)
      return o === OPEN ? this.run(this.sp - 1) : o
    }
    const keys = shape.keys
    const n = keys.length
    if (n !== 0 && depth >= this.maxDepth) throw this.fail(`nesting deeper than ${this.maxDepth} levels`)
    this.charge(Cost.object + Cost.property * n)
    this.ordinal++ // its number, as `keep` would give it
    this.sp = depth + 1
    const build = shape.build
    let o: Record<string, unknown>
    if (build !== undefined) o = build(this)
    else {
      countUse(shape, this.compileBudget)
      o = {}
      for (let i = 0; i < n; i++) o[keys[i]!] = this.value(depth + 1)
    }
    this.sp = depth
    return o
  }

  /** The next value, for a shape's compiled constructor (`value` at the depth `sp` holds). */
  read(): unknown {
    return this.value(this.sp)
  }

  /**
   * Reads children into the open containers until frame `base` (the one
   * just pushed) is complete, and returns its container. `v` carries a
   * finished child (or OPEN when the top frame was just pushed) from one turn
   * to the next.
   */
  private run(base: number): unknown {
    const { kinds, objs, keyLists, idxs, lens, auxs } = this.stack
    let v: unknown = OPEN
    outer: for (;;) {
      const f = this.sp - 1
      switch (kinds[f]) {
        case DF_OBJECT: {
          const o = objs[f] as Record<string, unknown>
          const keys = keyLists[f]!
          const n = lens[f]!
          let i = idxs[f]!
          if (v !== OPEN) o[keys[i++]!] = v
          while (i < n) {
            const x = this.item()
            if (x === OPEN) {
              idxs[f] = i
              v = OPEN
              continue outer
            }
            o[keys[i++]!] = x
          }
          v = o
          break
        }
        case DF_ARRAY: {
          const a = objs[f] as Array<unknown>
          const n = lens[f]!
          let i = idxs[f]!
          if (v !== OPEN) {
            if (i >= a.length) this.charge(Cost.slot) // past its reserve, the array grows
            a[i++] = v
          }
          while (i < n) {
            const holes = this.holesNext(i, n)
            if (holes >= 0) {
              i += holes
              continue
            }
            const x = this.item()
            if (x === OPEN) {
              idxs[f] = i
              v = OPEN
              continue outer
            }
            if (i >= a.length) this.charge(Cost.slot) // past its reserve, the array grows
            a[i++] = x
          }
          // A sparse array starts empty (its length may be far above the bytes left): holes at the end set its length.
          if (a.length !== n) a.length = n
          v = a
          break
        }
        case DF_OBJECT_CHECKED: {
          const o = objs[f] as Record<string, unknown>
          const proto = auxs[f] as object
          const keys = keyLists[f]!
          const n = lens[f]!
          let i = idxs[f]!
          if (v !== OPEN) setChecked(o, proto, keys[i++]!, v)
          while (i < n) {
            const x = this.item()
            if (x === OPEN) {
              idxs[f] = i
              v = OPEN
              continue outer
            }
            setChecked(o, proto, keys[i++]!, x)
          }
          v = o
          break
        }
        case DF_DICT:
        case DF_ERROR_PROPS: {
          const o = objs[f] as Record<string, unknown>
          const checked = kinds[f] === DF_ERROR_PROPS
          const n = lens[f]!
          let i = idxs[f]!
          if (v !== OPEN) {
            setDict(o, checked, auxs[f] as string, v)
            i++
          }
          while (i < n) {
            const k = this.key()
            const x = this.item()
            if (x === OPEN) {
              idxs[f] = i
              auxs[f] = k
              v = OPEN
              continue outer
            }
            setDict(o, checked, k, x)
            i++
          }
          v = o
          break
        }
        case DF_MAP: {
          const m = objs[f] as Map<unknown, unknown>
          const n = lens[f]!
          let i = idxs[f]!
          if (v !== OPEN) {
            if ((i & 1) === 0) auxs[f] = v
            else m.set(auxs[f], v)
            i++
          }
          while (i < n) {
            const x = this.item()
            if (x === OPEN) {
              idxs[f] = i
              v = OPEN
              continue outer
            }
            if ((i & 1) === 0) auxs[f] = x
            else m.set(auxs[f], x)
            i++
          }
          v = m
          break
        }
        case DF_SET: {
          const s = objs[f] as Set<unknown>
          const n = lens[f]!
          let i = idxs[f]!
          if (v !== OPEN) {
            s.add(v)
            i++
          }
          while (i < n) {
            const x = this.item()
            if (x === OPEN) {
              idxs[f] = i
              v = OPEN
              continue outer
            }
            s.add(x)
            i++
          }
          v = s
          break
        }
        case DF_ERROR_TAIL: {
          const e = objs[f] as Error
          if (v !== OPEN) defineHidden(e, auxs[f] as string, v)
          for (;;) {
            const flags = this.stack.extras[f]!
            const label = (flags & F.ERR_CAUSE) !== 0 ? "cause" : (flags & F.ERR_ERRORS) !== 0 ? "errors" : undefined
            if (label === undefined) break
            this.stack.extras[f] = flags & ~(label === "cause" ? F.ERR_CAUSE : F.ERR_ERRORS)
            auxs[f] = label
            const x = this.item()
            if (x === OPEN) {
              v = OPEN
              continue outer
            }
            defineHidden(e, label, x)
          }
          v = e
          break
        }
        default: {
          // DF_STATE
          if (v === OPEN) {
            if (idxs[f] === 0) {
              idxs[f] = 1
              const x = this.item()
              if (x === OPEN) continue outer
              v = x
            }
          }
          v = this.construct(objs[f] as ClassEntry, v, this.stack.extras[f]!)
        }
      }
      // The frame is complete: hand its container to the frame below.
      this.sp = f
      if (f === base) return v
    }
  }

  // ---- values -----------------------------------------------------------

  /** Reads one value: a leaf whole, or a container's header, returning OPEN after pushing its frame. */
  private item(): unknown {
    if (this.pos >= this.end) throw this.fail("unexpected end of input")
    let tag = this.buf[this.pos++]!
    if (tag <= F.FIXINT_MAX) return tag
    if (tag < F.FIXARRAY) return this.stringOfLength(tag - F.FIXSTR)
    if (tag >= F.FIXARRAY + F.SHARED) {
      if (tag >= F.FIXNEG) return tag - 0x100
      tag -= F.SHARED
      if (tag >= F.UNDEFINED && tag < F.ARRAY) throw this.fail(`unknown tag 0x${(tag + F.SHARED).toString(16)}`, this.pos - 1)
      this.shareNext = true
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
        const buf = this.buf
        const pos = this.pos
        this.pos = pos + 2
        return ((buf[pos]! | (buf[pos + 1]! << 8)) << 16) >> 16
      }
      case F.INT32: {
        this.need(4)
        const buf = this.buf
        const pos = this.pos
        this.pos = pos + 4
        return buf[pos]! | (buf[pos + 1]! << 8) | (buf[pos + 2]! << 16) | (buf[pos + 3]! << 24)
      }
      case F.FLOAT64:
        return this.f64()
      case F.BIGINT64: {
        this.need(8)
        this.charge(Cost.bigint)
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
        this.charge(Cost.date)
        const d = new Date(this.f64())
        this.keep(d)
        return d
      }
      case F.REGEXP:
        return this.regexp()
      case F.ERROR:
        return this.error()
      case F.MAP: {
        const n = this.count(2)
        this.charge(Cost.map + Cost.mapEntry * n)
        const m = new Map<unknown, unknown>()
        this.keep(m)
        return n === 0 ? m : this.push(DF_MAP, m, undefined, 2 * n, undefined, 0)
      }
      case F.SET: {
        const n = this.count(1)
        this.charge(Cost.set + Cost.setEntry * n)
        const s = new Set<unknown>()
        this.keep(s)
        return n === 0 ? s : this.push(DF_SET, s, undefined, n, undefined, 0)
      }
      case F.ARRAYBUFFER:
      case F.ARRAYBUFFER_OOB: {
        const shared = this.shareNext
        this.shareNext = false
        return this.materialize(this.bufferNode(tag, shared))
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
    this.charge(Cost.bigint + hex.length / 2)
    const magnitude = BigInt("0x" + hex)
    return negative ? -magnitude : magnitude
  }

  private array(n: number): unknown {
    const a = this.newArray(n)
    return n === 0 ? a : this.push(DF_ARRAY, a, undefined, n, undefined, 0)
  }

  /** A new array for `n` items, charged and counted (`keep`). */
  private newArray(n: number): Array<unknown> {
    // Sized up front when every item could be present (one byte each at least) and the slots reserved
    // for the whole message still fit in its header: no regrowth, no slack, and no multiplying by nesting.
    let a: Array<unknown>
    if (n <= this.end - this.pos && n <= this.presizeLeft) {
      this.charge(Cost.array + Cost.slot * n)
      this.presizeLeft -= n
      a = new Array(n)
    } else {
      // Grows as its items arrive, each charged then (see DF_ARRAY).
      this.charge(Cost.array)
      a = []
    }
    this.keep(a)
    return a
  }

  /** Whether the next bytes are `bytes`; if so, reads past them. */
  private skipIfNext(bytes: Uint8Array): boolean {
    const len = bytes.length
    const start = this.pos
    if (len > this.end - start) return false
    const buf = this.buf
    for (let i = 0; i < len; i++) if (buf[start + i] !== bytes[i]) return false
    this.pos = start + len
    return true
  }

  private definedShape(id: number): Shape {
    if (id >= this.shapeCount) throw this.fail(`shape ${id} is not defined (${this.shapeCount} so far)`, this.pos - 1)
    return this.shapes[id]!
  }

  private shapeRef(): Shape {
    const at = this.pos
    const id = this.varuint()
    const shapes = this.shapes
    if (id < this.shapeCount) return shapes[id]!
    if (id > this.shapeCount) throw this.fail(`shape ${id} is not defined (${this.shapeCount} so far)`, at)
    // A definition. Most often the same bytes as this id's definition in the last message: compared in place.
    const start = this.pos
    const last = id < LAST_DEFINITIONS ? this.lastShapes[id] : undefined
    if (last !== undefined && this.skipIfNext(last.bytes)) {
      shapes[this.shapeCount++] = last.shape
      return last.shape
    }
    // Else find its extent, then reuse the cached shape for the same bytes.
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
      this.charge(Cost.array + Cost.slot * n)
      const keys = new Array<string>(n)
      let hasProtoKey = false
      for (let i = 0; i < n; i++) {
        const k = this.key()
        if (k === "__proto__") hasProtoKey = true
        keys[i] = k
      }
      shape = { keys, hasProtoKey, safeFor: undefined, uses: 0, build: undefined }
      if (++this.shapesMade % BytesCache.SLOTS === 0) this.compileBudget.compiled = 0
      this.shapeCache.set(this.buf, start, end, shape)
    }
    if (id < LAST_DEFINITIONS && last?.shape !== shape) this.lastShapes[id] = { bytes: this.buf.slice(start, end), shape }
    shapes[this.shapeCount++] = shape
    return shape
  }

  private object(shape: Shape): unknown {
    const n = shape.keys.length
    this.charge(Cost.object + Cost.property * n)
    const o: Record<string, unknown> = {}
    this.keep(o)
    if (n === 0) return o
    return shape.hasProtoKey
      ? this.push(DF_OBJECT_CHECKED, o, shape.keys, n, Object.prototype, 0)
      : this.push(DF_OBJECT, o, shape.keys, n, undefined, 0)
  }

  private dict(o: Record<string, unknown>): unknown {
    const n = this.count(2)
    this.charge(Cost.dictionary + Cost.dictionaryEntry * n)
    this.keep(o)
    return n === 0 ? o : this.push(DF_DICT, o, undefined, n, undefined, 0)
  }

  private regexp(): RegExp {
    const at = this.pos
    const source = this.string()
    const flags = this.string()
    this.charge(Cost.regexp)
    let r: RegExp
    try {
      r = new RegExp(source, flags)
    } catch (e) {
      throw this.fail(`an invalid RegExp: ${(e as Error).message}`, at)
    }
    this.keep(r)
    return r
  }

  /** A primitive in a box: the tag that follows must be a primitive's, so no frame is needed. */
  private boxed(): object {
    const slot = this.reserve()
    const at = this.pos
    const tag = this.buf[this.pos]
    const primitive = tag !== undefined && (tag < F.FIXARRAY || tag >= F.FIXNEG || (tag >= F.FALSE && tag <= F.STRING && tag !== F.HOLE && tag !== F.HOLES))
    if (!primitive) throw this.fail("a boxed value that is not a number, string, boolean or bigint", at)
    const inner = this.item()
    this.charge(Cost.box)
    const o = Object(inner) as object
    this.fill(slot, o)
    return o
  }

  /** Wire order: header, own props (a dictionary), then cause and errors. */
  private error(): unknown {
    const at = this.pos - 1
    const kind = this.u8()
    const Ctor = F.errorClasses[kind]
    if (Ctor === undefined) throw this.fail(`unknown error kind ${kind}`, at)
    const flags = this.u8()
    if (flags > 15) throw this.fail(`unknown error flags ${flags}`, at)
    if ((flags & F.ERR_ERRORS) !== 0 && kind !== F.AGGREGATE_ERROR_KIND) throw this.fail("errors on an Error that is not an AggregateError", at)
    const message = (flags & F.ERR_MESSAGE) !== 0 ? this.string() : undefined
    const stack = (flags & F.ERR_STACK) !== 0 ? this.string() : undefined
    const n = this.count(2)
    this.charge(Cost.error + Cost.dictionaryEntry * n)
    const e = newError(Ctor, kind)
    if (message !== undefined) defineHidden(e, "message", message)
    if (stack !== undefined) defineHidden(e, "stack", stack)
    else delete e.stack
    this.keep(e)
    const tail = flags & (F.ERR_CAUSE | F.ERR_ERRORS)
    if (tail === 0 && n === 0) return e
    // The tail is read after the properties: it goes under them on the stack.
    if (tail !== 0) this.push(DF_ERROR_TAIL, e, undefined, 0, undefined, tail)
    if (n !== 0) this.push(DF_ERROR_PROPS, e, undefined, n, undefined, 0)
    return OPEN
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

  /** Reads an ArrayBuffer node (inline or out of band), the next object. */
  private bufferNode(tag: number, shared: boolean): BufferNode {
    const ordinal = this.ordinal++
    let node: BufferNode
    if (tag === F.ARRAYBUFFER) {
      const n = this.varuint()
      this.need(n)
      this.charge(Cost.arrayBuffer + n)
      const ab = new ArrayBuffer(n)
      const bytes = new Uint8Array(ab)
      bytes.set(this.buf.subarray(this.pos, this.pos + n))
      this.pos += n
      node = { bytes, exact: ab, ordinal, shared }
    } else {
      const f = this.frame()
      this.charge(Cost.arrayBuffer)
      const whole = f.byteOffset === 0 && f.byteLength === f.buffer.byteLength && f.buffer instanceof ArrayBuffer
      node = { bytes: f, exact: whole ? (f.buffer as ArrayBuffer) : undefined, ordinal, shared }
    }
    ;(this.bufferNodes ??= new Map()).set(ordinal, node)
    if (shared) (this.shared ??= [])[ordinal] = node.exact ?? LAZY_BUFFER
    return node
  }

  /** The ArrayBuffer of a node, copying its bytes out of a larger buffer the first time it is needed. */
  private materialize(node: BufferNode): ArrayBuffer {
    if (node.exact === undefined) {
      this.charge(node.bytes.byteLength)
      const copy = node.bytes.slice()
      node.exact = copy.buffer
      node.bytes = copy
      if (node.shared) this.shared![node.ordinal] = copy.buffer
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
    if (tag === F.ARRAYBUFFER || tag === F.ARRAYBUFFER_OOB) node = this.bufferNode(tag, false)
    else if (tag === F.ARRAYBUFFER + F.SHARED || tag === F.ARRAYBUFFER_OOB + F.SHARED) node = this.bufferNode(tag - F.SHARED, true)
    else if (tag === F.REF) {
      const refAt = this.pos
      const target = this.varuint()
      const found = this.bufferNodes?.get(target)
      if (found === undefined) throw this.fail(`a view's buffer refers to object ${target}, which is not an ArrayBuffer`, refAt)
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
      this.charge(node.bytes.byteLength)
      const copy = node.bytes.slice()
      node.bytes = copy
      if (node.exact === undefined) {
        node.exact = copy.buffer
        if (node.shared) this.shared![node.ordinal] = copy.buffer
      }
    }
    const bytes = node.bytes
    this.charge(Cost.view)
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
      this.charge(Cost.view + Cost.arrayBuffer + n)
      bytes = new Uint8Array(new ArrayBuffer(n))
      bytes.set(this.buf.subarray(this.pos, this.pos + n))
      this.pos += n
    } else {
      bytes = this.frame()
      this.charge(Cost.view + Cost.arrayBuffer + (bytes.byteOffset % size !== 0 ? bytes.byteLength : 0))
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
    if (id < this.classCount) return classes[id]!
    if (id > this.classCount) throw this.fail(`class ${id} is not defined (${this.classCount} so far)`, at)
    // Most often the same name as this id's in the last message, with the registry unchanged since: compared in place.
    const start = this.pos
    const last = id < LAST_DEFINITIONS ? this.lastClasses[id] : undefined
    if (last !== undefined && last.generation === this.registry.generation && this.skipIfNext(last.bytes)) {
      classes[this.classCount++] = last.entry
      return last.entry
    }
    const name = this.key()
    const entry = this.registry.forName(name)
    if (entry === undefined) {
      throw this.fail(`unknown class "${name}": the receiver must register it with registerClass(Class, { name: "${name}" })`, at)
    }
    if (id < LAST_DEFINITIONS) this.lastClasses[id] = { bytes: this.buf.slice(start, this.pos), entry, generation: this.registry.generation }
    classes[this.classCount++] = entry
    return entry
  }

  private instance(): unknown {
    const at = this.pos - 1
    const entry = this.classRef()
    if (entry.reduced) throw this.fail(`class "${entry.name}" is registered with reduce/construct here, but arrived as plain properties`, at)
    const shape = this.shapeRef()
    this.charge(Cost.object + Cost.property * shape.keys.length)
    const proto = entry.prototype
    const o = Object.create(proto) as Record<string, unknown>
    this.keep(o)
    const keys = shape.keys
    const n = keys.length
    if (n === 0) return o
    if (shape.safeFor !== proto) {
      // Cached per shape: whether any key exists on the prototype chain (a setter, a read-only property, __proto__).
      let safe = true
      for (let i = 0; i < n && safe; i++) safe = !(keys[i]! in proto)
      if (safe) shape.safeFor = proto
    }
    return shape.safeFor === proto ? this.push(DF_OBJECT, o, keys, n, undefined, 0) : this.push(DF_OBJECT_CHECKED, o, keys, n, proto, 0)
  }

  private reducedInstance(): unknown {
    const entry = this.classRef()
    this.charge(Cost.object)
    const slot = this.reserve()
    return this.push(DF_STATE, entry, undefined, 1, undefined, slot)
  }

  /** Builds a reduced instance from its state: the receiver's registered construct, or the default. */
  private construct(entry: ClassEntry, state: unknown, slot: number): object {
    let o: unknown
    try {
      o = entry.construct !== undefined ? entry.construct(state) : fromState(entry.prototype, state)
    } catch (e) {
      if (e instanceof DecodeError) throw e
      throw this.fail(`construct of class "${entry.name}" threw: ${e instanceof Error ? e.message : String(e)}`)
    }
    this.fill(slot, o)
    return o as object
  }
}

/** Sets a property on an object with a non-plain prototype: defined when the chain already has the key. */
const setChecked = (o: Record<string, unknown>, proto: object, k: string, v: unknown): void => {
  if (k === "__proto__" || k in proto) defineOwn(o, k, v)
  else o[k] = v
}

/** Sets a dictionary's property: `__proto__` (and, on an Error, keys its chain has) defined, not assigned. */
const setDict = (o: Record<string, unknown>, checked: boolean, k: string, v: unknown): void => {
  if (k === "__proto__" || (checked && k in o)) defineOwn(o, k, v)
  else o[k] = v
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
