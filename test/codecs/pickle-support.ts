/**
 * Helpers shared by the pickle tests: a structural equality that understands
 * NaN, -0, holes and the identity of shared references, arbitraries for the
 * codec's domain and for object graphs with shared references and cycles, and
 * a tiny assembler for hand-crafted headers.
 */
import fc from "fast-check"
import * as F from "../../codecs/pickle/format.ts"

/**
 * Whether `b` is a faithful copy of `a`: same structure and values (NaN and
 * -0 compared with Object.is, holes as holes), same classes, and the same
 * sharing: objects map one-to-one, so `a.x === a.y` iff `b.x === b.y`.
 * Returns a description of the first difference, or undefined.
 */
export const graphDifference = (a: unknown, b: unknown): string | undefined => {
  const aToB = new Map<object, object>()
  const bToA = new Map<object, object>()
  const walk = (x: unknown, y: unknown, path: string): string | undefined => {
    if (typeof x !== "object" || x === null) {
      if (typeof x === "function") return `${path}: a function`
      return Object.is(x, y) ? undefined : `${path}: ${String(x)} vs ${String(y)}`
    }
    if (typeof y !== "object" || y === null) return `${path}: object vs ${String(y)}`
    const seenB = aToB.get(x)
    if (seenB !== undefined) return seenB === y ? undefined : `${path}: sharing differs`
    if (bToA.has(y)) return `${path}: sharing differs (one copy stands for two objects)`
    aToB.set(x, y)
    bToA.set(y, x)
    const protoX = Object.getPrototypeOf(x)
    const protoY = Object.getPrototypeOf(y)
    const sameProto = protoX === protoY || (protoX === Buffer.prototype && protoY === Uint8Array.prototype)
    if (!sameProto) return `${path}: prototype ${protoX?.constructor?.name} vs ${protoY?.constructor?.name}`
    if (x instanceof Date) return Object.is(x.getTime(), (y as Date).getTime()) ? undefined : `${path}: date`
    if (x instanceof RegExp) {
      const r = y as RegExp
      return x.source === r.source && x.flags === r.flags ? undefined : `${path}: regexp /${x.source}/${x.flags} vs /${r.source}/${r.flags}`
    }
    if (x instanceof Number || x instanceof String || x instanceof Boolean || x instanceof BigInt) {
      return Object.is(x.valueOf(), (y as { valueOf(): unknown }).valueOf()) ? undefined : `${path}: boxed value`
    }
    if (x instanceof ArrayBuffer) return sameBytes(new Uint8Array(x), new Uint8Array(y as ArrayBuffer)) ? undefined : `${path}: ArrayBuffer bytes`
    if (ArrayBuffer.isView(x)) {
      const v = y as ArrayBufferView
      if (x.byteLength !== v.byteLength) return `${path}: byteLength ${x.byteLength} vs ${v.byteLength}`
      return sameBytes(new Uint8Array(x.buffer, x.byteOffset, x.byteLength), new Uint8Array(v.buffer, v.byteOffset, v.byteLength))
        ? undefined
        : `${path}: view bytes`
    }
    if (x instanceof Map) {
      const m = y as Map<unknown, unknown>
      if (x.size !== m.size) return `${path}: Map size ${x.size} vs ${m.size}`
      const ex = [...x]
      const ey = [...m]
      for (let i = 0; i < ex.length; i++) {
        const d = walk(ex[i]![0], ey[i]![0], `${path}{${i}}.key`) ?? walk(ex[i]![1], ey[i]![1], `${path}{${i}}.value`)
        if (d !== undefined) return d
      }
      return undefined
    }
    if (x instanceof Set) {
      const s = y as Set<unknown>
      if (x.size !== s.size) return `${path}: Set size ${x.size} vs ${s.size}`
      const ex = [...x]
      const ey = [...s]
      for (let i = 0; i < ex.length; i++) {
        const d = walk(ex[i], ey[i], `${path}{${i}}`)
        if (d !== undefined) return d
      }
      return undefined
    }
    if (x instanceof Error) {
      const e = y as Error
      if (x.message !== e.message) return `${path}: message ${x.message} vs ${e.message}`
      if (x.name !== e.name) return `${path}: name ${x.name} vs ${e.name}`
      if (Object.hasOwn(x, "cause") !== Object.hasOwn(e, "cause")) return `${path}: cause presence`
      const d = walk(x.cause, e.cause, `${path}.cause`)
      if (d !== undefined) return d
      if (x instanceof AggregateError) {
        const d2 = walk(x.errors, (e as AggregateError).errors, `${path}.errors`)
        if (d2 !== undefined) return d2
      }
    }
    if (Array.isArray(x) && (x as Array<unknown>).length !== (y as Array<unknown>).length) {
      return `${path}: length ${(x as Array<unknown>).length} vs ${(y as Array<unknown>).length}`
    }
    const kx = Object.keys(x)
    const ky = Object.keys(y)
    if (kx.length !== ky.length || kx.some((k, i) => k !== ky[i])) return `${path}: keys [${kx}] vs [${ky}]`
    for (const k of kx) {
      if (!Object.hasOwn(y, k)) return `${path}.${k}: missing`
      const d = walk((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k], `${path}.${k}`)
      if (d !== undefined) return d
    }
    return undefined
  }
  return walk(a, b, "$")
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Leaves beyond fc.anything's defaults: the awkward numbers, any bigint, any string, any date, regexps, errors. */
const leaves: Array<fc.Arbitrary<unknown>> = [
  fc.constantFrom(NaN, -0, 0, Infinity, -Infinity, Number.MAX_VALUE, Number.MIN_VALUE, 2 ** 31, -(2 ** 31), 2 ** 53, undefined, null),
  fc.double(),
  fc.integer(),
  fc.bigInt({ min: -(2n ** 200n), max: 2n ** 200n }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.boolean(),
  fc.date({ noInvalidDate: false }),
  fc.constantFrom(/a+b/gi, /^x$/m, /\u{1F600}/u, /(?<year>\d{4})/d, /[\s\S]/s, /y/y, /v/v),
  fc.tuple(fc.constantFrom(Error, TypeError, RangeError, SyntaxError, EvalError, ReferenceError, URIError), fc.string()).map(
    ([E, m]) => new E(m)
  )
]

/** Values of pickle's domain: fc.anything with maps, sets, bigints, dates, typed arrays, sparse arrays, boxed and null-prototype objects. */
export const anyPicklable: fc.Arbitrary<unknown> = fc.anything({
  maxDepth: 4,
  maxKeys: 6,
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withSparseArray: true,
  withTypedArray: true,
  stringUnit: "binary",
  values: leaves
})

/**
 * Object graphs with shared references and cycles: nodes of several kinds
 * (object, array, Map, Set, an instance of `Node`) whose children point at
 * any node, itself included.
 */
export class GraphNode {
  label = ""
  next: unknown = null
}

export const anyGraph: fc.Arbitrary<unknown> = fc
  .array(
    fc.record({
      kind: fc.constantFrom("object", "array", "map", "set", "instance"),
      children: fc.array(fc.nat(), { maxLength: 4 }),
      leaf: fc.oneof(fc.integer(), fc.string(), fc.constant(NaN), fc.constant(-0))
    }),
    { minLength: 1, maxLength: 12 }
  )
  .map((specs) => {
    const nodes: Array<object> = specs.map((s) =>
      s.kind === "object" ? {} : s.kind === "array" ? [] : s.kind === "map" ? new Map() : s.kind === "set" ? new Set() : new GraphNode()
    )
    specs.forEach((s, i) => {
      const node = nodes[i]!
      const kids = s.children.map((c) => nodes[c % nodes.length]!)
      if (Array.isArray(node)) node.push(s.leaf, ...kids)
      else if (node instanceof Map) kids.forEach((k, j) => node.set(j % 2 === 0 ? k : `k${j}`, j % 3 === 0 ? s.leaf : k))
      else if (node instanceof Set) {
        node.add(s.leaf)
        kids.forEach((k) => node.add(k))
      } else if (node instanceof GraphNode) {
        node.label = String(s.leaf)
        node.next = kids
      } else {
        const o = node as Record<string, unknown>
        o.leaf = s.leaf
        kids.forEach((k, j) => (o[`c${j}`] = k))
      }
    })
    return { root: nodes[0], all: nodes }
  })

/** Assembles a header from tags, varuints (`{ u: n }`), strings (`{ s: "..." }`) and raw bytes. */
export const header = (...parts: Array<number | { u: number } | { s: string } | Uint8Array>): Uint8Array => {
  const out: Array<number> = [F.VERSION]
  const varuint = (v: number) => {
    while (v >= 0x80) {
      out.push((v % 0x80) | 0x80)
      v = Math.floor(v / 0x80)
    }
    out.push(v)
  }
  for (const p of parts) {
    if (typeof p === "number") out.push(p)
    else if (p instanceof Uint8Array) out.push(...p)
    else if ("u" in p) varuint(p.u)
    else {
      const bytes = new TextEncoder().encode(p.s)
      varuint(bytes.length)
      out.push(...bytes)
    }
  }
  return Uint8Array.from(out)
}
