/**
 * Rank programs for the parallel file suite (test/core/io.test.ts), after
 * mpi4py's test_io.py and test_file.py. Each runs on every rank of a world of
 * any size, on a file in `dir`, and checks its rule itself.
 */
import { Effect } from "effect"
import { Comm, File, Op, Request } from "rankflow"
import { Datatype } from "rankflow/codecs"
import { check, checkEqual } from "./check.ts"

const world = Comm.World

/** Each rank writes its block at an explicit offset and reads its neighbour's; sizes and modes report what was asked. */
export const explicitOffsets = (dir: string) =>
  Effect.gen(function*() {
    const w = yield* world
    const file = yield* File.open(w, `${dir}/explicit-${w.size}.bin`, "rw", { create: true, deleteOnClose: true })
    yield* file.setView(0, "float64")
    const mine = Float64Array.from({ length: 4 }, (_, i) => w.rank * 10 + i)
    yield* checkEqual(yield* file.writeAtAll(w.rank * 4, mine), 4, "elements written")
    yield* file.sync()
    const next = (w.rank + 1) % w.size
    const theirs = new Float64Array(4)
    yield* checkEqual(yield* file.readAtAll(next * 4, theirs), 4, "elements read")
    yield* checkEqual(Array.from(theirs), [0, 1, 2, 3].map((i) => next * 10 + i), "the next rank's block")
    yield* checkEqual(yield* file.getSize(), w.size * 32, "the file's size")
    // Reading past the end gives what is there: nothing.
    yield* checkEqual(yield* file.readAt(w.size * 4, new Float64Array(2)), 0, "elements read past the end")
    yield* checkEqual(file.getAmode(), { mode: "rw", create: true, deleteOnClose: true }, "the open mode")
    yield* checkEqual(file.getGroup().size, w.size, "the file's group")
    yield* checkEqual(file.getByteOffset(3), 24, "byte offset of element 3")
    const req = yield* file.iwriteAt(w.rank * 4, Float64Array.of(-1))
    yield* checkEqual(yield* Request.wait(req), 1, "a non-blocking write")
    const back = new Float64Array(1)
    yield* checkEqual(yield* Request.wait(yield* file.ireadAt(w.rank * 4, back)), 1, "a non-blocking read")
    yield* checkEqual(back[0], -1, "what the non-blocking read read")
    yield* file.close()
  })

/** Individual file pointers: seek, write, read, and their collective forms. */
export const individualPointers = (dir: string) =>
  Effect.gen(function*() {
    const w = yield* world
    const file = yield* File.open(w, `${dir}/pointers-${w.size}.bin`, "rw", { create: true, deleteOnClose: true })
    yield* file.setView(0, "int32")
    yield* file.seek(w.rank * 6)
    yield* file.write(Int32Array.of(w.rank, w.rank + 1, w.rank + 2))
    yield* checkEqual(file.getPosition(), w.rank * 6 + 3, "the pointer after a write")
    yield* file.writeAll(Int32Array.of(-w.rank - 10, -w.rank - 11, -w.rank - 12))
    yield* file.sync()
    yield* file.seek(-6, "cur")
    const got = new Int32Array(6)
    yield* checkEqual(yield* file.readAll(got), 6, "elements read")
    yield* checkEqual(Array.from(got), [w.rank, w.rank + 1, w.rank + 2, -w.rank - 10, -w.rank - 11, -w.rank - 12], "what this rank wrote")
    yield* file.seek(0, "end")
    yield* checkEqual(file.getPosition(), w.size * 6, "the end of the file, in int32")
    const bad = yield* Effect.flip(file.seek(-1))
    yield* check(bad._tag === "FileError" && /before the start/.test(bad.message), `a seek before the start fails: ${bad.message}`)
    yield* file.close()
  })

/** Ordered access: each rank's data follows the ranks before it, through the shared pointer. */
export const ordered = (dir: string) =>
  Effect.gen(function*() {
    const w = yield* world
    const file = yield* File.open(w, `${dir}/ordered-${w.size}.bin`, "rw", { create: true, deleteOnClose: true })
    yield* file.setView(0, "int32")
    yield* file.writeOrdered(new Int32Array(w.rank + 1).fill(w.rank))
    const total = (w.size * (w.size + 1)) / 2
    yield* checkEqual(yield* file.getPositionShared(), total, "the shared pointer after writeOrdered")
    yield* file.sync()
    const whole = new Int32Array(total)
    yield* file.readAtAll(0, whole)
    yield* checkEqual(Array.from(whole), Array.from({ length: w.size }, (_, r) => new Array(r + 1).fill(r)).flat(), "the ranks' data in rank order")
    yield* file.seekShared(0)
    const mine = new Int32Array(w.rank + 1)
    yield* file.readOrdered(mine)
    yield* checkEqual(Array.from(mine), new Array(w.rank + 1).fill(w.rank), "this rank's part, read in order")
    yield* file.close()
  })

