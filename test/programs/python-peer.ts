// The TypeScript ranks of a job whose last rank is Python (interop/python/demo_rank.py).
import { Effect } from "effect"
import { Comm, Rank } from "rankflow"

Rank.main(Effect.gen(function*() {
  const world = yield* Comm.World
  const python = world.size - 1
  if (world.rank === 0) {
    yield* world.send({ greeting: "hello from rank 0", keys: new Map<unknown, unknown>([[1, "int"], ["1", "str"]]), big: 2n ** 64n }, { dest: python, tag: 1, codec: "cbor" })
    const echo = yield* world.recv<{ echo: string; keys: Map<unknown, unknown>; big: bigint; from: number }>({ source: python, tag: 2 })
    const sent = Float64Array.from({ length: 400_000 }, (_, i) => i * 0.5)
    yield* world.send(sent, { dest: python, tag: 3 })
    const doubled = yield* world.recv<Float64Array>({ source: python, tag: 4 })
    const rawOk = doubled.length === sent.length && doubled.every((x, i) => x === sent[i]! * 2)
    yield* world.ssend("sync from rank 0", { dest: python, tag: 5, codec: "cbor" })
    const sync = yield* world.recv<string>({ source: python, tag: 6 })
    yield* Effect.log(`rank 0: echo ${echo.echo}, keys ${JSON.stringify([...echo.keys])}, big ${echo.big}, raw ${rawOk ? "doubled" : "WRONG"}, ${sync}`)
  }
  if (world.rank === 1) {
    const asked = yield* world.recv<{ to: number; n: Array<number> }>({ source: python, tag: 7 })
    yield* world.send({ sum: asked.n.reduce((a, b) => a + b, 0), to: asked.to }, { dest: python, tag: 8, codec: "cbor" })
  }
  yield* world.barrier()
  yield* world.bcast({ round: 1, ranks: world.size }, { root: 0, codec: "cbor" })
  const fromPython = yield* world.bcast<{ "from python": boolean; reply: unknown } | undefined>(undefined, { root: python })
  yield* Effect.log(`rank ${world.rank}: python broadcast ${JSON.stringify(fromPython)}`)
}))
