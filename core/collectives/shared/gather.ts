/**
 * Gather and allgather through a board (see contribute.ts): every rank
 * writes its contribution into its slot once; the readers copy each
 * rank's piece straight to where it belongs.
 */
import type { TypedArray } from "../../../codecs/Datatype.ts"
import type { Board, Caller, Steps } from "./Board.ts"
import { contribute, type Layout, ofBuffer, ofStream, type Reader } from "./contribute.ts"
import { Incoming, type Outgoing } from "./wire.ts"

/**
 * Buffers of equal length: `out` (at the readers: every rank when `root` is
 * -1) gets rank q's elements at q · input.length. The steps are
 * `contribute`'s own (no generator that only delegates to them: ~300 bytes
 * a call); their result, the layout, is of no use to the caller.
 */
export const gatherBuffers = (b: Board, name: string, input: TypedArray, root: number, out: TypedArray | undefined, caller: Caller): Steps<unknown> =>
  contribute(b, name, ofBuffer(input), root, new BufferGather(b, input, out, caller))

/** Copies each rank's piece to its place in the output. */
class BufferGather implements Reader {
  private readonly b: Board
  private readonly caller: Caller
  private readonly own: Uint8Array
  private readonly target: Uint8Array | undefined
  private readonly stride: number

  constructor(b: Board, input: TypedArray, out: TypedArray | undefined, caller: Caller) {
    this.b = b
    this.caller = caller
    this.own = new Uint8Array(input.buffer, input.byteOffset, input.byteLength)
    this.target = out === undefined ? undefined : new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
    this.stride = input.byteLength
  }

  take(q: number, offset: number, n: number, at: number): void {
    if (this.caller.abandoned) return
    this.target!.set(q === this.b.rank ? this.own.subarray(offset, offset + n) : this.b.bytes.subarray(at, at + n), q * this.stride + offset)
  }
}

/** Values as streams: the readers get every rank's stream (their own included) in rank order. */
export function* gatherStreams(b: Board, name: string, stream: Outgoing, root: number): Steps<Array<Incoming> | undefined> {
  const gather = new StreamGather(b, root < 0 || root === b.rank)
  yield* contribute(b, name, ofStream(stream), root, gather)
  return gather.incoming
}

/** Collects each rank's stream. */
class StreamGather implements Reader {
  incoming: Array<Incoming> | undefined
  private readonly b: Board
  private readonly reads: boolean

  constructor(b: Board, reads: boolean) {
    this.b = b
    this.reads = reads
  }

  first(layout: Layout): void {
    if (this.reads) this.incoming = layout.bytes.map(newIncoming)
  }

  take(q: number, offset: number, n: number, at: number): void {
    this.incoming![q]!.put(offset, this.b.bytes, at, n)
  }
}

const newIncoming = (n: number): Incoming => new Incoming(n)
