/**
 * GPU-aware communication: how GPU arrays travel when passed to `send`,
 * `recvInto`, `bcast`, `reduce`, `allreduce`, `gather` and `allgather`
 * (the hooks of core/comm/DeviceArray.ts).
 *
 * Arrays move in chunks of 4 MiB: a sender downloads through the staging
 * ring, so the copy and map of chunk k+1 run while chunk k is being sent; a
 * receiver posts the receive of chunk k+1 before it uploads chunk k.
 * Both sides cut an array into the same chunks from its length.
 * - `send`/`recvInto`: a small header (length and dtype) then the chunks, on
 *   the user's tag; a receiver whose array does not match drains the chunks
 *   and fails with `DatatypeMismatch` or `Truncated`, losing nothing else.
 * - `bcast`: a binomial tree; each rank forwards a chunk to its children as
 *   soon as it has it, then uploads it.
 * - `reduce`: a binomial tree towards the root; each received chunk is
 *   uploaded and combined into the partial result by a kernel on the GPU.
 *   GPU ops: SUM, PROD, MIN, MAX, and BAND/BOR/BXOR on integer dtypes.
 * - `allreduce`: a ring: reduce-scatter, then allgather, one block per
 *   rank, each received block combined on the GPU.
 * - `gather`: every rank's chunks straight to the root, uploaded in place
 *   into the concatenation; `allgather`: gather, then bcast.
 *
 * @example
 * ```ts
 * const world = yield* Comm.World
 * const gpu = yield* Gpu.Device
 * const y = yield* gpu.array(local)
 * const total = yield* world.allreduce(y, Op.SUM)           // a GPU array on every rank
 * if (world.rank === 0) yield* world.send(y, { dest: 1, tag: 5 })
 * if (world.rank === 1) yield* world.recvInto(y, { source: 0, tag: 5 })
 * ```
 */
import { Effect, Fiber } from "effect"
import { DatatypeMismatch, Truncated } from "../codecs/errors.ts"
import type { Comm } from "../core/comm/Comm.ts"
import type { DeviceArrayHooks, DeviceLink } from "../core/comm/DeviceArray.ts"
import { InvalidArgument } from "../core/errors.ts"
import { PROC_NULL } from "../core/messaging/Matching.ts"
import type { Op } from "../core/op/Op.ts"
import type { Status } from "../core/comm/Status.ts"
import * as Dtypes from "./Dtype.ts"
import type { HostArray } from "./Dtype.ts"
import type { GpuFailure } from "./errors.ts"
import type { GpuArray } from "./GpuArray.ts"
import * as Arrays from "./internal/arrays.ts"
import { CHUNK_BYTES } from "./internal/DeviceState.ts"
import { combineInto, gpuOp } from "./kernels/elementwise.ts"

const chunkElements = (x: GpuArray): number => CHUNK_BYTES / x.bytesPerElement

/** Downloads `x` chunk by chunk into `deliver` (the next chunk copying meanwhile). */
const sendChunks = <E>(x: GpuArray, deliver: (chunk: HostArray) => Effect.Effect<void, E>) => Arrays.download(x, (chunk) => deliver(chunk))

/**
 * Receives `x.length` elements chunk by chunk through `receive` (which fills
 * a host chunk), uploading each into `x` while the next is being received;
 * `then(at, length)` runs after each upload.
 */
const receiveChunks = <E, E2 = never>(
  x: GpuArray,
  receive: (into: HostArray) => Effect.Effect<HostArray, E>,
  then?: (at: number, length: number) => Effect.Effect<void, E2>
) =>
  Effect.gen(function*() {
    const n = x.length
    const per = chunkElements(x)
    const Ctor = Dtypes.ctor(x.dtype)
    if (n === 0) return
    const start = (at: number) => Effect.forkChild(receive(new Ctor(Math.min(per, n - at))))
    let next = yield* start(0)
    for (let at = 0; at < n; at += per) {
      const host = yield* Fiber.join(next)
      if (at + per < n) next = yield* start(at + per)
      yield* Arrays.upload(x, host, at)
      if (then !== undefined) yield* then(at, host.length)
    }
  })

/** The binomial tree rooted at `root`: this rank's parent (or -1) and children (largest subtree first). */
const binomial = (rank: number, size: number, root: number) => {
  const vr = (rank - root + size) % size
  let parent = -1
  let mask = 1
  while (mask < size) {
    if ((vr & mask) !== 0) {
      parent = (vr - mask + root) % size
      break
    }
    mask <<= 1
  }
  const children: Array<number> = []
  for (mask >>= 1; mask > 0; mask >>= 1) if (vr + mask < size) children.push((vr + mask + root) % size)
  return { parent, children }
}

