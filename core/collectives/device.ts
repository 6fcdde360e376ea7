/**
 * Collectives on device arrays (see ../DeviceArray.ts): the communicator
 * checks the arguments every rank shares, opens the call (its context and
 * tag) and hands the array a link for that call's host-buffer messages; the
 * array's own hooks run the algorithm (chunked transfers, reductions on the
 * device).
 */
import type { Effect } from "effect"
import type { TypedArray } from "../../codecs/Datatype.ts"
import type { CommState } from "../comm/CommState.ts"
import { type DeviceArray, DeviceArrayTypeId, type DeviceLink } from "../comm/DeviceArray.ts"
import type { Op } from "../op/Op.ts"
import { checkComm, checkRoot } from "./checks.ts"
import type { CollectiveFailure } from "./errors.ts"
import { type Call, open, postInto, send, wait } from "./link.ts"
import { checkOp } from "./ops.ts"
import type { RootOption } from "./options.ts"
import { encodeBuffer } from "./payload.ts"

const linkOf = (call: Call): DeviceLink => ({
  rank: call.c.rank,
  size: call.c.size,
  name: call.name,
  send: (dest: number, data: TypedArray) => send(call, dest, encodeBuffer(data)),
  recvInto: <T extends TypedArray>(source: number, into: T) => wait(postInto(call, source, into))
})

type Started = Effect.Effect<unknown, CollectiveFailure | unknown>

const rootOf = (c: CommState, name: string, options: RootOption | undefined): number => {
  const root = options?.root ?? 0
  checkRoot(c, name, root)
  return root
}

const opened = (c: CommState, name: string): DeviceLink => {
  checkComm(c)
  return linkOf(open(c, name))
}

/** `bcast` of a device array (the start function of run.ts: checks throw). */
export const bcast = (c: CommState, array: DeviceArray, options?: RootOption): Started => {
  const root = rootOf(c, "bcast", options)
  return array[DeviceArrayTypeId].bcast(array, opened(c, "bcast"), root)
}

/** `reduce` of device arrays. */
export const reduce = (c: CommState, array: DeviceArray, op: Op, options?: RootOption): Started => {
  checkOp("reduce", op)
  const root = rootOf(c, "reduce", options)
  return array[DeviceArrayTypeId].reduce(array, opened(c, "reduce"), op, root)
}

/** `allreduce` of device arrays. */
export const allreduce = (c: CommState, array: DeviceArray, op: Op): Started => {
  checkOp("allreduce", op)
  return array[DeviceArrayTypeId].allreduce(array, opened(c, "allreduce"), op)
}

/** `gather` of device arrays: their concatenation at the root. */
export const gather = (c: CommState, array: DeviceArray, options?: RootOption): Started => {
  const root = rootOf(c, "gather", options)
  return array[DeviceArrayTypeId].gather(array, opened(c, "gather"), root)
}

/** `allgather` of device arrays: their concatenation on every rank. */
export const allgather = (c: CommState, array: DeviceArray): Started =>
  array[DeviceArrayTypeId].allgather(array, opened(c, "allgather"))