/** Independent shared-pointer access: every rank's data lands whole, in some order, and the pointer counts it all. */
export const sharedPointer = (dir: string) =>
  Effect.gen(function*() {
    const w = yield* world
    const file = yield* File.open(w, `${dir}/shared-${w.size}.bin`, "rw", { create: true, deleteOnClose: true })
    yield* file.setView(0, "int32")
    for (let round = 0; round < 3; round++) yield* file.writeShared(new Int32Array(w.rank + 1).fill(w.rank))
    yield* file.sync()
    const total = (3 * w.size * (w.size + 1)) / 2
    yield* checkEqual(yield* file.getPositionShared(), total, "the shared pointer after every rank's writes")
    const whole = new Int32Array(total)
    yield* file.readAtAll(0, whole)
    // Runs: each write is rank+1 copies of the rank, never interleaved with another write.
    const runs: Array<number> = []
    for (let i = 0; i < total;) {
      const r = whole[i]!
      for (let k = 0; k < r + 1; k++) yield* check(whole[i + k] === r, `a write of rank ${r} interleaved at ${i + k}: ${whole.join(",")}`)
      runs.push(r)
      i += r + 1
    }
    yield* checkEqual(runs.sort((a, b) => a - b), Array.from({ length: w.size }, (_, r) => [r, r, r]).flat(), "three writes of every rank")
    yield* file.seekShared(0)
    let read = 0
    for (;;) {
      const n = yield* file.readShared(new Int32Array(2))
      read += n
      if (n < 2) break
    }
    const reads = yield* w.allreduce(read, Op.SUM)
    yield* checkEqual(reads, total, "readShared hands out every element once")
    yield* file.close()
  })

/** Views: each rank writes its column block of a global row-major array through a subarray filetype. */
export const views = (dir: string) =>
  Effect.gen(function*() {
    const w = yield* world
    const rows = 3
    const columns = 2 * w.size
    const path = `${dir}/views-${w.size}.bin`
    const file = yield* File.open(w, path, "rw", { create: true, deleteOnClose: true })
    const block = Datatype.subarray([rows, columns], [rows, 2], [0, 2 * w.rank], "float64")
    yield* file.setView(8, "float64", block) // after an 8-byte header
    yield* checkEqual(file.getView(), { disp: 8, etype: "float64", filetype: block }, "the view")
    const mine = Float64Array.from({ length: rows * 2 }, (_, i) => w.rank * 100 + i)
    yield* file.writeAtAll(0, mine)
    yield* file.sync()
    const back = new Float64Array(rows * 2)
    yield* file.readAtAll(0, back)
    yield* checkEqual(Array.from(back), Array.from(mine), "this rank's block, read back through its view")
    // The whole array, seen as plain doubles: row r holds every rank's two columns in rank order.
    yield* file.setView(8, "float64")
    const global = new Float64Array(rows * columns)
    yield* file.readAtAll(0, global)
    const expected = Array.from({ length: rows * columns }, (_, k) => {
      const r = Math.floor(k / columns)
      const c = k % columns
      return Math.floor(c / 2) * 100 + r * 2 + (c % 2)
    })
    yield* checkEqual(Array.from(global), expected, "the global array")
    // A vector filetype (every size-th double) and a derived buffer (every other double of a 2n array).
    yield* file.setView(8, "float64", Datatype.resized(Datatype.vector(1, 1, 1, "float64"), 0, 8 * w.size))
    const strided = new Float64Array(2 * rows * 2)
    yield* file.readAtAll(0, [strided, Datatype.vector(rows * 2, 1, 2, "float64"), 1])
    yield* checkEqual(Array.from(strided.filter((_, i) => i % 2 === 0)), Array.from({ length: rows * 2 }, (_, k) => global[k * w.size]!), "every size-th double into every other place")
    yield* checkEqual(file.getByteOffset(1), 8 + 8 * w.size, "the byte offset of the second element of the view")
    // A collective read through the strided view that runs past the end of the file: fewer etypes, as an independent read.
    const tail = new Float64Array(3).fill(-1)
    yield* checkEqual(yield* file.readAtAll(rows * 2 - 1, tail), 1, "etypes read up to the end of the file")
    yield* checkEqual(tail[0], global[(rows * 2 - 1) * w.size], "the last element of the view")
    yield* file.close()
  })

