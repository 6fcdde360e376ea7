/**
 * Parallel files (MPI-IO, mpi4py's `MPI.File`): every rank of a communicator
 * opens one file and reads and writes its own parts of it, at explicit
 * offsets, through its own file pointer, or in rank order, optionally through
 * a *view* that shows each rank only its blocks (a subarray of a global array).
 *
 * Node's `fs` does the I/O: positional reads and writes on a file handle,
 * never whole-file reads. On NATS the ranks must share a file system; a rank
 * that cannot open the path fails the open on every rank, naming it.
 *
 * Offsets and counts are in *etypes* of the view (bytes by default), relative
 * to the view's displacement, as in MPI. The collective forms (`…All`,
 * `…Ordered`, `open`, `close`, `setView`, `setSize`, `preallocate`, `sync`)
 * must be called by every rank of the communicator, in the same order.
 *
 * @example
 * ```ts
 * const file = yield* File.open(world, "grid.bin", "w", { create: true })
 * yield* file.writeAtAll(world.rank * 800, new Float64Array(100).fill(world.rank))
 * yield* file.close()
 * ```
 */
import { Data, Deferred, Effect, type Result, type Scope } from "effect"
import { open as openFile, unlink, type FileHandle } from "node:fs/promises"
import { constants } from "node:fs"
import { type BufferSpec, describe, describeTarget, scatter } from "../../codecs/buffer.ts"
import * as Datatype from "../../codecs/Datatype.ts"
import type { DatatypeName, DerivedDatatype, TypeArgument } from "../../codecs/Datatype.ts"
import type { Comm } from "../comm/Comm.ts"
import type { Group } from "../comm/Group.ts"
import * as Op from "../op/Op.ts"
import * as Scratch from "../collectives/scratch.ts"
import * as Win from "../rma/Win.ts"
import * as Request from "../messaging/Request.ts"
import { stateOf } from "../comm/communicators.ts"
import { spanMethods } from "../observe/spans.ts"

/**
 * A file operation failed: which, on which path and rank, and why (the
 * system's words: `ENOENT`, `EACCES`, …, or the argument that was wrong).
 *
 * @example
 * ```ts
 * yield* File.open(world, "missing.bin", "r").pipe(
 *   Effect.catchTag("FileError", (e) => Effect.log(`${e.operation} ${e.path} failed on rank ${e.rank}: ${e.message}`))
 * )
 * ```
 */
export class FileError extends Data.TaggedError("FileError")<{
  readonly operation: string
  readonly path: string
  readonly rank: number
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * How a file is opened: read only, write only, or both (MPI_MODE_RDONLY, WRONLY, RDWR).
 *
 * @example
 * ```ts
 * const mode: File.Mode = "rw"
 * ```
 */
export type Mode = "r" | "w" | "rw"

/**
 * MPI's other open flags.
 *
 * @example
 * ```ts
 * const flags: File.OpenFlags = { create: true, exclusive: true }   // fail if it exists
 * ```
 */
export interface OpenFlags {
  /** Create the file if it does not exist (MPI_MODE_CREATE). */
  readonly create?: boolean
  /** With `create`: fail if it exists (MPI_MODE_EXCL). */
  readonly exclusive?: boolean
  /** Start every file pointer at the end of the file (MPI_MODE_APPEND). */
  readonly append?: boolean
  /** Delete the file when it is closed (MPI_MODE_DELETE_ON_CLOSE). */
  readonly deleteOnClose?: boolean
}

/**
 * What the file looks like to this rank: from byte `disp` on, the file is
 * `filetype` again and again, and only its data (its blocks) is visible;
 * offsets count `etype`s (MPI_File_set_view).
 *
 * @example
 * ```ts
 * const view: File.View = { disp: 0, etype: "float64", filetype: Datatype.subarray([8, 8], [4, 4], [0, 4], "float64") }
 * ```
 */
export interface View {
  readonly disp: number
  readonly etype: DatatypeName
  readonly filetype: TypeArgument
}

/**
 * Where `seek` counts from: the start of the view, the current position, or the end of the file.
 *
 * @example
 * ```ts
 * yield* file.seek(-8, "end")   // 8 etypes before the end
 * ```
 */
export type Whence = "set" | "cur" | "end"

/**
 * An open parallel file (MPI_File). Every method is an Effect; the `i…`
 * forms return a `Request`.
 *
 * @example
 * ```ts
 * const n = yield* file.readAt(0, new Float64Array(4))   // elements read
 * ```
 */
export interface ParallelFile {
  readonly path: string
  /** Collective: waits for every rank, closes (and deletes with `deleteOnClose`); `sync` first to push the data to the device. */
  close(): Effect.Effect<void, FileError>
  getSize(): Effect.Effect<number, FileError>
  /** Collective: truncates or extends the file to `bytes`. */
  setSize(bytes: number): Effect.Effect<void, FileError>
  /** Collective: makes the file at least `bytes` long. */
  preallocate(bytes: number): Effect.Effect<void, FileError>
  /** Collective: writes this rank's data through to the file and waits for every rank. */
  sync(): Effect.Effect<void, FileError>
  getAmode(): { readonly mode: Mode } & OpenFlags
  getGroup(): Group
  getAtomicity(): boolean
  /** Collective. Positional writes are atomic per call on one host either way (see docs/io.md). */
  setAtomicity(flag: boolean): Effect.Effect<void, FileError>

