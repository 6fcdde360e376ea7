/**
 * Rank programs for the window suite (test/core/rma.test.ts), after mpi4py's
 * test_rma.py, test_rma_nb.py and test_win.py. Each runs on every rank of a
 * world of any size and checks its rule itself.
 */
import { Effect } from "effect"
import { writeFileSync } from "node:fs"
import { Comm, Op, PROC_NULL, Request, Win } from "rankflow"
import { Datatype } from "rankflow/codecs"
import { check, checkEqual } from "./check.ts"

const world = Comm.World

/** Put and get under fence (with every fence assertion), with guard elements around the target range that must stay untouched. */
export const putGetFence = Effect.gen(function*() {
  const w = yield* world
  const win = yield* Win.allocate(w, 8, "int32")
  win.base.fill(-1)
  yield* checkEqual(win.size, 32, "window bytes")
  const next = (w.rank + 1) % w.size
  const prev = (w.rank - 1 + w.size) % w.size
  yield* win.fence(Win.MODE_NOPRECEDE)
  yield* win.put(Int32Array.of(w.rank, w.rank * 10, w.rank * 100), next, 2)
  yield* win.fence()
  yield* checkEqual(Array.from(win.base), [-1, -1, prev, prev * 10, prev * 100, -1, -1, -1], "the previous rank's put, guards untouched")
  const got = new Int32Array(3)
  yield* win.get(got, next, { disp: 2, count: 3, datatype: "int32" })
  yield* win.fence(Win.MODE_NOSTORE | Win.MODE_NOPUT) // no local stores, no puts in the next epoch
  yield* win.fence(Win.MODE_NOSUCCEED)
  yield* checkEqual(Array.from(got), [w.rank, w.rank * 10, w.rank * 100], "what this rank put at the next rank, got back")
  yield* win.free()
})

/** Accumulate from every rank into rank 0 with each op, under fence; getAccumulate returns what was there. */
export const accumulateOps = Effect.gen(function*() {
  const w = yield* world
  const win = yield* Win.allocate(w, 4, "float64")
  const cases = [
    [Op.SUM, 0, (n: number) => n * (n - 1) / 2 + n],
    [Op.MAX, -Infinity, (n: number) => n],
    [Op.MIN, Infinity, () => 1],
    [Op.PROD, 1, (n: number) => Array.from({ length: n }, (_, r) => r + 1).reduce((a, b) => a * b, 1)]
  ] as const
  for (const [op, start, expected] of cases) {
    win.base.fill(start)
    yield* win.fence()
    yield* win.accumulate(Float64Array.of(w.rank + 1, w.rank + 1), 0, 1, op)
    yield* win.fence()
    if (w.rank === 0) yield* checkEqual(Array.from(win.base), [start, expected(w.size), expected(w.size), start], `accumulate with ${op.name}`)
    yield* w.barrier()
  }
  win.base.fill(7)
  yield* win.fence()
  yield* win.accumulate(Float64Array.of(w.rank), 0, 0, Op.NO_OP)
  yield* win.fence()
  if (w.rank === 0) yield* checkEqual(win.base[0], 7, "NO_OP leaves the target as it was")
  yield* w.barrier()
  // getAccumulate with REPLACE, one rank at a time under an exclusive lock: each sees the previous rank's number.
  win.base.fill(-1)
  yield* w.barrier()
  for (let r = 0; r < w.size; r++) {
    if (r === w.rank) {
      const before = new Float64Array(1)
      yield* win.withLock(0, "exclusive", win.getAccumulate(Float64Array.of(w.rank), before, 0, 3, Op.REPLACE))
      yield* checkEqual(before[0], w.rank - 1, "getAccumulate returns the previous value")
    }
    yield* w.barrier()
  }
  yield* win.free()
})

