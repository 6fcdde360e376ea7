/**
 * Rank programs for GPU-aware communication (test/gpu/communication.test.ts):
 * each rank gets its own device (Gpu.layer), passes GPU arrays to the
 * communicator and checks the GPU results against the same collective on
 * host arrays. Values are small integers, so float sums are exact and the
 * results must be equal, not close.
 */
import { Effect, Option } from "effect"
import { Comm, Op, Pipeline, Request } from "rankflow"
import { Gpu, GpuArray, Kernels } from "rankflow/gpu"
import { check, checkEqual } from "./check.ts"

/** `n` small integers that depend on the rank (exact in f32). */
const data = (rank: number, n: number) => Float32Array.from({ length: n }, (_, i) => ((i * 7 + rank * 13) % 23) - 11 + (i % 5 === 0 ? 0.5 : 0))

const same = (got: ArrayLike<number>, want: ArrayLike<number>, what: string) =>
  checkEqual(Array.from(got), Array.from(want), what)

/** allreduce (SUM, MAX), reduce, bcast, gather and allgather of GPU arrays of `n` elements equal the host results. */
export const collectives = (n: number) =>
  Effect.gen(function*() {
    const world = yield* Comm.World
    const gpu = yield* Gpu.Device
    const mine = data(world.rank, n)
    const x = yield* gpu.array(mine)

    const sum = yield* world.allreduce(x, Op.SUM)
    yield* check(sum instanceof GpuArray.GpuArray, "allreduce of a GPU array gives a GPU array")
    yield* same(yield* GpuArray.toHost(sum), yield* world.allreduce(mine, Op.SUM), "allreduce SUM")
    yield* same(yield* GpuArray.toHost(yield* world.allreduce(x, Op.MAX)), yield* world.allreduce(mine, Op.MAX), "allreduce MAX")
    const pending = yield* world.iallreduce(x, Op.SUM)
    yield* same(yield* GpuArray.toHost(yield* Request.wait(pending)), yield* GpuArray.toHost(sum), "iallreduce SUM (non-blocking)")

    const ints = Int32Array.from(mine, (v) => Math.trunc(v) + world.rank)
    const gi = yield* gpu.array(ints)
    yield* same(yield* GpuArray.toHost(yield* world.allreduce(gi, Op.MIN)), yield* world.allreduce(ints, Op.MIN), "allreduce MIN of i32")
    yield* same(yield* GpuArray.toHost(yield* world.allreduce(gi, Op.BXOR)), yield* world.allreduce(ints, Op.BXOR), "allreduce BXOR of i32")

    const root = world.size - 1
    const reduced = yield* world.reduce(x, Op.SUM, { root })
    const hostReduced = yield* world.reduce(mine, Op.SUM, { root })
    if (world.rank === root) yield* same(yield* GpuArray.toHost(reduced!), hostReduced!, "reduce SUM at the root")
    else yield* check(reduced === undefined, "reduce gives undefined off the root")

    const target = world.rank === root ? x : yield* gpu.fill("f32", n, NaN)
    const b = yield* world.bcast(target, { root })
    yield* same(yield* GpuArray.toHost(b), data(root, n), "bcast from the last rank")

    const gathered = yield* world.gather(x, { root: 0 })
    const hostGathered = yield* world.gather(mine, { root: 0 })
    if (world.rank === 0) yield* same(yield* GpuArray.toHost(gathered!), hostGathered!, "gather at rank 0")
    yield* same(yield* GpuArray.toHost(yield* world.allgather(x)), yield* world.allgather(mine), "allgather")
    return "ok"
  }).pipe(Effect.provide(Gpu.layer()))