/** setSize, preallocate, getSize, atomicity; data one rank writes another reads after sync, barrier, sync. */
export const sizesAndConsistency = (dir: string) =>
  Effect.gen(function*() {
    const w = yield* world
    const file = yield* File.open(w, `${dir}/sizes-${w.size}.bin`, "rw", { create: true, deleteOnClose: true })
    yield* file.setSize(100)
    yield* checkEqual(yield* file.getSize(), 100, "after setSize(100)")
    yield* file.preallocate(50)
    yield* checkEqual(yield* file.getSize(), 100, "preallocate never shrinks")
    yield* file.preallocate(4096)
    yield* checkEqual(yield* file.getSize(), 4096, "after preallocate(4096)")
    yield* file.setSize(8)
    yield* checkEqual(yield* file.getSize(), 8, "after setSize(8)")
    yield* file.setAtomicity(true)
    yield* check(file.getAtomicity(), "atomicity is on")
    yield* file.writeAt(w.rank, Uint8Array.of(w.rank + 1))
    yield* file.sync()
    yield* w.barrier()
    yield* file.sync()
    const seen = new Uint8Array(w.size)
    yield* file.readAt(0, seen)
    yield* checkEqual(Array.from(seen), Array.from({ length: w.size }, (_, r) => r + 1), "every rank's byte, after sync, barrier, sync")
    yield* file.close()
  })

/** What fails, fails with a FileError naming the operation, and leaves the others usable. */
export const errors = (dir: string) =>
  Effect.gen(function*() {
    const w = yield* world
    const missing = yield* Effect.flip(File.open(w, `${dir}/missing-${w.size}.bin`, "r"))
    yield* check(missing._tag === "FileError" && missing.operation === "open" && /ENOENT/.test(missing.message), `opening a missing file: ${missing.message}`)
    const path = `${dir}/errors-${w.size}.bin`
    const made = yield* File.open(w, path, "w", { create: true })
    const twice = yield* Effect.flip(File.open(w, path, "w", { create: true, exclusive: true }))
    yield* check(/EEXIST/.test(twice.message), `an exclusive create of an existing file: ${twice.message}`)
    const readOnWrite = yield* Effect.flip(made.readAt(0, new Uint8Array(1)))
    yield* check(/writing only/.test(readOnWrite.message), `a read of a write-only file: ${readOnWrite.message}`)
    const negative = yield* Effect.flip(made.writeAt(-1, new Uint8Array(1)))
    yield* check(/non-negative/.test(negative.message), `a negative offset: ${negative.message}`)
    const badView = yield* Effect.flip(made.setView(0, "float64", Datatype.contiguous(3, "int8")))
    yield* check(/not a whole number of float64/.test(badView.message), `a filetype of 3 bytes under a float64 etype: ${badView.message}`)
    const backwards = yield* Effect.flip(made.setView(0, "float64", Datatype.indexed([1, 1], [1, 0], "float64")))
    yield* check(/must go forward through the file/.test(backwards.message), `a filetype that goes backwards: ${backwards.message}`)
    yield* checkEqual(yield* made.writeAt(w.rank, Uint8Array.of(7)), 1, "the file is still usable")
    yield* made.close()
    const closed = yield* Effect.flip(made.writeAt(0, Uint8Array.of(1)))
    yield* check(/closed/.test(closed.message), `a write after close: ${closed.message}`)
    yield* w.barrier()
    if (w.rank === 0) {
      yield* File.delete(path)
      const again = yield* Effect.flip(File.delete(path))
      yield* check(again.operation === "delete" && /ENOENT/.test(again.message), `deleting a missing file: ${again.message}`)
    }
  })

/**
 * Non-blocking collective and shared-pointer accesses: two `iwriteAtAll` of
 * each rank's block (through a subarray view: two-phase) outstanding at once,
 * read back with two outstanding `ireadAtAll`; `iwriteAll`/`ireadAll` move the
 * individual pointer when they start; `iwriteShared`/`ireadShared` take their
 * place at the shared pointer when they start.
 */