/** A shared counter from fetchAndOp under lock (the nxtval pattern) hands out exactly 0..5·size−1. */
export const counter = Effect.gen(function*() {
  const w = yield* world
  const win = yield* Win.allocate(w, w.rank === 0 ? 1 : 0, "int32")
  yield* w.barrier()
  const mine: Array<number> = []
  for (let i = 0; i < 5; i++) {
    mine.push(Number(yield* win.withLock(0, "exclusive", win.fetchAndOp(1, 0, 0, Op.SUM))))
  }
  const all = (yield* w.allgather(mine)).flat().sort((a, b) => a - b)
  yield* checkEqual(all, Array.from({ length: 5 * w.size }, (_, i) => i), "every number handed out once")
  // compareAndSwap: only the rank that sees the value it expects swaps.
  yield* w.barrier()
  const seen = yield* win.withLock(0, "exclusive", win.compareAndSwap(-w.rank - 1, 5 * w.size, 0, 0))
  const winners = (yield* w.allgather(seen === 5 * w.size)).filter((x) => x).length
  yield* checkEqual(winners, 1, "exactly one compareAndSwap wins")
  yield* win.free()
})

/** Post/start/complete/wait: rank 0 exposes its window to every other rank, which puts its rank there. */
export const pscw = Effect.gen(function*() {
  const w = yield* world
  const win = yield* Win.allocate(w, w.size, "int32")
  win.base.fill(-1)
  const others = Array.from({ length: w.size - 1 }, (_, i) => i + 1)
  if (w.rank === 0) {
    yield* win.post(others)
    yield* win.wait()
    yield* checkEqual(Array.from(win.base), [-1, ...others], "every origin's put, after wait")
    yield* check(yield* win.test(), "test after wait: no exposure epoch left")
  } else {
    yield* win.start([0])
    yield* win.put(Int32Array.of(w.rank), 0, w.rank)
    yield* win.complete()
  }
  yield* win.free()
})

/** PROC_NULL is a no-op; requests complete through Request.wait; lockAll/unlockAll; create over existing memory. */
export const requestsAndProcNull = Effect.gen(function*() {
  const w = yield* world
  const data = new Float64Array(4)
  const win = yield* Win.create(w, data)
  yield* checkEqual([win.flavor, win.dispUnit, win.size], ["create", 8, 32], "a window over existing memory")
  yield* win.put(Float64Array.of(1), PROC_NULL, 0) // no epoch needed, nothing happens
  yield* win.lockAll()
  const next = (w.rank + 1) % w.size
  const put = yield* win.rput(Float64Array.of(w.rank + 0.5), next, w.rank === next ? 0 : 1)
  yield* Request.wait(put)
  yield* win.flushAll()
  yield* win.unlockAll()
  yield* w.barrier()
  yield* win.lockAll()
  const got = new Float64Array(1)
  yield* Request.wait(yield* win.rget(got, next, w.rank === next ? 0 : 1))
  yield* win.unlockAll()
  yield* checkEqual(got[0], w.rank + 0.5, "rput then rget through requests")
  const prev = (w.rank - 1 + w.size) % w.size
  yield* checkEqual(data[prev === w.rank ? 0 : 1], prev + 0.5, "the memory the window was made over")
  yield* win.free()
})

