/**
 * Binding shm ranks to cores (`ShmOptions.bindTo`, `--bind-to`): which cores
 * each rank gets by default and when asked, the errors a binding that
 * cannot be made gives, and real threads bound (Linux with taskset).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { availableParallelism } from "node:os"
import * as World from "../../core/launching/World.ts"
import { allowedCpus, Binder, bindable, parseCpuList, processBinder, threadId } from "../../transports/cpuBinding.ts"
import { registrationOf } from "../../transports/registry.ts"
import { bindingFor } from "../../transports/shm/Layout.ts"
import { program } from "../support/worlds.ts"

describe("which cores a rank is bound to", () => {
  it("by default, ranks that fit the cores get cores of their own (rank r: r, r+N, …); more ranks than cores, or one rank, are not bound", () => {
    expect(bindingFor(2, {}, [0, 1], () => true)).toEqual([[0], [1]])
    expect(bindingFor(2, {}, [0, 1, 2, 3, 4], () => true)).toEqual([[0, 2, 4], [1, 3]])
    expect(bindingFor(3, {}, [4, 5, 6, 7, 8, 9], () => true)).toEqual([[4, 7], [5, 8], [6, 9]])
    expect(bindingFor(4, {}, [0, 1], () => true)).toBeUndefined()
    expect(bindingFor(1, {}, [0, 1], () => true)).toBeUndefined()
    // Where threads cannot be bound, the default is quietly none.
    expect(bindingFor(2, {}, [0, 1], () => false)).toBeUndefined()
    expect(bindingFor(2, {}, undefined, () => true)).toBeUndefined()
  })

  it('"core" given binds ranks that outnumber the cores round-robin, one core each; "none" binds nothing', () => {
    expect(bindingFor(5, { bindTo: "core" }, [0, 1], () => true)).toEqual([[0], [1], [0], [1], [0]])
    expect(bindingFor(2, { bindTo: "none" }, [0, 1], () => true)).toBeUndefined()
    expect(bindingFor(2, { bindTo: "none" }, undefined, () => false)).toBeUndefined()
    // Whether threads can be bound (which may start a process) is asked only where a binding is wanted.
    let asked = 0
    const ask = () => (asked++, true)
    bindingFor(2, { bindTo: "none" }, [0, 1], ask)
    bindingFor(4, {}, [0, 1], ask)
    expect(asked).toBe(0)
    bindingFor(2, {}, [0, 1], ask)
    expect(asked).toBe(1)
  })

  it("a binding that cannot be made, or a value that is not one, is refused with a RangeError saying what to do", () => {
    expect(() => bindingFor(2, { bindTo: "core" }, [0, 1], () => false)).toThrow(/needs Linux with taskset.*use "none"/)
    expect(() => bindingFor(2, { bindTo: "socket" as "core" }, [0, 1], () => true)).toThrow(/bindTo must be "core" or "none", got "socket"/)
  })

  it("reads Linux CPU lists, and refuses what is not one", () => {
    expect(parseCpuList("0-3,8,10-11\n")).toEqual([0, 1, 2, 3, 8, 10, 11])
    expect(parseCpuList("5")).toEqual([5])
    expect(parseCpuList("3-1")).toBeUndefined()
    expect(parseCpuList("a")).toBeUndefined()
    expect(parseCpuList("")).toBeUndefined()
  })

  it("rankflow run --bind-to reaches the shm options", async () => {
    expect(await registrationOf("shm")!.optionsFromFlags({ "bind-to": "none" })).toEqual({ bindTo: "none" })
    expect(await registrationOf("shm")!.optionsFromFlags({})).toEqual({})
  })
})

describe("a Binder", () => {
  it.skipIf(!bindable())("binds a thread by its id, answers false for a thread that is not there, and false for everything once closed", async () => {
    const binder = new Binder()
    const me = threadId()!
    const cores = allowedCpus()!
    try {
      expect(await binder.bind(me, cores)).toBe(true)
      expect(await binder.bind(2 ** 22 + 12345, cores)).toBe(false)
      expect(await binder.bind(me, [])).toBe(false)
    } finally {
      binder.close()
    }
    expect(await binder.bind(me, cores)).toBe(false)
    expect(allowedCpus()).toEqual(cores)
  })
})

describe("a Binder whose shell cannot start", () => {
  it("answers false to every bind and says it is broken, so that ranks run on unbound (a fork of a large process can fail with ENOMEM)", async () => {
    const binder = new Binder(() => {
      throw Object.assign(new Error("spawn ENOMEM"), { code: "ENOMEM" })
    })
    expect(() => binder.open()).not.toThrow()
    expect(binder.broken).toBe(true)
    expect(await binder.bind(threadId() ?? 1, [0])).toBe(false)
    // The process's binder serves every job, and is replaced once it broke.
    const shared = processBinder()
    expect(processBinder()).toBe(shared)
    shared.close()
    expect(processBinder()).not.toBe(shared)
  })
})

describe("bound rank threads", () => {
  const cores = allowedCpus()
  const size = Math.min(2, availableParallelism())
  const run = (bindTo?: "core" | "none") =>
    World.run<ReadonlyArray<number>>(program("affinity.ts", "cpus"), {
      size,
      prefixOutput: false,
      transportOptions: bindTo === undefined ? {} : { bindTo }
    })

  it.effect.skipIf(!bindable() || size !== 2)("by default each of two ranks runs on its own cores, and the ranks still talk", () =>
    Effect.gen(function*() {
      const got = yield* run()
      expect(got).toEqual(bindingFor(2, {}, cores, () => true))
      expect(got[0]!.some((c) => got[1]!.includes(c))).toBe(false)
      // The launching thread keeps every core it had.
      expect(allowedCpus()).toEqual(cores)
    }), 60_000)

  it.effect.skipIf(cores === undefined)('with "none" every rank keeps the cores of the process', () =>
    Effect.gen(function*() {
      expect(yield* run("none")).toEqual(Array.from({ length: size }, () => cores))
    }), 60_000)

  it.effect.skipIf(bindable())('where threads cannot be bound, "core" fails the launch with a TransportError naming the option', () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(run("core"))
      expect(String((error as Error).message)).toMatch(/bindTo "core" needs Linux with taskset/)
    }), 60_000)
})
