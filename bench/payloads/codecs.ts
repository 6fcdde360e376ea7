/**
 * The payloads of the codec benchmark, built deterministically (a seeded
 * generator), each in the form every codec can carry.
 */

/** The mpi4py tutorial's complex number, registered with pickle by the benchmark. */
export class Complex {
  readonly re: number
  readonly im: number
  constructor(re: number, im: number) {
    this.re = re
    this.im = im
  }
}

const prng = (seed: number) => () => {
  seed = (seed * 1664525 + 1013904223) >>> 0
  return seed / 2 ** 32
}

/** The tutorial's seed dict; `plain` has `{ re, im }` where codecs without classes need it. */
export const seedDict = (plain: boolean) => ({
  key1: [7, 2.72, plain ? { re: 2, im: 3 } : new Complex(2, 3)],
  key2: ["abc", "xyz"]
})

export const smallRecord = () => ({ id: 42, name: "alice", score: 3.5, active: true, tags: ["a", "b"] })

const TAGS = ["red", "green", "blue", "cyan", "magenta"]

export const records = (n: number) => {
  const r = prng(7)
  return Array.from({ length: n }, (_, id) => ({
    id,
    name: `user${id}`,
    x: r() * 1000,
    y: r() * 1000,
    tags: TAGS.slice(0, 1 + (id % 3))
  }))
}

/** ~1,000 nodes that share children and point back to their parents (cycles). */
export const graph = (n: number) => {
  const r = prng(11)
  interface Node {
    id: number
    label: string
    parent: Node | null
    children: Array<Node>
    peers: Array<Node>
  }
  const nodes: Array<Node> = []
  for (let id = 0; id < n; id++) {
    const parent = id === 0 ? null : nodes[Math.floor(r() * id)]!
    const node: Node = { id, label: `n${id}`, parent, children: [], peers: [] }
    parent?.children.push(node)
    nodes.push(node)
  }
  for (const node of nodes) for (let k = 0; k < 3; k++) node.peers.push(nodes[Math.floor(r() * n)]!)
  return nodes[0]!
}

export const float64 = (n: number) => {
  const r = prng(13)
  return Float64Array.from({ length: n }, () => r())
}

/** A document of paragraphs: long strings, some non-ASCII. */
export const stringDocument = () => {
  const r = prng(17)
  const words = ["lorem", "ipsum", "dolor", "sit", "amet", "rankflow", "Ωmega", "naïve", "façade", "日本語", "emoji😀"]
  return {
    title: "A string-heavy document",
    sections: Array.from({ length: 50 }, (_, s) => ({
      heading: `Section ${s}`,
      paragraphs: Array.from({ length: 8 }, () => Array.from({ length: 60 }, () => words[Math.floor(r() * words.length)]).join(" "))
    }))
  }
}
