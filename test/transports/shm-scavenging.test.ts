/**
 * V8's parallel scavenging while shm ranks fill the cores (`Scavenging.ts`,
 * `ShmOptions.parallelScavenge`): which jobs turn it off, that the switch
 * counts the jobs holding it and leaves a process's own flag alone, and
 * that a job holds it exactly while it runs.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { availableParallelism } from "node:os"
import * as World from "../../core/launching/World.ts"
import { ScavengingSwitch, serialScavenging, wantsSerialScavenging } from "../../transports/shm/Scavenging.ts"
import { program } from "../support/worlds.ts"

describe("which jobs scavenge serially", () => {
  it("by default those whose ranks fill or outnumber the cores; parallelScavenge given decides", () => {
    expect(wantsSerialScavenging(undefined, 2, 2)).toBe(true)
    expect(wantsSerialScavenging(undefined, 8, 2)).toBe(true)
    expect(wantsSerialScavenging(undefined, 2, 4)).toBe(false)
    expect(wantsSerialScavenging(undefined, 1, 2)).toBe(false)
    expect(wantsSerialScavenging(true, 8, 2)).toBe(false)
    expect(wantsSerialScavenging(false, 1, 16)).toBe(true)
  })
})

describe("the switch", () => {
  it("turns parallel scavenging off for the first holder and on again after the last release (each release counts once)", () => {
    const set: Array<string> = []
    const sw = new ScavengingSwitch((f) => set.push(f), [])
    const a = sw.hold()
    const b = sw.hold()
    expect(set).toEqual(["--no-parallel-scavenge"])
    expect(sw.held).toBe(2)
    a()
    a()
    expect(set).toEqual(["--no-parallel-scavenge"])
    expect(sw.held).toBe(1)
    b()
    expect(set).toEqual(["--no-parallel-scavenge", "--parallel-scavenge"])
    expect(sw.held).toBe(0)
    sw.hold()()
    expect(set).toEqual(["--no-parallel-scavenge", "--parallel-scavenge", "--no-parallel-scavenge", "--parallel-scavenge"])
  })

  it("a runtime that refuses the flag leaves scavenging alone from then on, and the job still runs", () => {
    let calls = 0
    const sw = new ScavengingSwitch(() => {
      calls++
      throw new Error("flags are frozen")
    }, [])
    expect(() => sw.hold()()).not.toThrow()
    sw.hold()()
    expect(calls).toBe(1)
  })

  it("never touches a process started with a scavenging flag of its own", () => {
    for (const own of ["--parallel-scavenge", "--no-parallel-scavenge", "--single-threaded-gc", "--single_threaded"]) {
      const set: Array<string> = []
      const sw = new ScavengingSwitch((f) => set.push(f), ["--enable-source-maps", own])
      sw.hold()()
      expect(set).toEqual([])
    }
  })
})

describe("an shm job", () => {
  const cores = availableParallelism()
  const hello = program("affinity.ts", "cpus")

  it.effect("given parallelScavenge: false holds the switch while it runs, and lets go when it ends; two such jobs at once hold it twice", () =>
    Effect.gen(function*() {
      const before = serialScavenging.held
      const serial = { prefixOutput: false, transportOptions: { parallelScavenge: false } }
      yield* Effect.scoped(Effect.gen(function*() {
        // A world starts its ranks at its first run, and keeps them until its scope closes.
        const world = yield* World.make({ size: 2, ...serial })
        yield* world.run(hello)
        expect(serialScavenging.held).toBe(before + 1)
        yield* Effect.scoped(Effect.gen(function*() {
          const other = yield* World.make({ size: 2, ...serial })
          yield* other.run(hello)
          expect(serialScavenging.held).toBe(before + 2)
        }))
        expect(serialScavenging.held).toBe(before + 1)
      }))
      expect(serialScavenging.held).toBe(before)
    }))

  // As many ranks as cores: skipped where that would start more threads than a test should.
  it.effect.skipIf(cores > 8)("by default, one whose ranks fill the cores holds it", () =>
    Effect.gen(function*() {
      const before = serialScavenging.held
      yield* Effect.scoped(Effect.gen(function*() {
        const world = yield* World.make({ size: cores, prefixOutput: false })
        yield* world.run(hello)
        expect(serialScavenging.held).toBe(before + 1)
      }))
      expect(serialScavenging.held).toBe(before)
    }))

  it.effect("given parallelScavenge: true, or leaving a core free, does not hold it", () =>
    Effect.gen(function*() {
      const before = serialScavenging.held
      yield* Effect.scoped(Effect.gen(function*() {
        const world = yield* World.make({ size: 2, prefixOutput: false, transportOptions: { parallelScavenge: true } })
        yield* world.run(hello)
        expect(serialScavenging.held).toBe(before)
      }))
      if (cores > 1) {
        yield* Effect.scoped(Effect.gen(function*() {
          const world = yield* World.make({ size: 1, prefixOutput: false })
          yield* world.run(hello)
          expect(serialScavenging.held).toBe(before)
        }))
      }
    }))
})
