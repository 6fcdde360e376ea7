/**
 * GPU-aware communication: GPU arrays passed to allreduce, reduce, bcast,
 * gather, allgather, send and recvInto give GPU arrays equal to the host
 * collectives' results, on 1, 2 and 4 ranks, on shm and on NATS. Arrays of
 * 1.2 M floats span two 4 MiB chunks.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program, TRANSPORTS, useWorlds } from "../support/worlds.ts"

const cases = TRANSPORTS.flatMap((t) => [1, 2, 4].map((size) => [t, size] as const))

describe.each(cases)("GPU arrays through the communicator on %s, %i ranks", (transport, size) => {
  const worlds = useWorlds({ transport })
  for (const n of [1, 1001]) {
    it.effect(`collectives of ${n}-element GPU arrays equal the host collectives`, () =>
      Effect.map(worlds.run(size, program("gpu.ts", "collectives", n)), (r) => expect(r).toEqual(new Array(size).fill("ok"))), 120_000)
  }
  it.effect("a GPU array of 1.2 M floats (two chunks) goes around a ring of sends and receives", () =>
    Effect.map(worlds.run(size, program("gpu.ts", "ring", 1_200_001)), (r) => expect(r).toEqual(new Array(size).fill("ok"))), 120_000)
  // Two chunks per array through every collective: on shm (the NATS worlds carry two chunks in the ring above).
  if (size === 4 && transport === "shm") {
    it.effect("large GPU collectives (two chunks per array) equal the host collectives", () =>
      Effect.map(worlds.run(size, program("gpu.ts", "collectives", 1_200_001)), (r) => expect(r).toEqual(new Array(size).fill("ok"))), 240_000)
  }
  if (size >= 2) {
    it.effect("a GPU receive into an array of the wrong length fails with Truncated and loses nothing else", () =>
      Effect.map(worlds.run(size, program("gpu.ts", "mismatch")), (r) => expect(r.slice(0, 2)).toEqual(["sent", "refused"])), 120_000)
  }
  it.effect("a pipeline stage with gpu: true runs on the GPUs of the ranks hosting its replicas", () =>
    Effect.map(worlds.run(size, program("gpu.ts", "pipelineStage", 40)), (r) => expect(r).toEqual(new Array(size).fill("ok"))), 120_000)
  it.effect("a GPU stage on ranks without Gpu.layer() fails with StageFailed naming the stage and what to provide", () =>
    Effect.map(worlds.run(size, program("gpu.ts", "pipelineWithoutDevice")), (r) => expect(r).toEqual(new Array(size).fill("refused"))), 120_000)
  it.effect("a reduction with an op that has no GPU kernel fails on every rank with an InvalidArgument", () =>
    Effect.map(worlds.run(size, program("gpu.ts", "customOp")), (r) => expect(r).toEqual(new Array(size).fill("refused"))), 120_000)
})
