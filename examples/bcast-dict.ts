// Broadcasting a Python-style dictionary (mpi4py tutorial, third example):
// rank 0 builds it, bcast gives every rank a copy. Instances of a class of
// your own travel once it is registered with pickle (on every rank).
// Run: npx rankflow run -n 4 examples/bcast-dict.ts
import { Effect } from "effect"
import { Comm, Rank } from "rankflow"
import { registerClass } from "rankflow/codecs"

class Complex {
  readonly re: number
  readonly im: number
  constructor(re: number, im: number) {
    this.re = re
    this.im = im
  }
  toString() {
    return `(${this.re}+${this.im}j)`
  }
}
registerClass(Complex, { name: "Complex" })

Rank.main(Effect.gen(function*() {
  const world = yield* Comm.World

  const data = world.rank === 0
    ? { key1: [7, 2.72, new Complex(2, 3)], key2: ["abc", "xyz"] }
    : undefined
  const received = yield* world.bcast(data, { root: 0 })

  const [i, f, z] = received!.key1
  yield* Effect.log(`rank ${world.rank}: key1 = [${i}, ${f}, ${z}], key2 = [${received!.key2.join(", ")}]`)
  // What came back, in plain values (the launcher has no Complex class).
  return { key1: [i, f, z instanceof Complex ? [z.re, z.im] : z], key2: received!.key2 }
}))
