/**
 * The encoder's shape tree: how an object's key list is found without
 * allocating, and which shapes and keys the current message has defined.
 */

/** A key string's slot in the current message's key table. */
export interface KeyEntry {
  readonly key: string
  epoch: number
  index: number
}

/**
 * A node of the shape tree: the key list reached by walking keys from the
 * root. Nodes persist across messages so that finding an object's shape costs
 * a pointer comparison (or a Map lookup) per key and allocates nothing. A node
 * holds only its own key; the whole key list is built the first time the node
 * ends an object, so a long key list costs memory linear in its length.
 */
export class ShapeNode {
  readonly parent: ShapeNode | undefined
  /** This node's key in the current message's key table. */
  readonly entry: KeyEntry | undefined
  readonly length: number
  /** The first child, checked before the map: records mostly take one path (a pointer compare of internalized keys). */
  firstKey: string | undefined = undefined
  firstChild: ShapeNode | undefined = undefined
  /** Children past the first. */
  children: Map<string, ShapeNode> | undefined = undefined
  /** The message that last defined this shape, and its index in that message. */
  epoch = 0
  index = 0
  /** The key entries of the whole shape, made when the node first ends an object. */
  entries: ReadonlyArray<KeyEntry> | undefined = undefined
  /** The bytes of this shape's definition when all its keys are new to the message. */
  definition: Uint8Array | undefined = undefined
  constructor(parent: ShapeNode | undefined, entry: KeyEntry | undefined) {
    this.parent = parent
    this.entry = entry
    this.length = parent === undefined ? 0 : parent.length + 1
  }

  /** The next node along `key`, if the tree has it. */
  child(key: string): ShapeNode | undefined {
    return this.firstKey === key ? this.firstChild : this.children?.get(key)
  }

  shapeEntries(): ReadonlyArray<KeyEntry> {
    if (this.entries !== undefined) return this.entries
    const entries = new Array<KeyEntry>(this.length)
    for (let node: ShapeNode = this; node.entry !== undefined; node = node.parent!) entries[node.length - 1] = node.entry
    return (this.entries = entries)
  }
}
