/**
 * `pickle`: the object-graph codec (the role of Python's pickle, protocol 5).
 *
 * Round-trips undefined, null, booleans, numbers (NaN, -0, ±Infinity),
 * bigints, strings (lone surrogates too), Date, RegExp, Error and its
 * built-in subclasses, Map, Set, arrays with holes, plain and null-prototype
 * objects, ArrayBuffer, DataView, every typed array, shared references and
 * cycles, and instances of registered classes. Large binary data travels out
 * of band: the header refers to it, `frames.buffers` carries it uncopied.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { pickle, Pickle, registerClass } from "rankflow/codecs"
 *
 * class Complex { constructor(readonly re: number, readonly im: number) {} }
 * registerClass(Complex, { name: "Complex" })
 *
 * const program = Effect.gen(function* () {
 *   const frames = yield* pickle.encode({ key1: [7, 2.72, new Complex(2, 3)], key2: ["abc", "xyz"] })
 *   return yield* pickle.decode(frames)
 * })
 *
 * // A codec with its own registry and threshold:
 * const isolated = Pickle.make({ outOfBandThreshold: 1024 })
 * isolated.registerClass(Complex, { name: "Complex" })
 * ```
 */
import * as Codec from "../Codec.ts"
import { register } from "../registry.ts"
import { type AnyClass, type ClassOptions, ClassRegistry, defaultRegistry } from "./ClassRegistry.ts"
import { Decoder } from "./Decoder.ts"
import { Encoder } from "./Encoder.ts"
import { DEFAULT_MAX_DEPTH, DEFAULT_OUT_OF_BAND_THRESHOLD } from "./format.ts"

export { type AnyClass, type ClassOptions, ClassRegistry } from "./ClassRegistry.ts"

/**
 * How `Pickle.make` builds a pickle codec: the out-of-band threshold, the class registry, the deepest nesting.
 *
 * @example
 * ```ts
 * const codec = Pickle.make({ outOfBandThreshold: 4096, maxDepth: 1000 })
 * ```
 */
export interface PickleOptions {
  /** Typed arrays and ArrayBuffers of at least this many bytes travel out of band (default 64 KiB; `Infinity`: never). */
  readonly outOfBandThreshold?: number
  /** The classes this codec carries (default: a new, empty registry). */
  readonly registry?: ClassRegistry
  /** The deepest nesting of containers accepted, both ways (default 100,000). */
  readonly maxDepth?: number
}

/**
 * A pickle codec together with its class registry.
 *
 * @example
 * ```ts
 * const codec: Pickle.PickleCodec = Pickle.make()
 * codec.registerClass(Point, { name: "Point" })
 * ```
 */
export interface PickleCodec extends Codec.Codec {
  readonly registry: ClassRegistry
  /** Registers a class with this codec's registry. */
  readonly registerClass: <T extends object>(cls: AnyClass<T>, options: ClassOptions<T>) => void
  readonly outOfBandThreshold: number
  readonly maxDepth: number
}

const NAME = "pickle"

/**
 * Builds a pickle codec with its own registry (unless one is given) and its
 * own threshold. Such a codec is not put in the codec registry: the one
 * registered under "pickle" is the default `pickle`.
 *
 * @example
 * ```ts
 * const strict = Pickle.make({ registry: new Pickle.ClassRegistry(), outOfBandThreshold: Infinity })
 * const frames = strict.encodeSync({ a: [1, 2], b: new Map([["k", 1]]) })
 * ```
 */
export const make = (options: PickleOptions = {}): PickleCodec => {
  const outOfBandThreshold = options.outOfBandThreshold ?? DEFAULT_OUT_OF_BAND_THRESHOLD
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH
  const registry = options.registry ?? new ClassRegistry()
  if (!(outOfBandThreshold >= 0)) throw new RangeError(`outOfBandThreshold must be >= 0, got ${outOfBandThreshold}`)
  if (!Number.isInteger(maxDepth) || maxDepth < 1) throw new RangeError(`maxDepth must be a positive integer, got ${maxDepth}`)
  const encoderOptions = { codec: NAME, registry, outOfBandThreshold, maxDepth }
  const decoderOptions = { codec: NAME, registry, maxDepth }
  const encoder = new Encoder(encoderOptions)
  const decoder = new Decoder(decoderOptions)
  const codec = Codec.make({
    name: NAME,
    id: Codec.CodecIds.pickle,
    // A reduce/construct that pickles re-enters: the nested call gets a fresh encoder/decoder.
    encodeSync: (value) => (encoder.busy ? new Encoder(encoderOptions) : encoder).encode(value),
    decodeSync: (frames, options) => (decoder.busy ? new Decoder(decoderOptions) : decoder).decode(frames, options)
  })
  return {
    ...codec,
    registry,
    registerClass: (cls, classOptions) => registry.register(cls, classOptions),
    outOfBandThreshold,
    maxDepth
  }
}

/**
 * The default pickle codec (registered as "pickle", id 1), using the module-wide class registry.
 *
 * @example
 * ```ts
 * const frames = pickle.encodeSync(new Map([[1, new Set(["a"])]]))
 * pickle.decodeSync(frames)   // Map { 1 => Set { "a" } }
 * ```
 */
export const pickle: PickleCodec = register(make({ registry: defaultRegistry })) as PickleCodec

/**
 * Registers a class with the default `pickle` codec (see `ClassRegistry.register`).
 *
 * @example
 * ```ts
 * class Point { constructor(readonly x: number, readonly y: number) {} }
 * registerClass(Point, { name: "Point" })   // on every rank: received Points are Points again
 * yield* world.send(new Point(1, 2), { dest: 1 })
 * ```
 */
export const registerClass = <T extends object>(cls: AnyClass<T>, options: ClassOptions<T>): void =>
  defaultRegistry.register(cls, options)
