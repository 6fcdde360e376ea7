/**
 * The explicit registry of classes that pickle may carry (the role of
 * Python's `copyreg` and `__reduce__`).
 *
 * Nothing else crosses the wire as a class instance: the sender refuses an
 * unregistered class, and the receiver refuses a class name it does not know,
 * so decoding never runs code the receiver did not register.
 *
 * @example
 * ```ts
 * class Complex { constructor(readonly re: number, readonly im: number) {} }
 * registerClass(Complex, { name: "Complex" })
 * // or with a custom state:
 * registerClass(Complex, { name: "Complex", reduce: (c) => [c.re, c.im], construct: ([re, im]) => new Complex(re, im) })
 * ```
 */
import { builtinPrototypes } from "./format.ts"

/**
 * How one class travels.
 *
 * @example
 * ```ts
 * Pickle.registerClass(Vec, { name: "Vec", reduce: (v) => [v.x, v.y], construct: ([x, y]) => new Vec(x, y) })
 * ```
 */
export interface ClassOptions<T extends object> {
  /** The name on the wire; sender and receiver must agree on it. */
  readonly name: string
  /** Turns an instance into a picklable state; default: its own enumerable properties. */
  readonly reduce?: (instance: T) => unknown
  /** Rebuilds an instance from the state; default: `Object.create(Class.prototype)` plus the state's properties. */
  readonly construct?: (state: any) => T
}

/**
 * Any class, abstract ones included.
 *
 * @example
 * ```ts
 * const register = (cls: Pickle.AnyClass, name: string) => Pickle.registerClass(cls, { name })
 * ```
 */
export type AnyClass<T extends object = object> = abstract new (...args: any) => T

/** One registered class. `epoch` and `wireId` belong to the encoder: the id the class has in the header being written. */
export class ClassEntry {
  epoch = -1
  wireId = 0
  nameBytes: Uint8Array | undefined = undefined
  readonly name: string
  readonly prototype: object
  readonly reduce: ((instance: any) => unknown) | undefined
  readonly construct: ((state: unknown) => object) | undefined
  constructor(name: string, prototype: object, options: ClassOptions<any>) {
    this.name = name
    this.prototype = prototype
    this.reduce = options.reduce
    this.construct = options.construct
  }
  /** Whether instances travel as a reduced state rather than as their own properties. */
  get reduced(): boolean {
    return this.reduce !== undefined || this.construct !== undefined
  }
}

/**
 * The classes a pickle codec carries, by name: instances of a registered class arrive as instances of it (the receiver must register the same name).
 *
 * @example
 * ```ts
 * const registry = new Pickle.ClassRegistry()
 * registry.register(Point, { name: "geo.Point" })
 * const codec = Pickle.make({ registry })   // a pickle codec of its own, with its own classes
 * ```
 */
export class ClassRegistry {
  private readonly byPrototype = new Map<object, ClassEntry>()
  private readonly byName = new Map<string, ClassEntry>()

  /**
   * Registers `cls` under `options.name`. Registering the same class again
   * replaces its options; a name taken by another class, or a built-in class,
   * is a programming error and throws.
   */
  register<T extends object>(cls: AnyClass<T>, options: ClassOptions<T>): void {
    const name = options.name
    if (typeof name !== "string" || name.length === 0) throw new TypeError("registerClass: options.name must be a non-empty string")
    const prototype: unknown = cls?.prototype
    if (typeof prototype !== "object" || prototype === null) throw new TypeError(`registerClass("${name}"): not a class`)
    if (prototype === Object.prototype || prototype === Array.prototype || builtinPrototypes.has(prototype)) {
      throw new TypeError(`registerClass("${name}"): ${cls.name} is built in; pickle carries it without registration`)
    }
    const taken = this.byName.get(name)
    if (taken !== undefined && taken.prototype !== prototype) {
      throw new TypeError(`registerClass: the name "${name}" is already registered for another class`)
    }
    const previous = this.byPrototype.get(prototype)
    if (previous !== undefined) this.byName.delete(previous.name)
    this.registrations++
    const entry = new ClassEntry(name, prototype, options)
    this.byPrototype.set(prototype, entry)
    this.byName.set(name, entry)
  }

  private registrations = 0

  /**
   * Counts registrations: what an encoder or decoder remembered of this
   * registry holds while it is unchanged.
   *
   * @example
   * ```ts
   * const before = registry.generation
   * registry.register(Point, { name: "Point" })
   * registry.generation === before + 1 // true
   * ```
   */
  get generation(): number {
    return this.registrations
  }

  /** The entry for instances whose prototype is `prototype`. */
  forPrototype(prototype: object): ClassEntry | undefined {
    return this.byPrototype.get(prototype)
  }

  /** The entry registered under `name`. */
  forName(name: string): ClassEntry | undefined {
    return this.byName.get(name)
  }
}

/** The module-wide registry used by the default `pickle` codec. */
export const defaultRegistry = new ClassRegistry()

