/**
 * Gather and allgather through a board (see contribute.ts): every rank
 * writes its contribution into its slot once; the readers copy each
 * rank's piece straight to where it belongs.
 */
import type { TypedArray } from "../../../codecs/Datatype.ts"
import type { Board, Caller, Steps } from "./Board.ts"
import { contribute, ofBuffer, ofStream } from "./contribute.ts"
import { Incoming, type Outgoing } from "./wire.ts"

/**
 * Buffers of equal length: `out` (at the readers: every rank when `root` is
 * -1) gets rank q's elements at q · input.length.
 */
export function* gatherBuffers(b: Board, name: string, input: TypedArray, root: number, out: TypedArray | undefined, caller: Caller): Steps<void> {
  const own = new Uint8Array(input.buffer, input.byteOffset, input.byteLength)
  const target = out === undefined ? undefined : new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
  const stride = input.byteLength
  yield* contribute(b, name, ofBuffer(input), root, (q, offset, n, at) => {
    if (caller.abandoned) return
    target!.set(q === b.rank ? own.subarray(offset, offset + n) : b.bytes.subarray(at, at + n), q * stride + offset)
  })
}

/** Values as streams: the readers get every rank's stream (their own included) in rank order. */
export function* gatherStreams(b: Board, name: string, stream: Outgoing, root: number): Steps<Array<Incoming> | undefined> {
  let incoming: Array<Incoming> | undefined
  const reader = root < 0 || root === b.rank
  yield* contribute(
    b,
    name,
    ofStream(stream),
    root,
    (q, offset, n, at) => incoming![q]!.put(offset, b.bytes, at, n),
    (layout) => {
      if (reader) incoming = layout.bytes.map((n) => new Incoming(n))
    }
  )
  return incoming
}
