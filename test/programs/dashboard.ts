// The dashboard's browser test job (test/cli/dashboard.test.ts): 4 ranks run a
// pipeline until the test has seen its stage graph (a file appears), then rank 0
// sends to rank 1 without end, rank 2 waits in recv(source 3, tag 7), and rank 3
// fails once the test has looked (another file).
import { Effect, Schedule, Stream } from "effect"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { Comm, Pipeline, Rank } from "rankflow"

const dir = process.argv[2]!
const released = (name: string) => existsSync(join(dir, name))
const until = (name: string) => Effect.sync(() => released(name)).pipe(Effect.repeat({ schedule: Schedule.spaced("50 millis"), until: (seen) => seen }))

Rank.main(Effect.gen(function*() {
  const w = yield* Comm.World
  const numbers = Stream.iterate(1, (n) => n + 1).pipe(
    Stream.takeWhile((n) => n % 100 !== 0 || !released("pipeline-seen")),
    Stream.tap(() => Effect.sleep("1 millis"))
  )
  const total = Pipeline.source("numbers", numbers).pipe(
    Pipeline.map("square", (n: number) => n * n, { replicas: 2 }),
    Pipeline.mapEffect("slow", (n: number) => Effect.as(Effect.sleep("2 millis"), n % 7)),
    Pipeline.foldTo("total", 0, (sum: number, n: number) => sum + n)
  )
  yield* Pipeline.run(total)
  yield* Effect.log(`rank ${w.rank}: the pipeline is done`)
  if (w.rank === 0) for (let i = 0; ; i++) yield* Effect.andThen(w.send(i, { dest: 1 }), Effect.sleep("20 millis"))
  if (w.rank === 1) for (;;) yield* w.recv({ source: 0 })
  if (w.rank === 2) yield* w.recv({ source: 3, tag: 7 })
  yield* until("fail")
  return yield* Effect.fail(new Error("rank 3 gives up on purpose"))
}))