const bcastInto = (x: GpuArray, link: DeviceLink, root: number) =>
  Effect.gen(function*() {
    const { parent, children } = binomial(link.rank, link.size, root)
    const forward = (chunk: HostArray) => Effect.forEach(children, (child) => link.send(child, chunk), { discard: true })
    if (parent < 0) yield* sendChunks(x, forward)
    else yield* receiveChunks(x, (into) => Effect.tap(link.recvInto(parent, into), forward))
    return x
  })

const checkGpuOp = (link: DeviceLink, op: Op, x: GpuArray): InvalidArgument | undefined =>
  gpuOp(op, x.dtype) === undefined
    ? new InvalidArgument({
      argument: "op",
      message: `${link.name}: Op.${op.name} has no GPU kernel for ${x.dtype} arrays (GPU ops: SUM, PROD, MIN, MAX; BAND, BOR, BXOR on integers); download with toHost and reduce the host array instead`
    })
    : undefined

/** Reduces along the binomial tree into `acc` (holding this rank's data); the root's `acc` ends with the result. */
const reduceInto = (acc: GpuArray, link: DeviceLink, op: Op, root: number) =>
  Effect.gen(function*() {
    const { parent, children } = binomial(link.rank, link.size, root)
    if (children.length > 0) {
      yield* Arrays.withTemps(acc.state, [[acc.dtype, acc.length]], ([incoming]) =>
        Effect.forEach([...children].reverse(), (child) =>
          receiveChunks(incoming!, (into) => link.recvInto(child, into), (at, length) =>
            combineInto(op, acc.subarray(at, at + length), incoming!.subarray(at, at + length))), { discard: true }))
    }
    if (parent >= 0) yield* sendChunks(acc, (chunk) => link.send(parent, chunk))
  })

const reduce = (x: GpuArray, link: DeviceLink, op: Op, root: number) =>
  Effect.gen(function*() {
    const bad = checkGpuOp(link, op, x)
    if (bad !== undefined) return yield* Effect.fail(bad)
    const isRoot = link.rank === root
    const acc = isRoot ? yield* Arrays.empty(x.state, x.dtype, x.length) : yield* Arrays.temp(x.state, x.dtype, x.length)
    yield* Arrays.sync(x.state, link.name, () => Arrays.copyInto(x, 0, acc, 0, x.length))
    if (isRoot) {
      yield* reduceInto(acc, link, op, root)
      return acc
    }
    yield* Effect.ensuring(reduceInto(acc, link, op, root), Effect.sync(() => acc.allocation.release()))
    return undefined
  })

/**
 * Ring allreduce (reduce-scatter, then allgather, as Baidu's and NCCL's
 * ring): the array is cut into one block per rank; in p-1 steps each rank
 * sends a block to its right neighbour while it receives one from its left
 * and combines it on the GPU, ending with one fully reduced block; p-1 more
 * steps pass the reduced blocks around. Each rank moves about 2·n·(p-1)/p
 * elements and combines n·(p-1)/p, against 2·n moved and up to n·log p
 * combined at the root of reduce + bcast. Each block is reduced on one rank
 * in one order, so every rank ends with the same bits.
 */
const allreduce = (x: GpuArray, link: DeviceLink, op: Op) =>
  Effect.gen(function*() {
    const bad = checkGpuOp(link, op, x)
    if (bad !== undefined) return yield* Effect.fail(bad)
    const result = yield* Arrays.empty(x.state, x.dtype, x.length)
    yield* Arrays.sync(x.state, link.name, () => Arrays.copyInto(x, 0, result, 0, x.length))
    const p = link.size
    if (p === 1 || x.length === 0) return result
    const n = x.length
    const start = (i: number) => Math.floor((((i % p) + p) % p) * n / p)
    const block = (i: number) => {
      const j = ((i % p) + p) % p
      return result.subarray(start(j), j === p - 1 ? n : start(j + 1))
    }
    const right = (link.rank + 1) % p
    const left = (link.rank + p - 1) % p
    const r = link.rank
    yield* Arrays.withTemps(x.state, [[x.dtype, Math.ceil(n / p)]], ([incoming]) =>
      Effect.gen(function*() {
        for (let step = 0; step < p - 1; step++) {
          const out = block(r - step)
          const into = block(r - step - 1)
          const inc = incoming!.subarray(0, into.length)
          yield* Effect.all([
            sendChunks(out, (chunk) => link.send(right, chunk)),
            receiveChunks(inc, (host) => link.recvInto(left, host), (at, length) =>
              combineInto(op, into.subarray(at, at + length), inc.subarray(at, at + length)))
          ], { concurrency: 2, discard: true })
        }
      }))
    for (let step = 0; step < p - 1; step++) {
      yield* Effect.all([
        sendChunks(block(r + 1 - step), (chunk) => link.send(right, chunk)),
        receiveChunks(block(r - step), (host) => link.recvInto(left, host))
      ], { concurrency: 2, discard: true })
    }
    return result
  })