  /** Collective: sets this rank's view (each rank may give its own filetype) and resets its file pointers. */
  setView(disp: number, etype: DatatypeName, filetype?: TypeArgument): Effect.Effect<void, FileError>
  getView(): View
  /** The absolute byte position of view offset `offset` (in etypes). */
  getByteOffset(offset: number): number

  readAt(offset: number, buffer: BufferSpec): Effect.Effect<number, FileError>
  writeAt(offset: number, buffer: BufferSpec): Effect.Effect<number, FileError>
  readAtAll(offset: number, buffer: BufferSpec): Effect.Effect<number, FileError>
  writeAtAll(offset: number, buffer: BufferSpec): Effect.Effect<number, FileError>
  ireadAt(offset: number, buffer: BufferSpec): Effect.Effect<Request.Request<number, FileError>>
  iwriteAt(offset: number, buffer: BufferSpec): Effect.Effect<Request.Request<number, FileError>>
  /** Collective, non-blocking: every rank starts it in the same order among its collective calls on the file. */
  ireadAtAll(offset: number, buffer: BufferSpec): Effect.Effect<Request.Request<number, FileError>>
  iwriteAtAll(offset: number, buffer: BufferSpec): Effect.Effect<Request.Request<number, FileError>>

  seek(offset: number, whence?: Whence): Effect.Effect<void, FileError>
  getPosition(): number
  read(buffer: BufferSpec): Effect.Effect<number, FileError>
  write(buffer: BufferSpec): Effect.Effect<number, FileError>
  readAll(buffer: BufferSpec): Effect.Effect<number, FileError>
  writeAll(buffer: BufferSpec): Effect.Effect<number, FileError>
  /** Starts a read at the file pointer, which moves at once by what the buffer holds. */
  iread(buffer: BufferSpec): Effect.Effect<Request.Request<number, FileError>, FileError>
  iwrite(buffer: BufferSpec): Effect.Effect<Request.Request<number, FileError>, FileError>
  ireadAll(buffer: BufferSpec): Effect.Effect<Request.Request<number, FileError>, FileError>
  iwriteAll(buffer: BufferSpec): Effect.Effect<Request.Request<number, FileError>, FileError>

