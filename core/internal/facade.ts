/**
 * The communicator object over its state: what `Comm.World` and every
 * derived communicator are. Internal: rank programs get communicators from
 * `Comm.World` and the creation calls, never from a state.
 */
import { Effect } from "effect"
import type { Described } from "../../codecs/buffer.ts"
import { located, traceMethods } from "../callSites.ts"
import { spanMethods } from "../observe/spans.ts"
import * as Collectives from "../collectives/Collectives.ts"
import type { Comm } from "../comm/Comm.ts"
import type { CommState } from "../comm/CommState.ts"
import * as Communicators from "../comm/communicators.ts"
import { DeviceArrayTypeId, isDeviceArray } from "../comm/DeviceArray.ts"
import { AllocationFailed, InvalidArgument } from "../errors.ts"
import { ANY_SOURCE, ANY_TAG } from "../messaging/Matching.ts"
import { intoTarget } from "../messaging/buffers.ts"
import * as P2P from "../messaging/PointToPoint.ts"
import type { Request } from "../messaging/Request.ts"
import type { Status } from "../comm/Status.ts"

/** Builds the communicator object over its state. */
export const fromState = (c: CommState): Comm => {
  const comm: Comm = {
  ...Collectives.make(c),
  ...Communicators.make(c, fromState),
  rank: c.rank,
  size: c.size,
  // Arguments are checked as the call is made, so that a bad one names the user's line (callSites.ts);
  // plain ternaries, no closure per call: these are the hot path.
  send: (value: unknown, options: P2P.SendOptions<any>): Effect.Effect<void, any> => {
    if (isDeviceArray(value)) return value[DeviceArrayTypeId].send(value, comm, { dest: options.dest, tag: options.tag ?? 0 })
    const bad = sendCheck(c, options)
    return bad === undefined ? P2P.send(c, value, options) : located(bad)
  },
  ssend: (value, options) => {
    const bad = sendCheck(c, options)
    return bad === undefined ? P2P.ssend(c, value, options) : located(bad)
  },
  isend: (value, options) => {
    const bad = sendCheck(c, options)
    return bad === undefined ? P2P.isend(c, value, options) : located(bad)
  },
  issend: (value, options) => {
    const bad = sendCheck(c, options)
    return bad === undefined ? P2P.issend(c, value, options) : located(bad)
  },
  recv: (options) => {
    const bad = recvCheck(c, options)
    return (bad === undefined ? P2P.recv(c, options) : located(bad)) as Effect.Effect<any, P2P.RecvError>
  },
  recvWithStatus: (options) => {
    const bad = recvCheck(c, options)
    return (bad === undefined ? P2P.recvWithStatus(c, options) : located(bad)) as Effect.Effect<P2P.Received<any>, P2P.RecvError>
  },
  irecv: (options) => {
    const bad = recvCheck(c, options)
    return (bad === undefined ? P2P.irecv(c, options) : located(bad)) as Effect.Effect<Request<any, P2P.RecvFailure>, P2P.InvalidCall>
  },
  recvInto: (buffer: unknown, options?: P2P.ProbeOptions): Effect.Effect<Status, any> => {
    if (isDeviceArray(buffer)) return buffer[DeviceArrayTypeId].recvInto(buffer, comm, options ?? {})
    const target = intoTarget(buffer)
    const bad = target instanceof InvalidArgument ? target : recvCheck(c, options)
    return bad === undefined ? P2P.recvInto(c, target as Described, options) : located(bad)
  },
  irecvInto: (buffer, options) => {
    const target = intoTarget(buffer)
    const bad = target instanceof InvalidArgument ? target : recvCheck(c, options)
    return bad === undefined ? P2P.irecvInto(c, target as Described, options) : located(bad)
  },
  sendrecv: (value, options) => {
    const bad = P2P.validateSend(c, options.dest, options.sendTag ?? options.tag ?? 0) ??
      P2P.validateRecv(c, options.source ?? ANY_SOURCE, options.recvTag ?? ANY_TAG)
    return (bad === undefined ? P2P.sendrecv(c, value, options) : located(bad)) as Effect.Effect<any, P2P.SendError | P2P.RecvError>
  },
  probe: (options) => {
    const bad = recvCheck(c, options)
    return bad === undefined ? P2P.probe(c, options) : located(bad)
  },
  iprobe: (options) => {
    const bad = recvCheck(c, options)
    return bad === undefined ? P2P.iprobe(c, options) : located(bad)
  },
  alloc: (ctor, length) =>
    Effect.suspend(() => {
      const bytes = length * ctor.BYTES_PER_ELEMENT
      const allocator = c.engine.transport.alloc
      if (allocator === undefined) {
        return Effect.fail(new AllocationFailed({ bytes, message: `the ${c.engine.transport.kind} transport has no shared memory; allocate an ordinary typed array instead` }))
      }
      const array = allocator.alloc(ctor, length)
      return array === undefined
        ? Effect.fail(new AllocationFailed({ bytes, message: `the shared arena has no room for ${bytes} bytes; release arrays you no longer need, or start the job with a larger arena` }))
        : Effect.succeed(array)
    }),
  release: (array) => Effect.sync(() => void c.engine.transport.alloc?.release(array))
  }
  return spanMethods(traceMethods(comm), c.engine.rank, c.engine.comms.get(c.context)?.name ?? `context ${c.context}`)
}

const sendCheck = (c: CommState, options: P2P.SendOptions<any>): P2P.InvalidCall | undefined =>
  P2P.validateSend(c, options.dest, options.tag ?? 0)

const recvCheck = (c: CommState, options: P2P.ProbeOptions | undefined): P2P.InvalidCall | undefined =>
  P2P.validateRecv(c, options?.source ?? ANY_SOURCE, options?.tag ?? ANY_TAG)
