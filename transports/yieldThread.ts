/**
 * `sched_yield(2)` for a spinning rank: the thread stays runnable but lets
 * another runnable thread on its core go first. Used on shared memory where
 * ranks outnumber cores, by a rank waiting in a collective (see
 * `DEFAULT_YIELDING_SPIN_MICROS` in shm/Layout.ts), and by a NATS rank at each
 * turn of the event loop it keeps polling while a receive waits (`pollMicros`):
 * the server its message just woke gets the core at once. Open MPI's ranks
 * spin the same way when oversubscribed. JavaScript has no
 * such call; WASI does (`sched_yield`, which Node's uvwasi passes to the
 * kernel), so a six-instruction WebAssembly module imports it. About 0.2 µs
 * per call when nothing else waits for the core.
 *
 * Where WASI is missing the yield does nothing (a plain spin).
 */
import { createRequire } from "node:module"

/** A WebAssembly module: `yield()` calls WASI's `sched_yield` and returns its errno. */
const MODULE = (): Uint8Array => {
  const name = (s: string): Array<number> => [s.length, ...new TextEncoder().encode(s)]
  const section = (id: number, body: Array<number>): Array<number> => [id, body.length, ...body]
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 0, 1, 0x7f]), // type 0: () -> i32
    ...section(2, [1, ...name("wasi_snapshot_preview1"), ...name("sched_yield"), 0x00, 0]),
    ...section(3, [1, 0]), // function 1 has type 0
    ...section(5, [1, 0x00, 1]), // one page of memory (WASI wants one exported)
    ...section(7, [2, ...name("memory"), 0x02, 0, ...name("yield"), 0x00, 1]),
    ...section(10, [1, 4, 0, 0x10, 0, 0x0b]) // body: call 0; end
  ])
}

const load = (): (() => void) => {
  try {
    // Node flags WASI experimental with a warning when it loads; this use is one syscall, not WASI's file system.
    const emit = process.emitWarning
    let wasi: import("node:wasi").WASI
    process.emitWarning = (() => {}) as typeof process.emitWarning
    try {
      const { WASI } = createRequire(import.meta.url)("node:wasi") as typeof import("node:wasi")
      wasi = new WASI({ version: "preview1" })
    } finally {
      process.emitWarning = emit
    }
    const instance = new WebAssembly.Instance(new WebAssembly.Module(MODULE() as Uint8Array<ArrayBuffer>), wasi.getImportObject() as WebAssembly.Imports)
    wasi.initialize(instance)
    const call = instance.exports["yield"] as () => number
    call()
    return () => {
      call()
    }
  } catch {
    return () => {}
  }
}

let loaded: (() => void) | undefined

/** Yields the thread's core to another runnable thread, if any (see above). */
export const yieldThread = (): void => (loaded ??= load())()
