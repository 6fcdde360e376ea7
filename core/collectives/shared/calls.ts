/**
 * The collectives on a board as Effects, in the shapes the point-to-point
 * algorithms have, so that each collective's `start` picks one or the
 * other in a line: messages (`Encoded`) in and out, or buffers straight
 * into the caller's array.
 */
import type { Effect } from "effect"
import { Effect as E } from "effect"
import type { TypedArray } from "../../../codecs/Datatype.ts"
import * as Datatypes from "../../../codecs/Datatype.ts"
import type { Encoded } from "../../messaging/Message.ts"
import type { Kernel } from "../../op/kernels.ts"
import type { Op } from "../../op/Op.ts"
import type { CollectiveFailure } from "../errors.ts"
import { alltoall as exchange, blockPhases, type Blocks, partBytes } from "./alltoall.ts"
import type { Board } from "./Board.ts"
import { FORM_BUFFER, FORM_VALUE } from "./contribute.ts"
import { gatherBuffers, gatherStreams } from "./gather.ts"
import { fits, reduceBuffers } from "./reduce.ts"
import * as Rooted from "./rooted.ts"
import { Incoming, Outgoing, RawOutgoing } from "./wire.ts"
import { asNow, flatMapNow } from "../../messaging/completion.ts"

type Run<A> = Effect.Effect<A, CollectiveFailure>

export const barrier = (b: Board): Run<void> => b.start(b.call("barrier"), Rooted.barrier(b))

/** The root's message on every rank (the root's own at the root). */
export const bcast = (b: Board, root: number, message: Encoded | undefined): Run<Encoded> =>
  b.rank === root
    ? asNow(b.start(b.call("bcast"), Rooted.bcast(b, root, new Outgoing(message!))), message!)
    : flatMapNow(b.start(b.call("bcast"), Rooted.bcast(b, root, undefined)), parseReceived)

/**
 * The buffer form of bcast: the root's array (its raw message, written
 * straight into the slot); at the others, into `into` where it fits
 * (`undefined` then), else the root's message as `bcast` gives it.
 */
export const bcastBuffer = (b: Board, root: number, array: TypedArray | undefined, into: TypedArray | undefined): Run<Encoded | undefined> => {
  if (b.rank === root) return asNow(b.start(b.call("bcast"), Rooted.bcast(b, root, new RawOutgoing(array!, Datatypes.of(array!)))), undefined)
  const direct = into === undefined ? undefined : { into, datatype: Datatypes.of(into) }
  return flatMapNow(b.start(b.call("bcast"), Rooted.bcast(b, root, undefined, direct)), parseIfAny)
}

/** What a rank other than the root received (without `direct`, always a stream). */
const parseReceived = (incoming: Incoming | undefined): Run<Encoded> => parse(incoming!)

const parseIfAny = (incoming: Incoming | undefined): Run<Encoded | undefined> => incoming === undefined ? E.succeed(undefined) : parse(incoming)

/** This rank's item of the root's (`items`, one per rank, at the root only). */
export const scatter = (b: Board, root: number, items: ReadonlyArray<Encoded> | undefined): Run<Encoded> =>
  b.rank === root
    ? E.as(b.run("scatter", () => Rooted.scatter(b, root, items!.map((m) => new Outgoing(m)))), items![root]!)
    : E.flatMap(b.run("scatter", () => Rooted.scatter(b, root, undefined)), (incoming) => parse(incoming as Incoming))

/** Every rank's message at the readers (every rank when `root` is -1), in rank order; undefined elsewhere. */
export const gather = (b: Board, name: string, message: Encoded, root: number): Run<Array<Encoded> | undefined> =>
  E.flatMap(b.run(name, () => gatherStreams(b, name, new Outgoing(message), root)), (incoming) =>
    incoming === undefined ? E.succeed(undefined) : E.forEach(incoming, parse))

/** Buffers of equal length into `out` (p times as long) at the readers; completes when they are there (its value means nothing). */
export const gatherInto = (b: Board, name: string, buffer: TypedArray, root: number, out: TypedArray | undefined): Run<unknown> => {
  const caller = b.call(name)
  return b.start(caller, gatherBuffers(b, name, buffer, root, out, caller))
}

/** Whether the board reduces buffers of `bytes` with `op` (else the point-to-point algorithms do). */
export const reduces = (b: Board | undefined, op: Op, bytes: number): b is Board => b !== undefined && fits(b, op, bytes)

/** The elementwise reduction of every rank's `buffer` into `out` at the readers; completes when it is there (its value means nothing). */
export const reduceInto = (b: Board, name: string, op: Op, kernel: Kernel, buffer: TypedArray, root: number, out: TypedArray | undefined): Run<unknown> => {
  const caller = b.call(name)
  return b.start(caller, reduceBuffers(b, name, op, kernel, buffer, root, out, caller))
}

/** Whether the board runs alltoall (its parts must hold a length and some data). */
export const exchanges = (b: Board | undefined): b is Board => b !== undefined && partBytes(b) > 0

/** Block q of `buffer` (p equal blocks) to rank q, into block q of `out` from every rank. */
export const alltoallInto = (b: Board, buffer: TypedArray, out: TypedArray, blockElements: number): Run<void> => {
  const own = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
  const target = new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
  const block = blockElements * buffer.BYTES_PER_ELEMENT
  const blocks: Blocks = {
    describe: { form: FORM_BUFFER, datatype: Datatypes.of(buffer).id, count: blockElements },
    length: () => block,
    copy: (dest, from, into, at, n) => into.set(own.subarray(dest * block + from, dest * block + from + n), at)
  }
  return b.run("alltoall", (caller) =>
    exchange(b, "alltoall", blocks, () => blockPhases(b, block), (q, _total, offset, n, at) => {
      if (!caller.abandoned && n > 0) target.set(b.bytes.subarray(at, at + n), q * block + offset)
    }))
}

/** Item q of `items` to rank q; every rank's item for this rank, in rank order. */
export const alltoall = (b: Board, items: ReadonlyArray<Encoded>): Run<Array<Encoded>> => {
  const streams = items.map((m) => new Outgoing(m))
  const phases = streams.reduce((most, s) => Math.max(most, blockPhases(b, s.length)), 1)
  const blocks: Blocks = {
    describe: { form: FORM_VALUE, datatype: 0, count: phases },
    length: (dest) => streams[dest]!.length,
    copy: (dest, from, into, at, n) => streams[dest]!.copy(from, into, at, n)
  }
  const incoming = new Array<Incoming>(b.p)
  return E.flatMap(
    b.run("alltoall", () =>
      exchange(b, "alltoall", blocks, (count) => {
        let most = 1
        for (let q = 0; q < b.p; q++) most = Math.max(most, count(q))
        return most
      }, (q, total, offset, n, at) => {
        if (offset === 0 && incoming[q] === undefined) incoming[q] = new Incoming(total)
        if (n > 0) incoming[q]!.put(offset, b.bytes, at, n)
      })),
    () => E.forEach(incoming, parse)
  )
}

const parse = (incoming: Incoming): Run<Encoded> =>
  E.try({ try: () => incoming.message(), catch: (e) => e as CollectiveFailure })