export const nonBlocking = (dir: string) =>
  Effect.gen(function*() {
    const w = yield* world
    const rows = 3
    const file = yield* File.open(w, `${dir}/nonblocking-${w.size}.bin`, "rw", { create: true, deleteOnClose: true })
    yield* file.setView(0, "int32", Datatype.subarray([rows, 2 * w.size], [rows, 2], [0, 2 * w.rank], "int32"))
    const first = Int32Array.from({ length: rows * 2 }, (_, i) => w.rank * 100 + i)
    const second = first.map((x) => -x - 1)
    const writes = [yield* file.iwriteAtAll(0, first), yield* file.iwriteAtAll(rows * 2, second)] as const
    yield* checkEqual(yield* Request.waitAll(writes), [rows * 2, rows * 2], "etypes written by both")
    yield* file.sync()
    const a = new Int32Array(rows * 2)
    const b = new Int32Array(rows * 2)
    const reads = [yield* file.ireadAtAll(rows * 2, b), yield* file.ireadAtAll(0, a)] as const
    yield* checkEqual(yield* Request.waitAll(reads), [rows * 2, rows * 2], "etypes read by both")
    yield* checkEqual([Array.from(a), Array.from(b)], [Array.from(first), Array.from(second)], "both blocks back")
    // The individual pointer moves when the call starts.
    yield* file.seek(0)
    const c = new Int32Array(rows * 2)
    const pending = yield* file.ireadAll(c)
    yield* checkEqual(file.getPosition(), rows * 2, "the pointer, moved as ireadAll started")
    yield* Request.wait(pending)
    yield* checkEqual(Array.from(c), Array.from(first), "ireadAll's block")
    const rewrite = yield* file.iwriteAll(first.map((x) => x + 1))
    yield* checkEqual(file.getPosition(), rows * 4, "the pointer, moved as iwriteAll started")
    yield* Request.wait(rewrite)
    // Shared pointer: each rank's two int32 land whole somewhere, and every element is read once.
    yield* file.setView(0, "int32")
    yield* file.seekShared(0)
    yield* Request.wait(yield* file.iwriteShared(Int32Array.of(w.rank, w.rank)))
    yield* file.sync()
    yield* file.seekShared(0)
    const got = new Int32Array(2)
    yield* checkEqual(yield* Request.wait(yield* file.ireadShared(got)), 2, "ireadShared's count")
    yield* check(got[0] === got[1] && got[0]! >= 0 && got[0]! < w.size, `a whole write of one rank: ${Array.from(got)}`)
    const everyone = yield* w.allgather(got[0]!)
    yield* checkEqual([...everyone].sort((x, y) => x - y), Array.from({ length: w.size }, (_, r) => r), "every rank's write read once")
    yield* file.close()
  })

/**
 * Contiguous and indexed filetypes: with an indexed filetype (resized to
 * tile) each rank owns every size-th pair of int32 and writes its pairs with
 * one collective call; a contiguous filetype reads them back in blocks.
 */
export const indexedViews = (dir: string) =>
  Effect.gen(function*() {
    const w = yield* world
    const file = yield* File.open(w, `${dir}/indexed-${w.size}.bin`, "rw", { create: true, deleteOnClose: true })
    // Rank r's pairs: elements 2r, 2r+1 of every tile of 2·size int32.
    const mine = Datatype.resized(Datatype.indexed([2], [2 * w.rank], "int32"), 0, 8 * w.size)
    yield* file.setView(0, "int32", mine)
    const tiles = 3
    const data = Int32Array.from({ length: 2 * tiles }, (_, i) => w.rank * 1000 + i)
    yield* checkEqual(yield* file.writeAtAll(0, data), 2 * tiles, "etypes written through the indexed view")
    yield* file.sync()
    // Read back with a contiguous filetype of two int32: the whole file, pair by pair.
    yield* file.setView(0, "int32", Datatype.contiguous(2, "int32"))
    const whole = new Int32Array(2 * w.size * tiles)
    yield* checkEqual(yield* file.readAtAll(0, whole), whole.length, "etypes read through the contiguous view")
    const expected = Array.from({ length: whole.length }, (_, k) => {
      const tile = Math.floor(k / (2 * w.size))
      const r = Math.floor((k % (2 * w.size)) / 2)
      return r * 1000 + tile * 2 + (k % 2)
    })
    yield* checkEqual(Array.from(whole), expected, "every rank's pairs in their places")
    // And back through the indexed view: this rank's pairs only.
    yield* file.setView(0, "int32", mine)
    const back = new Int32Array(2 * tiles)
    yield* file.readAtAll(0, back)
    yield* checkEqual(Array.from(back), Array.from(data), "this rank's pairs through its indexed view")
    yield* file.close()
  })
