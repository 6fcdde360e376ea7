/**
 * Parallel files on shm and NATS, on 1, 2, 3, 4 and 8 ranks: each test runs a
 * rank program from test/programs/io.ts that checks its rule on every rank,
 * on files in a fresh directory.
 */
import { describe, it } from "@effect/vitest"
import { mkdirSync, mkdtempSync, readdirSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, expect } from "vitest"
import { program, TRANSPORTS, useWorlds } from "../support/worlds.ts"

const SIZES = [1, 2, 3, 4, 8] as const
const cases = TRANSPORTS.flatMap((transport) => SIZES.map((size) => [transport, size] as const))
const dir = mkdtempSync(join(tmpdir(), "rankflow-io-"))
for (const transport of TRANSPORTS) mkdirSync(join(dir, transport))

describe.each(cases)("parallel files on %s, %i ranks", (transport, size) => {
  const worlds = useWorlds({ transport })
  const run = (name: string) => worlds.run(size, program("io.ts", name, `${dir}/${transport}`))

  it.effect("explicit offsets: writeAt/readAt, their All and i forms, sizes and the open mode", () => run("explicitOffsets"))
  it.effect("individual file pointers: seek, write, read, writeAll, readAll", () => run("individualPointers"))
  it.effect("ordered access through the shared pointer: writeOrdered, seekShared, readOrdered", () => run("ordered"))
  it.effect("the shared pointer's independent forms: writeShared never interleaves, readShared hands out each element once", () => run("sharedPointer"))
  it.effect("non-blocking collective and shared-pointer forms: ireadAtAll/iwriteAtAll outstanding together, ireadAll/iwriteAll, ireadShared/iwriteShared", () =>
    run("nonBlocking"))
  it.effect("indexed and contiguous filetypes: interleaved pairs per rank, read back in blocks", () => run("indexedViews"))
  it.effect("views: a subarray block per rank of a global array, vector filetypes, derived buffers", () => run("views"))
  it.effect("setSize, preallocate, atomicity, and sync-barrier-sync consistency", () => run("sizesAndConsistency"))
  it.effect("errors are FileErrors naming the operation, and the file stays usable", () => run("errors"))
})

afterAll(() => {
  // deleteOnClose and File.remove leave nothing behind.
  for (const sub of ["shm", "nats"]) {
    expect(readdirSync(join(dir, sub))).toStrictEqual([])
  }
})