/** Errors name the window's operation, rank and target, and leave the window usable. */
export const errors = Effect.gen(function*() {
  const w = yield* world
  const win = yield* Win.allocate(w, 4, "int32")
  const outside = yield* Effect.flip(win.put(Int32Array.of(1), 0, 0))
  yield* check(/no access epoch to rank 0/.test(outside.message), `an operation outside an epoch: ${outside.message}`)
  yield* win.fence()
  const range = yield* Effect.flip(win.put(Int32Array.of(1, 2), 0, 3))
  yield* check(/displacement 3 \(byte 12\) and 2 int32 run past rank 0's window of 16 bytes/.test(range.message), `out of range: ${range.message}`)
  const type = yield* Effect.flip(win.put(Float64Array.of(1), 0, { disp: 0, datatype: "int32" }))
  yield* check(/origin holds float64 but the target datatype is int32/.test(type.message), `a datatype mismatch: ${type.message}`)
  const rank = yield* Effect.flip(win.get(new Int32Array(1), w.size, 0))
  yield* check(/not in the window's communicator/.test(rank.message), `a rank outside: ${rank.message}`)
  yield* win.fence(Win.MODE_NOSUCCEED)
  const unlock = yield* Effect.flip(win.unlock(0))
  yield* check(/holds no lock on rank 0/.test(unlock.message), `an unlock without lock: ${unlock.message}`)
  // Still usable:
  yield* win.epoch(win.put(Int32Array.of(w.rank), (w.rank + 1) % w.size, 0))
  yield* checkEqual(win.base[0], (w.rank - 1 + w.size) % w.size, "the window after the errors")
  yield* win.free()
})

/** allocateShared: on shm every rank stores into its part and reads the others' directly; elsewhere a WinError says why. */
export const sharedWindow = (sharedMemory: boolean) =>
  Effect.gen(function*() {
    const w = yield* world
    if (!sharedMemory) {
      const e = yield* Effect.flip(Win.allocateShared(w, 4, "int32"))
      yield* check(e._tag === "WinError" && /needs memory that every rank shares/.test(e.message), `allocateShared without shared memory: ${e.message}`)
      return
    }
    const win = yield* Win.allocateShared(w, w.rank + 1, "int32")
    yield* checkEqual([win.flavor, win.base.length], ["shared", w.rank + 1], "this rank's part")
    win.base.fill(w.rank * 10)
    yield* w.barrier()
    for (let r = 0; r < w.size; r++) {
      yield* checkEqual(Array.from(win.sharedQuery(r)), new Array(r + 1).fill(r * 10), `rank ${r}'s part, read directly`)
    }
    yield* w.barrier()
    // A store into the next rank's part shows there, and the window's operations reach the same memory.
    const next = (w.rank + 1) % w.size
    win.sharedQuery(next)[0] = 1000 + w.rank
    yield* w.barrier()
    yield* checkEqual(win.base[0], 1000 + (w.rank - 1 + w.size) % w.size, "the previous rank's direct store")
    yield* win.fence()
    yield* win.accumulate(Int32Array.of(1), next, 0, Op.SUM)
    yield* win.fence()
    yield* checkEqual(win.base[0], 1001 + (w.rank - 1 + w.size) % w.size, "an accumulate into the shared memory")
    // put and get copy through the shared memory themselves, with the same checks as any operation.
    yield* w.barrier() // every rank has read its part before the next epoch's puts land
    yield* win.put(Int32Array.of(-7 - w.rank), next, 0)
    yield* win.fence()
    yield* checkEqual(win.base[0], -7 - (w.rank - 1 + w.size) % w.size, "a put by the origin itself")
    const got = new Int32Array(1)
    yield* win.get(got, next, 0)
    yield* checkEqual(got[0], -7 - w.rank, "a get by the origin itself")
    const range = yield* Effect.flip(win.put(Int32Array.of(1, 2, 3), next, next + 1))
    yield* check(/run past rank/.test(range.message), `an out-of-range put on a shared window: ${range.message}`)
    yield* win.fence(Win.MODE_NOSUCCEED)
    const outside = yield* Effect.flip(win.get(got, next, 0))
    yield* check(/no access epoch/.test(outside.message), `a get outside an epoch: ${outside.message}`)
    yield* win.free()
  })

/** A dynamic window: arrays attached, their addresses exchanged, puts and gets through them, errors outside them and after detach. */
export const dynamicWindow = Effect.gen(function*() {
  const w = yield* world
  const win = yield* Win.createDynamic(w)
  const mine = new Float64Array(4).fill(-1)
  const addresses = yield* w.allgather(yield* win.attach(mine))
  const next = (w.rank + 1) % w.size
  const prev = (w.rank - 1 + w.size) % w.size
  yield* win.lockAll()
  yield* win.put(Float64Array.of(w.rank + 0.25), next, addresses[next]! + 8)
  yield* win.flushAll()
  yield* win.unlockAll()
  yield* w.barrier()
  yield* checkEqual(Array.from(mine), [-1, prev + 0.25, -1, -1], "a put through the next rank's attached array")
  const got = new Float64Array(1)
  yield* win.withLock(next, "shared", win.get(got, next, addresses[next]! + 8))
  yield* checkEqual(got[0], w.rank + 0.25, "a get through it")
  const untyped = yield* Effect.flip(win.withLock(next, "exclusive", win.fetchAndOp(1, next, addresses[next]!, Op.SUM)))
  yield* check(/no element type of its own/.test(untyped.message), `fetchAndOp on a dynamic window without a datatype: ${untyped.message}`)
  yield* w.barrier()
  const old = yield* win.withLock(next, "exclusive", win.fetchAndOp(1, next, { disp: addresses[next]! + 8, datatype: "float64" }, Op.SUM))
  yield* checkEqual(old, w.rank + 0.25, "fetchAndOp through the attached array, with its datatype")
  yield* w.barrier()
  yield* checkEqual(mine[1], prev + 1.25, "the previous rank's fetchAndOp")
  const missed = yield* Effect.flip(win.withLock(next, "exclusive", win.put(Float64Array.of(1), next, addresses[next]! + 32)))
  yield* check(/in no array attached/.test(missed.message), `a put past the attached array: ${missed.message}`)
  yield* w.barrier()
  yield* win.detach(mine)
  yield* w.barrier()
  const gone = yield* Effect.flip(win.withLock(next, "exclusive", win.get(got, next, addresses[next]!)))
  yield* check(/in no array attached/.test(gone.message), `a get after detach: ${gone.message}`)
  const twice = yield* Effect.flip(win.detach(mine))
  yield* check(/not attached/.test(twice.message), `a second detach: ${twice.message}`)
  yield* checkEqual(win.flavor, "dynamic", "the flavor")
  yield* win.free()
})

/**
 * shm: passive target needs nothing from the target's thread. Rank 0 spins in
 * a synchronous loop (none of its fibers runs) while every other rank takes
 * the lock on its window, draws a ticket with fetchAndOp, accumulates, and
 * unlocks; over memory from `Win.allocate` or from `comm.alloc` through `Win.create`.
 */
export const passiveWhileBusy = (over: "allocate" | "create") =>
  Effect.gen(function*() {
    const w = yield* world
    const win = over === "allocate" ? yield* Win.allocate(w, 2, "int32") : yield* Win.create(w, yield* w.alloc(Int32Array, 2))
    yield* w.barrier()
    if (w.rank === 0) {
      const deadline = Date.now() + 60_000 // a safety net against a hang, not a measurement
      while (Atomics.load(win.base, 0) < w.size - 1 && Date.now() < deadline) {
        // busy: this thread runs nothing else until the loop ends
      }
      yield* checkEqual(Atomics.load(win.base, 0), w.size - 1, "every other rank's accumulate, applied while rank 0 never yielded")
    } else {
      const ticket = yield* win.withLock(0, "exclusive", Effect.gen(function*() {
        const t = yield* win.fetchAndOp(1, 0, 1, Op.SUM)
        yield* win.accumulate(Int32Array.of(1), 0, 0, Op.SUM)
        return t
      }))
      yield* check(typeof ticket === "number" && ticket >= 0 && ticket < w.size - 1, `a ticket in 0..${w.size - 2}: ${ticket}`)
    }
    if (w.rank === 0) yield* checkEqual(win.base[1], w.size - 1, "tickets drawn")
    yield* win.free()
  })

/**
 * A rank that fails while holding the exclusive lock on rank 0's window: the
 * lock is released (rank 0 gets it), and an operation on the failed rank's
 * window fails with a WinError whose cause is its RankFailed. Rank 0 writes
 * what it saw to `file` (the run itself fails, blaming rank 1).
 */
export const deadPeer = (file: string) =>
  Effect.gen(function*() {
    const w = yield* world
    const win = yield* Win.allocate(w, 4, "int32")
    if (w.rank === 1) {
      yield* win.lock(0, "exclusive")
      // A synchronous send: it completes once rank 0 has the message (an exit may drop what is still buffered).
      yield* w.ssend("locked", { dest: 0 })
      return yield* Effect.sync(() => process.exit(3))
    }
    if (w.rank !== 0) return yield* Effect.never
    yield* w.recv({ source: 1 })
    // Uninterruptible: the launcher stops the other ranks when rank 1 fails; rank 0 finishes its account first.
    yield* Effect.uninterruptible(Effect.gen(function*() {
      yield* win.lock(0, "exclusive")
      yield* win.unlock(0)
      const e = yield* Effect.flip(win.withLock(1, "shared", win.fetchAndOp(1, 1, 0, Op.SUM)))
      const cause = e.cause as { _tag?: string; rank?: number } | undefined
      yield* Effect.sync(() =>
        writeFileSync(file, JSON.stringify({ tag: e._tag, operation: e.operation, target: e.target, cause: cause?._tag, causeRank: cause?.rank }))
      )
    }))
  })

/**
 * Derived datatypes as target layouts and as origin/result buffers: each rank
 * puts a column of its 4×3 grid into a column of the next rank's grid (a
 * vector target layout), gets it back through a strided result, accumulates
 * into a subarray block and reads it with getAccumulate; guards stay
 * untouched; a layout that overruns the window and one that mixes types fail.
 * `over`: the window's memory (`"private"`: Win.create over the rank's own
 * array, which takes the message path on shm too).
 */
export const derivedLayouts = (over: "allocate" | "private") =>
  Effect.gen(function*() {
    const w = yield* world
    const rows = 4
    const cols = 3
    const win = over === "allocate" ? yield* Win.allocate(w, rows * cols, "float64") : yield* Win.create(w, new Float64Array(rows * cols))
    win.base.fill(-1)
    const next = (w.rank + 1) % w.size
    const prev = (w.rank - 1 + w.size) % w.size
    const column = Datatype.vector(rows, 1, cols, "float64")
    const mine = Float64Array.from({ length: rows * cols }, (_, i) => w.rank * 100 + i)
    yield* win.fence()
    // Column 0 of this rank's grid (a strided origin) into column 2 of the next rank's (a strided target).
    yield* win.put([mine, column, 1], next, { disp: 2, datatype: column })
    yield* win.fence()
    const expected = Array.from({ length: rows * cols }, (_, i) => (i % cols === 2 ? prev * 100 + (i - 2) : -1))
    yield* checkEqual(Array.from(win.base), expected, "the previous rank's column 0 in column 2, the rest untouched")
    // Back through a strided result: column 2 of the next rank's grid into column 1 of a local grid.
    const back = new Float64Array(rows * cols).fill(-2)
    yield* win.get([back.subarray(1), column, 1], next, { disp: 2, count: 1, datatype: column })
    yield* win.fence()
    yield* checkEqual(Array.from(back), Array.from({ length: rows * cols }, (_, i) => (i % cols === 1 ? w.rank * 100 + (i - 1) : -2)), "this rank's column, got back into column 1")
    // Accumulate 1 into the 2×2 block at rows 1–2, columns 1–2 of the next rank's grid; getAccumulate reads it.
    const block = Datatype.subarray([rows, cols], [2, 2], [1, 1], "float64")
    yield* win.accumulate(new Float64Array(4).fill(1), next, { disp: 0, datatype: block }, Op.SUM)
    yield* win.fence()
    const seen = new Float64Array(4)
    yield* win.getAccumulate(new Float64Array(4), seen, next, { disp: 0, datatype: block }, Op.NO_OP)
    yield* win.fence()
    const at = (r: number, c: number) => r * cols + c
    // The next rank's grid holds this rank's column 0 in its column 2.
    const theirs = (i: number) => (i % cols === 2 ? w.rank * 100 + (i - 2) : -1)
    yield* checkEqual(Array.from(seen), [at(1, 1), at(1, 2), at(2, 1), at(2, 2)].map((i) => theirs(i) + 1), "the block after the accumulate")
    // Errors: a layout that runs past the window, a struct that mixes types, a count that does not match.
    const overrun = yield* Effect.flip(win.put(new Float64Array(rows), next, { disp: 3, datatype: column }))
    yield* check(/run past rank/.test(overrun.message), `a layout past the window: ${overrun.message}`)
    const mixed = yield* Effect.flip(win.put(new Float64Array(2), next, { disp: 0, datatype: Datatype.struct([1, 1], [0, 8], ["float64", "int32"]) }))
    yield* check(/mixes several/.test(mixed.message), `a mixed struct: ${mixed.message}`)
    const count = yield* Effect.flip(win.put(new Float64Array(3), next, { disp: 0, datatype: column }))
    yield* check(/do not match the origin's 3 elements/.test(count.message), `a count that does not match: ${count.message}`)
    yield* win.fence(Win.MODE_NOSUCCEED)
    yield* win.free()
  })