  /** At the shared file pointer, which moves by what the buffer holds; ranks take turns, in no set order. */
  readShared(buffer: BufferSpec): Effect.Effect<number, FileError>
  writeShared(buffer: BufferSpec): Effect.Effect<number, FileError>
  /** Takes its place at the shared pointer now; the access goes on in the background. */
  ireadShared(buffer: BufferSpec): Effect.Effect<Request.Request<number, FileError>, FileError>
  iwriteShared(buffer: BufferSpec): Effect.Effect<Request.Request<number, FileError>, FileError>
  /** Collective: rank by rank, each after the previous ranks' data, from the shared file pointer. */
  readOrdered(buffer: BufferSpec): Effect.Effect<number, FileError>
  writeOrdered(buffer: BufferSpec): Effect.Effect<number, FileError>
  /** Collective: every rank gives the same offset. */
  seekShared(offset: number, whence?: Whence): Effect.Effect<void, FileError>
  getPositionShared(): Effect.Effect<number, FileError>
}

const modeFlags = (mode: Mode): number =>
  mode === "r" ? constants.O_RDONLY : mode === "w" ? constants.O_WRONLY : constants.O_RDWR

const systemMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** A view's data as byte ranges of the file: the layout of `filetype`, tiled from `disp`. */
interface Layout {
  readonly disp: number
  readonly etypeSize: number
  readonly type: DerivedDatatype
  /** Data bytes before block b of one tile. */
  readonly before: Float64Array
}

const layoutOf = (disp: number, etype: DatatypeName, filetype: TypeArgument): Layout | string => {
  const e = Datatype.byName(etype)
  if (e === undefined) return `unknown etype ${JSON.stringify(etype)}`
  let type: DerivedDatatype
  try {
    type = Datatype.contiguous(1, filetype)
  } catch (error) {
    return systemMessage(error)
  }
  if (type.size === 0 || type.size % e.size !== 0) return `the filetype holds ${type.size} bytes, not a whole number of ${etype}`
  if (type.base !== undefined && type.base.size % e.size !== 0) return `the filetype's elements (${type.base.name}) are not made of ${etype}`
  if (type.trueLowerBound < 0 || type.extent <= 0) return "the filetype must lie at non-negative offsets with a positive extent"
  for (let b = 1; b < type.offsets.length; b++) {
    if (type.offsets[b]! < type.offsets[b - 1]! + type.lengths[b - 1]!) {
      return "the filetype's blocks must go forward through the file, without overlapping (MPI requires non-decreasing displacements)"
    }
  }
  if (type.trueUpperBound > type.lowerBound + type.extent) return "the filetype's data must lie within its extent, so that its tiles do not overlap"
  const before = new Float64Array(type.offsets.length)
  for (let b = 1; b < before.length; b++) before[b] = before[b - 1]! + type.lengths[b - 1]!
  return { disp, etypeSize: e.size, type, before }
}

/** The file ranges `[position, length]` holding data bytes `start .. start + bytes` of the view. */
const ranges = (l: Layout, start: number, bytes: number): Array<readonly [number, number]> => {
  const out: Array<readonly [number, number]> = []
  const t = l.type
  let tile = Math.floor(start / t.size)
  let within = start - tile * t.size
  let b = 0
  while (b + 1 < t.offsets.length && l.before[b + 1]! <= within) b++
  let left = bytes
  while (left > 0) {
    const skip = within - l.before[b]!
    const length = Math.min(t.lengths[b]! - skip, left)
    const position = l.disp + tile * t.extent + t.offsets[b]! + skip
    const last = out[out.length - 1]
    if (last !== undefined && last[0] + last[1] === position) out[out.length - 1] = [last[0], last[1] + length]
    else out.push([position, length])
    left -= length
    within += length
    if (++b === t.offsets.length) {
      b = 0
      tile++
      within = 0
    }
  }
  return out
}

/**
 * Opens `path` on every rank of `comm` (collective). Rank 0 creates it first
 * when asked; a rank that cannot open it fails the open on every rank with a
 * `FileError` naming the ranks and the reason.
 *
 * @example
 * ```ts
 * const file = yield* File.open(world, "out.bin", "w", { create: true })
 * ```
 */
export const open = (comm: Comm, path: string, mode: Mode, flags: OpenFlags = {}): Effect.Effect<ParallelFile, FileError, Scope.Scope> =>
  Effect.gen(function*() {
    const fail = (operation: string, message: string, cause?: unknown) => new FileError({ operation, path, rank: comm.rank, message, cause })
    if (mode !== "r" && mode !== "w" && mode !== "rw") return yield* fail("open", `mode must be "r", "w" or "rw", got ${String(mode)}`)
    if (flags.exclusive && !flags.create) return yield* fail("open", "exclusive needs create")
    const attempt = (creating: boolean) =>
      Effect.tryPromise({
        try: () => openFile(path, modeFlags(mode) | (creating && flags.create ? constants.O_CREAT : 0) | (creating && flags.exclusive ? constants.O_EXCL : 0), 0o644),
        catch: (e) => systemMessage(e)
      }).pipe(Effect.result)
    // Rank 0 creates (exclusively, when asked) before the others open what is then there.
    const first = comm.rank === 0 ? yield* attempt(true) : undefined
    const firstError = yield* comm.bcast(first === undefined || first._tag === "Success" ? null : first.failure, { root: 0 }).pipe(Effect.orDie)
    if (firstError !== null) {
      return yield* fail("open", comm.rank === 0 ? firstError : `rank 0 could not open it: ${firstError}`)
    }
    const mine = comm.rank === 0 ? first! : yield* attempt(false)
    const errors = yield* comm.allgather(mine._tag === "Success" ? null : mine.failure).pipe(Effect.orDie)
    const failed = errors.flatMap((e, r) => (e === null ? [] : [`rank ${r}: ${e}`]))
    if (failed.length > 0) {
      if (mine._tag === "Success") yield* Effect.promise(() => mine.success.close().catch(() => {}))
      return yield* fail("open", `not every rank could open it (the ranks of a job on NATS must share a file system): ${failed.join("; ")}`)
    }
    const handle = (mine as { readonly success: FileHandle }).success
    const start = flags.append ? (yield* Effect.promise(() => handle.stat())).size : 0
    // The shared file pointer (in etypes) lives in a window on rank 0: any rank moves it with one fetch-and-add.
    const pointer = yield* Win.allocate(comm, comm.rank === 0 ? 1 : 0, "float64").pipe(Effect.orDie)
    if (comm.rank === 0) pointer.base[0] = start
    const file = make(comm, path, mode, flags, handle, start, pointer)
    // Leaving the scope without close() (a failure on this rank) still closes the descriptor.
    yield* Effect.addFinalizer(() => Effect.ignore(file.close(true)))
    return file
  })

/**
 * Deletes a file (MPI_File_delete); a missing file is a `FileError`. Reached
 * as `File.delete` (MPI's name) or `File.remove` (the same function, for code
 * that destructures the namespace, where `delete` cannot be a binding).
 *
 * @example
 * ```ts
 * yield* File.delete("scratch.bin")
 * ```
 */
export const remove = (path: string): Effect.Effect<void, FileError> =>
  Effect.tryPromise({
    try: () => unlink(path),
    catch: (e) => new FileError({ operation: "delete", path, rank: -1, message: systemMessage(e), cause: e })
  })

export { remove as delete }

/** The file with close's local form (no collective step), for the scope's finalizer. */
interface Closable extends ParallelFile {
  close(locally?: boolean): Effect.Effect<void, FileError>
}

const UINT8 = Datatype.byName("uint8")!

/** Pieces of a collective read at most this far apart are read in one call, the gap with them (data sieving). */
const SIEVE_GAP = 64 * 1024
/** …up to this many bytes in one call. */
const SIEVE_LIMIT = 16 * 1024 * 1024

const make = (comm: Comm, path: string, mode: Mode, flags: OpenFlags, handle: FileHandle, startBytes: number, pointer: Win.Win<Float64Array>): Closable => {
  const fail = (operation: string, message: string, cause?: unknown) => new FileError({ operation, path, rank: comm.rank, message, cause })
  const io = <A>(operation: string, f: () => Promise<A>) =>
    Effect.tryPromise({ try: f, catch: (e) => fail(operation, systemMessage(e), e) })
  const collective = <A, E>(effect: Effect.Effect<A, E>) => effect.pipe(Effect.orDie)
  let closed = false
  let atomicity = false
  let view: View = { disp: 0, etype: "uint8", filetype: "uint8" }
  let layout = layoutOf(0, "uint8", "uint8") as Layout
  let position = startBytes // individual file pointer, in etypes

  const pointerError = (operation: string) => (e: Win.WinError) => fail(operation, `the shared file pointer: ${e.message}`, e)
  /** Moves the shared pointer by `n` etypes; returns where it was. */
  const takeShared = (operation: string, n: number) =>
    pointer.withLock(0, "exclusive", pointer.fetchAndOp(n, 0, 0, Op.SUM)).pipe(Effect.map(Number), Effect.mapError(pointerError(operation)))
  /** Collective: every rank's earlier shared accesses are done, then rank 0 sets the pointer to `at` (a function of where it is). */
  const setShared = (at: (current: number) => number) =>
    Effect.gen(function*() {
      yield* collective(comm.barrier())
      const current = yield* collective(comm.bcast(comm.rank === 0 ? pointer.base[0]! : undefined, { root: 0 }))
      const next = at(current as number)
      if (comm.rank === 0) pointer.base[0] = next
      yield* collective(comm.barrier())
      return current as number
    })

  const check = (operation: string, offset: number, writing: boolean | undefined): FileError | undefined => {
    if (closed) return fail(operation, "the file is closed")
    if (writing === true && mode === "r") return fail(operation, "the file is open for reading only")
    if (writing === false && mode === "w") return fail(operation, "the file is open for writing only")
    if (!Number.isSafeInteger(offset) || offset < 0) return fail(operation, `offset must be a non-negative integer, got ${offset}`)
    return undefined
  }

  /** A write's data (packed once) and the file ranges it goes to, or why it cannot be written. */
  const prepareWrite = (operation: string, offset: number, buffer: BufferSpec) =>
    Effect.suspend(() => {
      const bad = check(operation, offset, true)
      if (bad !== undefined) return Effect.fail(bad)
      return Effect.try({
        try: () => {
          const data = describe(buffer).bytes
          if (data.byteLength % layout.etypeSize !== 0) throw new Error(`${data.byteLength} bytes is not a whole number of ${view.etype}`)
          return { data, pieces: ranges(layout, offset * layout.etypeSize, data.byteLength) }
        },
        catch: (e) => fail(operation, systemMessage(e), e)
      })
    })

  /** Writes prepared data, one positional write per range; returns etypes written. */
  const writePieces = (operation: string, data: Uint8Array, pieces: ReadonlyArray<readonly [number, number]>) =>
    io(operation, async () => {
      let at = 0
      for (const [pos, length] of pieces) {
        await handle.write(data, at, length, pos)
        at += length
      }
      return data.byteLength / layout.etypeSize
    })

  /** Writes the packed data of `buffer` at view offset `offset`; returns etypes written. */
  const writeData = (operation: string, offset: number, buffer: BufferSpec): Effect.Effect<number, FileError> =>
    Effect.flatMap(prepareWrite(operation, offset, buffer), ({ data, pieces }) => writePieces(operation, data, pieces))

  /** A read's target (its packed bytes, scattered into `buffer` after) and the file ranges it reads, or why it cannot be read. */
  const prepareRead = (operation: string, offset: number, buffer: BufferSpec) =>
    Effect.suspend(() => {
      const bad = check(operation, offset, false)
      if (bad !== undefined) return Effect.fail(bad)
      return Effect.try({
        try: () => {
          const target = describeTarget(buffer)
          return { target, pieces: ranges(layout, offset * layout.etypeSize, target.count * target.datatype.size) }
        },
        catch: (e) => fail(operation, systemMessage(e), e)
      })
    })

  /** Reads into `buffer` from view offset `offset`; returns etypes read (fewer at the end of the file). */
  const readData = (operation: string, offset: number, buffer: BufferSpec): Effect.Effect<number, FileError> =>
    Effect.flatMap(prepareRead(operation, offset, buffer), (prepared) => readPrepared(operation, prepared))

  /** Reads prepared ranges into their target; returns etypes read (fewer at the end of the file). */
  const readPrepared = (operation: string, { target, pieces }: Effect.Success<ReturnType<typeof prepareRead>>): Effect.Effect<number, FileError> =>
      io(operation, async () => {
        let got = 0
        for (const [pos, length] of pieces) {
          const { bytesRead } = await handle.read(target.bytes, got, length, pos)
          got += bytesRead
          if (bytesRead < length) break // the end of the file
        }
        const whole = got - (got % layout.etypeSize)
        scatter(target, whole)
        return whole / layout.etypeSize
      })

  /** How many etypes `buffer` holds (as a receive target: a derived layout is not packed just to count it). */
  const elementsOf = (operation: string, buffer: BufferSpec): Effect.Effect<number, FileError> =>
    Effect.try({
      try: () => describeTarget(buffer).bytes.byteLength / layout.etypeSize,
      catch: (e) => fail(operation, systemMessage(e), e)
    })

  const all = <A>(effect: Effect.Effect<A, FileError>): Effect.Effect<A, FileError> =>
    // The collective form: every rank's access, then every rank waits for the others, so that a
    // failure on one rank does not leave the others waiting in a later collective.
    Effect.gen(function*() {
      const result = yield* Effect.result(effect)
      const errors = yield* collective(comm.allgather(result._tag === "Failure" ? result.failure.message : null))
      if (result._tag === "Failure") return yield* result.failure
      const other = errors.findIndex((e) => e !== null)
      if (other >= 0) return yield* fail("collective access", `rank ${other} failed: ${errors[other]}`)
      return result.success
    })

  /** A change to the whole file that rank 0 makes once every rank is done with what came before, and every rank waits for. */
  const byRankZero = (change: Effect.Effect<void, FileError>): Effect.Effect<void, FileError> =>
    Effect.andThen(collective(comm.barrier()), all(comm.rank === 0 ? change : Effect.void))

  const moveTo = (operation: string, offset: number, whence: Whence, current: number): Effect.Effect<number, FileError> =>
    Effect.gen(function*() {
      const base = whence === "set" ? 0 : whence === "cur" ? current : yield* endInEtypes()
      const target = base + offset
      if (!Number.isSafeInteger(target) || target < 0) return yield* fail(operation, `the position would be ${target}, before the start of the view`)
      return target
    })

  /** The view offset (in etypes) of the end of the file: the data bytes of the view before the file's end. */
  const endInEtypes = (): Effect.Effect<number, FileError> =>
    Effect.map(io("getSize", () => handle.stat()), (s) => {
      const t = layout.type
      const bytes = Math.max(0, s.size - layout.disp)
      const tiles = Math.floor(bytes / t.extent)
      let data = tiles * t.size
      const rest = bytes - tiles * t.extent
      for (let b = 0; b < t.offsets.length; b++) data += Math.max(0, Math.min(t.lengths[b]!, rest - t.offsets[b]!))
      return Math.floor(data / layout.etypeSize)
    })

  /**
   * Collective accesses in call order: a non-blocking one runs in the
   * background, and every later collective call on this file waits for the
   * ones before it, so that the ranks' collectives meet in the same order
   * (MPI's rule for non-blocking collectives). The slot is taken when the call
   * runs; a non-blocking call also fixes its file ranges then.
   */
  let lastCollective: Effect.Effect<void> = Effect.void
  const reserve = () => {
    const before = lastCollective
    const done = Deferred.makeUnsafe<void>()
    lastCollective = Deferred.await(done)
    return <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
      before.pipe(Effect.andThen(effect), Effect.ensuring(Deferred.succeed(done, undefined)))
  }
  const inOrder = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> => Effect.suspend(() => reserve()(effect))
  const inBackground = <A>(effect: Effect.Effect<A, FileError>) => Effect.suspend(() => Request.fromEffect(reserve()(effect)))

  /**
   * The non-blocking forms: the file ranges are fixed when the call runs (a
   * later setView does not move a started access), the access goes on in the
   * background, and a refusal is the Request's failure. The collective ones
   * keep their place among the file's collective calls.
   */
  const startRead = (operation: string, offset: number, buffer: BufferSpec) =>
    Effect.flatMap(Effect.result(prepareRead(operation, offset, buffer)), (p) =>
      Request.fromEffect(p._tag === "Success" ? readPrepared(operation, p.success) : Effect.fail(p.failure)))
  const startWrite = (operation: string, offset: number, buffer: BufferSpec) =>
    Effect.flatMap(Effect.result(prepareWrite(operation, offset, buffer)), (p) =>
      Request.fromEffect(p._tag === "Success" ? writePieces(operation, p.success.data, p.success.pieces) : Effect.fail(p.failure)))
  const startReadAll = (operation: string, offset: number, buffer: BufferSpec) =>
    Effect.flatMap(Effect.result(prepareRead(operation, offset, buffer)), (p) => inBackground(readCollectiveFrom(operation, p)))
  const startWriteAll = (operation: string, offset: number, buffer: BufferSpec) =>
    Effect.flatMap(Effect.result(prepareWrite(operation, offset, buffer)), (p) => inBackground(writeCollectiveFrom(operation, p)))
  /** The individual pointer, moved now by what `buffer` holds (MPI's rule for the non-blocking forms); where it was. */
  const advance = (operation: string, buffer: BufferSpec) =>
    Effect.map(elementsOf(operation, buffer), (n) => {
      const at = position
      position += n
      return at
    })

  const file: Closable = {
    path,
    close: (locally = false) =>
      inOrder(Effect.gen(function*() {
        if (closed) return
        if (locally) {
          closed = true
          return yield* io("close", () => handle.close())
        }
        // Every rank's writes are done (they completed before its free's barrier): no fsync needed for
        // the others to see them; `sync()` is the explicit flush to the device.
        yield* pointer.free().pipe(Effect.mapError(pointerError("close")))
        closed = true
        yield* io("close", () => handle.close())
        if (flags.deleteOnClose) {
          yield* collective(comm.barrier())
          if (comm.rank === 0) yield* io("delete", () => unlink(path))
        }
      })),
    getSize: () => Effect.map(io("getSize", () => handle.stat()), (s) => s.size),
    setSize: (bytes) =>
      Effect.gen(function*() {
        if (!Number.isSafeInteger(bytes) || bytes < 0) return yield* fail("setSize", `size must be a non-negative integer, got ${bytes}`)
        yield* inOrder(byRankZero(io("setSize", () => handle.truncate(bytes))))
      }),
    preallocate: (bytes) =>
      Effect.gen(function*() {
        if (!Number.isSafeInteger(bytes) || bytes < 0) return yield* fail("preallocate", `size must be a non-negative integer, got ${bytes}`)
        const grow = io("preallocate", async () => {
          if ((await handle.stat()).size < bytes) await handle.truncate(bytes)
        })
        yield* inOrder(byRankZero(grow))
      }),
    sync: () => inOrder(all(io("sync", () => handle.sync()))),
    getAmode: () => ({ mode, ...flags }),
    getGroup: () => comm.group,
    getAtomicity: () => atomicity,
    setAtomicity: (flag) =>
      Effect.map(inOrder(all(Effect.void)), () => {
        atomicity = flag
      }),

    setView: (disp, etype, filetype = etype) =>
      inOrder(Effect.andThen(
        all(Effect.suspend(() => {
          if (!Number.isSafeInteger(disp) || disp < 0) return Effect.fail(fail("setView", `disp must be a non-negative integer, got ${disp}`))
          const next = layoutOf(disp, etype, filetype)
          if (typeof next === "string") return Effect.fail(fail("setView", next))
          layout = next
          view = { disp, etype, filetype }
          position = 0
          return Effect.void
        })),
        setShared(() => 0)
      )),
    getView: () => view,
    getByteOffset: (offset) => ranges(layout, offset * layout.etypeSize, 1)[0]![0],

    readAt: (offset, buffer) => readData("readAt", offset, buffer),
    writeAt: (offset, buffer) => writeData("writeAt", offset, buffer),
    readAtAll: (offset, buffer) => inOrder(readCollective("readAtAll", offset, buffer)),
    writeAtAll: (offset, buffer) => inOrder(writeCollective("writeAtAll", offset, buffer)),
    ireadAt: (offset, buffer) => startRead("ireadAt", offset, buffer),
    iwriteAt: (offset, buffer) => startWrite("iwriteAt", offset, buffer),
    ireadAtAll: (offset, buffer) => startReadAll("ireadAtAll", offset, buffer),
    iwriteAtAll: (offset, buffer) => startWriteAll("iwriteAtAll", offset, buffer),

    seek: (offset, whence = "set") => Effect.map(moveTo("seek", offset, whence, position), (p) => {
      position = p
    }),
    getPosition: () => position,
    read: (buffer) => Effect.tap(readData("read", position, buffer), (n) => Effect.sync(() => (position += n))),
    write: (buffer) => Effect.tap(writeData("write", position, buffer), (n) => Effect.sync(() => (position += n))),
    readAll: (buffer) => inOrder(Effect.suspend(() => Effect.tap(readCollective("readAll", position, buffer), (n) => Effect.sync(() => (position += n))))),
    writeAll: (buffer) => inOrder(Effect.suspend(() => Effect.tap(writeCollective("writeAll", position, buffer), (n) => Effect.sync(() => (position += n))))),
    ireadAll: (buffer) => Effect.flatMap(advance("ireadAll", buffer), (at) => startReadAll("ireadAll", at, buffer)),
    iwriteAll: (buffer) => Effect.flatMap(advance("iwriteAll", buffer), (at) => startWriteAll("iwriteAll", at, buffer)),
    iread: (buffer) => Effect.flatMap(advance("iread", buffer), (at) => startRead("iread", at, buffer)),
    iwrite: (buffer) => Effect.flatMap(advance("iwrite", buffer), (at) => startWrite("iwrite", at, buffer)),

    readShared: (buffer) =>
      Effect.gen(function*() {
        const n = yield* elementsOf("readShared", buffer)
        return yield* readData("readShared", yield* takeShared("readShared", n), buffer)
      }),
    writeShared: (buffer) =>
      Effect.gen(function*() {
        const n = yield* elementsOf("writeShared", buffer)
        return yield* writeData("writeShared", yield* takeShared("writeShared", n), buffer)
      }),
    // The shared pointer moves when the call runs; the access goes on in the background.
    ireadShared: (buffer) =>
      Effect.flatMap(Effect.flatMap(elementsOf("ireadShared", buffer), (n) => takeShared("ireadShared", n)), (at) => startRead("ireadShared", at, buffer)),
    iwriteShared: (buffer) =>
      Effect.flatMap(Effect.flatMap(elementsOf("iwriteShared", buffer), (n) => takeShared("iwriteShared", n)), (at) => startWrite("iwriteShared", at, buffer)),
    readOrdered: (buffer) => inOrder(ordered("readOrdered", buffer, readData)),
    writeOrdered: (buffer) => inOrder(ordered("writeOrdered", buffer, writeData)),
    seekShared: (offset, whence = "set") =>
      inOrder(Effect.gen(function*() {
        const agreed = yield* collective(comm.allgather([offset, whence] as const))
        if (agreed.some(([o, w]) => o !== offset || w !== whence)) {
          return yield* fail("seekShared", `the ranks gave different positions: ${agreed.map(([o, w]) => `${o} from ${w}`).join(", ")}`)
        }
        const end = whence === "end" ? yield* endInEtypes() : 0
        const target = (current: number) => (whence === "set" ? 0 : whence === "cur" ? current : end) + offset
        let bad: number | undefined
        yield* setShared((current) => {
          const next = target(current)
          if (!Number.isSafeInteger(next) || next < 0) {
            bad = next
            return current
          }
          return next
        })
        if (bad !== undefined) return yield* fail("seekShared", `the position would be ${bad}, before the start of the view`)
      })),
    getPositionShared: () => takeShared("getPositionShared", 0)
  }

  /** Each rank's access as [pieces, first byte, end byte], for the two-phase decision and its file domains. */
  type Shape = readonly [number, number, number] | null
  const shapeOf = (pieces: ReadonlyArray<readonly [number, number]>): Shape => {
    const first = pieces[0]
    const last = pieces[pieces.length - 1]
    return [pieces.length, first?.[0] ?? 0, last === undefined ? 0 : last[0] + last[1]]
  }

  /**
   * A collective access's first step: every rank's shape; a rank whose part
   * could not even start (a bad buffer, a closed file) fails it on every rank.
   */
  const agree = <P extends { readonly pieces: ReadonlyArray<readonly [number, number]> }>(operation: string, prepared: Result.Result<P, FileError>) =>
    Effect.gen(function*() {
      const mine = prepared._tag === "Success" ? prepared.success : undefined
      const shapes = yield* collective(comm.allgather(mine === undefined ? null : shapeOf(mine.pieces)))
      if (prepared._tag === "Failure") return yield* all(Effect.fail(prepared.failure))
      const bad = shapes.indexOf(null)
      if (bad >= 0) return yield* all(Effect.fail(fail(operation, `rank ${bad} could not start its part`)))
      return { mine: mine!, shapes }
    })

  /**
   * Two-phase I/O's first step: the file range that the ranks' accesses span
   * is split evenly into one contiguous domain per rank (the aggregators), this
   * rank's pieces are cut at domain boundaries, and every aggregator learns
   * which pieces of its domain each rank accesses (`maps[r]`: positions and
   * lengths from rank r). The pieces come in file order (setView requires it,
   * as MPI does), so each domain's bytes are one stretch of this rank's data:
   * `sendCounts`/`sendDispls` give the stretches, in bytes.
   */
  const exchangeMaps = (shapes: ReadonlyArray<Shape>, pieces: ReadonlyArray<readonly [number, number]>) =>
    Effect.gen(function*() {
      let low = Infinity
      let high = -Infinity
      for (const s of shapes) if (s![0] > 0) {
        low = Math.min(low, s![1])
        high = Math.max(high, s![2])
      }
      const span = Math.ceil((high - low) / comm.size / 4096) * 4096 || 4096
      const domainOf = (p: number) => Math.min(comm.size - 1, Math.floor((p - low) / span))
      const positions: Array<Array<number>> = Array.from({ length: comm.size }, () => [])
      const lengths: Array<Array<number>> = Array.from({ length: comm.size }, () => [])
      const sendCounts = new Array<number>(comm.size).fill(0)
      const sendDispls = new Array<number>(comm.size).fill(-1)
      let from = 0
      for (const [pos, length] of pieces) {
        let p = pos
        let left = length
        while (left > 0) {
          const domain = domainOf(p)
          const end = domain === comm.size - 1 ? Infinity : low + (domain + 1) * span
          const take = Math.min(left, end - p)
          if (sendDispls[domain] === -1) sendDispls[domain] = from
          positions[domain]!.push(p)
          lengths[domain]!.push(take)
          sendCounts[domain]! += take
          p += take
          from += take
          left -= take
        }
      }
      for (let d = 0; d < comm.size; d++) if (sendDispls[d] === -1) sendDispls[d] = 0
      const maps = yield* collective(comm.alltoall(positions.map((ps, d) => [Float64Array.from(ps), Float64Array.from(lengths[d]!)] as const)))
      return { sendCounts, sendDispls, maps }
    })

  /** An aggregator's domain: every rank's pieces as [position, length, offset in the ranks' data in rank order], sorted by position. */
  const piecesOfDomain = (maps: ReadonlyArray<readonly [Float64Array, Float64Array]>) => {
    const domainPieces: Array<readonly [number, number, number]> = []
    let offsetIn = 0
    for (const [ps, ls] of maps) {
      for (let i = 0; i < ps.length; i++) {
        domainPieces.push([ps[i]!, ls[i]!, offsetIn])
        offsetIn += ls[i]!
      }
    }
    return domainPieces.sort((x, y) => x[0] - y[0])
  }

  /**
   * A collective read (two-phase I/O, the mirror of `writeCollective`): where
   * the ranks' accesses are fragmented, each aggregator reads the stretches of
   * its domain that anyone wants in a few large reads (pieces less than
   * `SIEVE_GAP` apart are read as one, gap included: data sieving), and the
   * pieces travel to the ranks that want them in one buffer exchange. Where
   * every rank's access is one piece, each reads its own. A read that reaches
   * the end of the file returns fewer etypes, as an independent read does.
   */
  const readCollective = (operation: string, offset: number, buffer: BufferSpec): Effect.Effect<number, FileError> =>
    Effect.flatMap(Effect.result(prepareRead(operation, offset, buffer)), (prepared) => readCollectiveFrom(operation, prepared))

  const readCollectiveFrom = (operation: string, prepared: Result.Result<Effect.Success<ReturnType<typeof prepareRead>>, FileError>): Effect.Effect<number, FileError> =>
    Effect.gen(function*() {
      const { mine, shapes } = yield* agree(operation, prepared)
      if (shapes.every((s) => s![0] <= 1)) return yield* all(readPrepared(operation, mine))
      const { target, pieces } = mine
      const { sendCounts: wantCounts, sendDispls: wantDispls, maps } = yield* exchangeMaps(shapes, pieces)
      // This rank as an aggregator: read what the ranks want of its domain, laid out in rank order.
      const domainPieces = piecesOfDomain(maps)
      const outgoing = Scratch.borrow(UINT8, domainPieces.reduce((n, [, length]) => n + length, 0)) as Uint8Array
      const read = yield* Effect.result(io(operation, async () => {
        let i = 0
        while (i < domainPieces.length) {
          const start = domainPieces[i]![0]
          let end = start + domainPieces[i]![1]
          let j = i + 1
          while (j < domainPieces.length && domainPieces[j]![0] - end <= SIEVE_GAP && domainPieces[j]![0] + domainPieces[j]![1] - start <= SIEVE_LIMIT) {
            end = Math.max(end, domainPieces[j]![0] + domainPieces[j]![1])
            j++
          }
          const stretch = Scratch.borrow(UINT8, end - start) as Uint8Array
          let got = 0
          while (got < stretch.byteLength) {
            const { bytesRead } = await handle.read(stretch, got, stretch.byteLength - got, start + got)
            if (bytesRead === 0) break // the end of the file: the rest reads as zeros (and is not counted, below)
            got += bytesRead
          }
          stretch.fill(0, got)
          for (; i < j; i++) {
            const [pos, length, into] = domainPieces[i]!
            outgoing.set(stretch.subarray(pos - start, pos - start + length), into)
          }
          Scratch.giveBack(stretch)
        }
      }))
      // The bytes back to the ranks that want them, into this rank's packed buffer in data order.
      const sendCounts = maps.map(([, ls]) => ls.reduce((a, b) => a + b, 0))
      yield* collective(comm.alltoallv(outgoing, { sendCounts, recvCounts: wantCounts, recvDispls: wantDispls, into: target.bytes }))
      Scratch.giveBack(outgoing)
      if (read._tag === "Failure") return yield* all(Effect.fail(read.failure))
      return yield* all(io(operation, async () => {
        // Where the file ends, the read ends, as an independent read's does.
        const size = (await handle.stat()).size
        let got = 0
        for (const [pos, length] of pieces) {
          const here = Math.max(0, Math.min(length, size - pos))
          got += here
          if (here < length) break
        }
        const whole = got - (got % layout.etypeSize)
        scatter(target, whole)
        return whole / layout.etypeSize
      }))
    })

  /**
   * A collective write (two-phase I/O, as ROMIO does it): where the ranks'
   * accesses are fragmented (a subarray view makes one piece per row), the
   * pieces travel to aggregators that each own one contiguous file domain and
   * write it in a few large calls, instead of every rank making one call per
   * piece. Where every rank's access is one piece, each writes its own.
   */
  const writeCollective = (operation: string, offset: number, buffer: BufferSpec): Effect.Effect<number, FileError> =>
    Effect.flatMap(Effect.result(prepareWrite(operation, offset, buffer)), (prepared) => writeCollectiveFrom(operation, prepared))

  const writeCollectiveFrom = (operation: string, prepared: Result.Result<Effect.Success<ReturnType<typeof prepareWrite>>, FileError>): Effect.Effect<number, FileError> =>
    Effect.gen(function*() {
      const { mine, shapes } = yield* agree(operation, prepared)
      const { data, pieces } = mine
      const written = data.byteLength / layout.etypeSize
      if (shapes.every((s) => s![0] <= 1)) return yield* all(writePieces(operation, data, pieces))

      const { sendCounts, sendDispls, maps } = yield* exchangeMaps(shapes, pieces)
      const recvCounts = maps.map(([, ls]) => ls.reduce((a, b) => a + b, 0))
      // Into a reused private buffer: a fresh one of this size costs its page faults on every call.
      const scratch = Scratch.borrow(UINT8, recvCounts.reduce((a, b) => a + b, 0)) as Uint8Array
      const received = yield* collective(comm.alltoallv(data, { sendCounts, sendDispls, recvCounts, into: scratch }))
      const domainPieces = piecesOfDomain(maps)
      return yield* all(Effect.as(Effect.ensuring(io(operation, async () => {
        let i = 0
        while (i < domainPieces.length) {
          const start = domainPieces[i]![0]
          const parts: Array<Uint8Array> = []
          let end = start
          while (i < domainPieces.length && domainPieces[i]![0] === end && parts.length < 1024) {
            const [, length, from] = domainPieces[i]!
            parts.push(received.subarray(from, from + length))
            end += length
            i++
          }
          await handle.writev(parts, start)
        }
      }), Effect.sync(() => Scratch.giveBack(scratch))), written))
    })

  /** Each rank's data after the data of the ranks before it, from the shared pointer, which then moves past all of it. */
  const ordered = (
    operation: string, buffer: BufferSpec, access: (operation: string, offset: number, buffer: BufferSpec) => Effect.Effect<number, FileError>
  ): Effect.Effect<number, FileError> =>
    Effect.gen(function*() {
      const mine = yield* Effect.result(elementsOf(operation, buffer))
      const counts = yield* collective(comm.allgather(mine._tag === "Success" ? mine.success : -1))
      if (mine._tag === "Failure") return yield* all(Effect.fail(mine.failure))
      if (counts.includes(-1)) return yield* all(Effect.fail(fail(operation, `rank ${counts.indexOf(-1)} gave a buffer it cannot use`)))
      let before = 0
      for (let r = 0; r < comm.rank; r++) before += counts[r]!
      const start = yield* setShared((current) => current + counts.reduce((a, b) => a + b, 0))
      return yield* all(access(operation, start + before, buffer))
    })

  // Traced runs (--trace) show each call on the file as a span.
  return spanMethods(file, stateOf(comm)?.engine.rank ?? comm.rank, `file ${path}`, "file")
}

