/**
 * The explicit stack of pickle's encoder and decoder: one entry per open
 * container, in parallel arrays reused across messages, so that nesting is
 * bounded only by `maxDepth` and never by the call stack. The walkers keep
 * their own stack pointer and read these arrays directly in their loops.
 */

const INITIAL_STACK = 64
/** Stacks larger than this are cut back after the message. */
const KEEP_STACK = 4096

/**
 * The parallel arrays of the open containers: their kind, object, key list,
 * cursor, length, one value of the walker's own (`auxs`) and one kept across
 * messages (`extras`: the encoder's last shape per depth, the decoder's ordinals).
 *
 * @example
 * ```ts
 * const stack = new FrameStack<number>(maxDepth, 0, () => fail("nesting too deep"))
 * if (f === stack.cap) stack.grow()
 * ```
 */
export class FrameStack<Extra> {
  readonly kinds: Array<number> = []
  readonly objs: Array<unknown> = []
  readonly keyLists: Array<ReadonlyArray<string> | undefined> = []
  readonly idxs: Array<number> = []
  readonly lens: Array<number> = []
  readonly auxs: Array<unknown> = []
  readonly extras: Array<Extra> = []
  /** Entries allocated. */
  cap = 0
  /** Entries used by this message (to let go of their objects after it). */
  high = 0
  private readonly maxDepth: number
  private readonly emptyExtra: Extra
  private readonly tooDeep: () => Error

  constructor(maxDepth: number, emptyExtra: Extra, tooDeep: () => Error) {
    this.maxDepth = maxDepth
    this.emptyExtra = emptyExtra
    this.tooDeep = tooDeep
    this.grow()
  }

  /** Doubles the entries, up to `maxDepth`; past it throws `tooDeep()`. */
  grow(): void {
    const cap = this.cap
    if (cap >= this.maxDepth) throw this.tooDeep()
    const next = Math.min(this.maxDepth, Math.max(INITIAL_STACK, cap * 2))
    for (let i = cap; i < next; i++) {
      this.kinds.push(0)
      this.objs.push(undefined)
      this.keyLists.push(undefined)
      this.idxs.push(0)
      this.lens.push(0)
      this.auxs.push(undefined)
      this.extras.push(this.emptyExtra)
    }
    this.cap = next
  }

  /** Fills entry `f` for a container just opened (growing the stack when `f` is past its end). */
  open(f: number, kind: number, obj: unknown, keys: ReadonlyArray<string> | undefined, n: number, aux: unknown): void {
    if (f === this.cap) this.grow()
    this.kinds[f] = kind
    this.objs[f] = obj
    this.keyLists[f] = keys
    this.idxs[f] = 0
    this.lens[f] = n
    this.auxs[f] = aux
    if (f >= this.high) this.high = f + 1
  }

  /** Lets go of the message's objects; after a rare huge message, gives the memory back. */
  release(): void {
    const { objs, keyLists, auxs } = this
    for (let i = 0; i < this.high; i++) {
      objs[i] = undefined
      keyLists[i] = undefined
      auxs[i] = undefined
    }
    this.high = 0
    if (this.cap > KEEP_STACK) {
      this.kinds.length = INITIAL_STACK
      this.objs.length = INITIAL_STACK
      this.keyLists.length = INITIAL_STACK
      this.idxs.length = INITIAL_STACK
      this.lens.length = INITIAL_STACK
      this.auxs.length = INITIAL_STACK
      this.extras.length = INITIAL_STACK
      this.cap = INITIAL_STACK
    }
  }
}