/** Each rank sends a GPU array of `n` elements around a ring with `send` and receives with `recvInto`. */
export const ring = (n: number) =>
  Effect.gen(function*() {
    const world = yield* Comm.World
    const gpu = yield* Gpu.Device
    const next = (world.rank + 1) % world.size
    const prev = (world.rank + world.size - 1) % world.size
    const x = yield* gpu.array(data(world.rank, n))
    const into = yield* gpu.fill("f32", n, NaN)
    const [, status] = yield* Effect.all([world.send(x, { dest: next, tag: 3 }), world.recvInto(into, { source: prev, tag: 3 })], { concurrency: 2 })
    yield* checkEqual([status.source, status.tag, status.count], [prev, 3, n], "status of the GPU receive")
    yield* same(yield* GpuArray.toHost(into), data(prev, n), "ring")
    return "ok"
  }).pipe(Effect.provide(Gpu.layer()))

/**
 * A GPU receive into an array of the wrong length fails with Truncated, the
 * sender's chunks are drained, and the message sent after them still arrives.
 */
export const mismatch = Effect.gen(function*() {
  const world = yield* Comm.World
  const gpu = yield* Gpu.Device
  if (world.rank === 0) {
    yield* world.send(yield* gpu.array(data(0, 10)), { dest: 1, tag: 1 })
    yield* world.send("after", { dest: 1, tag: 1 })
    return "sent"
  }
  if (world.rank === 1) {
    const error = yield* Effect.flip(world.recvInto(yield* gpu.zeros("f32", 12), { source: 0, tag: 1 }))
    yield* check(error._tag === "Truncated" && /sent 10 elements but this rank's GPU array has 12/.test(error.message), `Truncated with its message, got ${error._tag}: ${error.message}`)
    yield* checkEqual(yield* world.recv({ source: 0, tag: 1 }), "after", "the next message")
    return "refused"
  }
  return "idle"
}).pipe(Effect.provide(Gpu.layer()))

/** A reduction with an op that has no GPU kernel fails on every rank with a message that says what to do. */
export const customOp = Effect.gen(function*() {
  const world = yield* Comm.World
  const gpu = yield* Gpu.Device
  const op = Op.make((a: number, b: number) => a + b, { name: "plus" })
  const error = yield* Effect.flip(world.allreduce(yield* gpu.zeros("f32", 4), op))
  yield* check(error._tag === "InvalidArgument" && /Op.plus has no GPU kernel/.test(error.message), `InvalidArgument, got ${error._tag}: ${error.message}`)
  return "refused"
}).pipe(Effect.provide(Gpu.layer()))

/** A pipeline whose middle stage runs on the GPUs (`gpu: true`) of the ranks hosting its two replicas. */
export const pipelineStage = (items: number) =>
  Effect.gen(function*() {
    const rows = Pipeline.source("rows", Array.from({ length: items }, (_, i) => Float32Array.from({ length: 300 }, (_, j) => i + j))).pipe(
      Pipeline.map("double on the GPU", (x, gpu) =>
        Effect.gen(function*() {
          const y = yield* gpu.fill("f32", x.length, 1)
          yield* Kernels.axpy(2, x, y)                         // 2x + 1
          return y
        }), { gpu: true, replicas: 2, ordered: true }),
      Pipeline.map("first and last", (y: Float32Array | Int32Array | Uint32Array | Float16Array) => [y.length, y[0], y[y.length - 1]]),
      Pipeline.collect("out")
    )
    const out = yield* Pipeline.run(rows)
    if (Option.isSome(out)) yield* checkEqual(out.value, Array.from({ length: items }, (_, i) => [300, 2 * i + 1, 2 * (i + 299) + 1]), "GPU stage results")
    return "ok"
  }).pipe(Effect.provide(Gpu.layer()))

/** A GPU stage on a rank program without Gpu.layer() fails the run with the stage's name and what to provide. */
export const pipelineWithoutDevice = Effect.gen(function*() {
  const p = Pipeline.source("rows", [Float32Array.of(1)]).pipe(
    Pipeline.map("needs a GPU", (x) => Effect.succeed(x), { gpu: true }),
    Pipeline.collect("out")
  )
  const error = yield* Effect.flip(Pipeline.run(p))
  yield* check(error._tag === "StageFailed" && /needs a GPU/.test(error.message) && /provide Gpu.layer\(\)/.test(error.message), `StageFailed naming the stage and Gpu.layer(), got ${error._tag}: ${error.message}`)
  return "refused"
})