const gatherInto = (x: GpuArray, link: DeviceLink, root: number, result: GpuArray | undefined) =>
  Effect.gen(function*() {
    if (link.rank !== root) return yield* sendChunks(x, (chunk) => link.send(root, chunk))
    const n = x.length
    yield* Arrays.sync(x.state, link.name, () => Arrays.copyInto(x, 0, result!, root * n, n))
    for (let r = 0; r < link.size; r++) {
      if (r !== root) yield* receiveChunks(result!.subarray(r * n, (r + 1) * n), (into) => link.recvInto(r, into))
    }
  })

const gather = (x: GpuArray, link: DeviceLink, root: number) =>
  Effect.gen(function*() {
    const result = link.rank === root ? yield* Arrays.empty(x.state, x.dtype, x.length * link.size) : undefined
    yield* gatherInto(x, link, root, result)
    return result
  })

const allgather = (x: GpuArray, link: DeviceLink) =>
  Effect.gen(function*() {
    const result = yield* Arrays.empty(x.state, x.dtype, x.length * link.size)
    yield* gatherInto(x, link, 0, result)
    return yield* bcastInto(result, link, 0)
  })

const DTYPE_CODES = Dtypes.all

const send = (x: GpuArray, comm: Comm, options: { readonly dest: number; readonly tag: number }) =>
  Effect.gen(function*() {
    const bad = Arrays.live(x, "send")
    if (bad !== undefined) return yield* Effect.fail(bad)
    yield* comm.send(Uint32Array.of(x.length, DTYPE_CODES.indexOf(x.dtype)), options)
    if (options.dest === PROC_NULL) return
    yield* sendChunks(x, (chunk) => comm.send(chunk, options))
  })

const recvInto = (x: GpuArray, comm: Comm, options: { readonly source?: number; readonly tag?: number }) =>
  Effect.gen(function*() {
    const bad = Arrays.live(x, "recvInto")
    if (bad !== undefined) return yield* Effect.fail(bad)
    const header = new Uint32Array(2)
    const status = yield* comm.recvInto(header, options)
    if (status.source === PROC_NULL) return status
    const from = { source: status.source, tag: status.tag }
    const [length, code] = [header[0]!, header[1]!]
    const dtype = DTYPE_CODES[code]
    if (dtype !== x.dtype || length !== x.length) {
      // Drain the sender's chunks so that nothing after them is lost, then report.
      const Ctor = Dtypes.ctor(dtype ?? "u32")
      const per = CHUNK_BYTES / Dtypes.bytes(dtype ?? "u32")
      for (let at = 0; at < length; at += per) yield* comm.recvInto(new Ctor(Math.min(per, length - at)), from)
      return yield* Effect.fail(
        dtype !== x.dtype
          ? new DatatypeMismatch({ expected: x.dtype, received: dtype ?? `code ${code}`, message: `recvInto: rank ${status.source} sent a ${dtype} GPU array but this rank's is ${x.dtype}` })
          : new Truncated({ capacity: x.length, count: length, message: `recvInto: rank ${status.source} sent ${length} elements but this rank's GPU array has ${x.length}; receive into an array of the same length` })
      )
    }
    yield* receiveChunks(x, (into) => comm.recvInto(into, from).pipe(Effect.as(into)))
    const received: Status = { ...status, count: x.length, datatype: x.dtype, byteCount: x.length * x.bytesPerElement }
    return received
  })

/** @internal The hooks every GPU array carries. */
export const hooks: DeviceArrayHooks<GpuArray, GpuFailure | InvalidArgument> = {
  send,
  recvInto,
  bcast: (x, link, root) => bcastInto(x, link, root),
  reduce,
  allreduce,
  gather,
  allgather
}
