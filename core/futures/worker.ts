/**
 * The worker side of the pool executor, and what master and workers say to
 * each other (internal: PoolExecutor.ts and the runner use it). Orders go to
 * a worker on tag TASKS, replies come back on RESULTS, both through pickle.
 */
import { Effect, Exit, Option } from "effect"
import type { Comm } from "../comm/Comm.ts"
import type { World } from "../comm/Comm.ts"
import * as ParentComm from "../comm/Comm.ts"
import { call, resolve } from "./resolve.ts"

export const TASKS = 32_001
export const RESULTS = 32_002

/** One piece of work: a task on a chunk of argument lists. */
export interface WorkOrder {
  readonly id: number
  readonly module: string
  readonly name: string
  readonly chunk: ReadonlyArray<ReadonlyArray<unknown>>
}

/** What the master sends: the initializer (id −1), pieces of work (several per message when many wait), stop. */
export type Order =
  | { readonly k: "init"; readonly module: string; readonly name: string }
  | { readonly k: "run"; readonly works: ReadonlyArray<WorkOrder> }
  | { readonly k: "stop" }

export interface RemoteError {
  readonly name: string
  readonly message: string
  readonly stack?: string
  readonly encoding?: boolean
}
export type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: RemoteError }
/** A piece of work's outcomes, one per item of its chunk. */
export interface WorkReply {
  readonly id: number
  readonly outcomes: ReadonlyArray<Outcome>
}
/** What a worker answers to one message: the replies of its pieces of work, in order. */
export interface Reply {
  readonly replies: ReadonlyArray<WorkReply>
}

const remoteError = (e: unknown): RemoteError => {
  if (e instanceof Error) return { name: e.name, message: e.message, ...(e.stack === undefined ? {} : { stack: e.stack }) }
  const tagged = e as { _tag?: unknown; message?: unknown } | undefined
  if (typeof tagged?._tag === "string") return { name: tagged._tag, message: typeof tagged.message === "string" ? tagged.message : String(e) }
  return { name: "Error", message: String(e) }
}

export const taskName = (t: { readonly module: string; readonly name: string }) => `${t.name} (${t.module})`

/**
 * A worker's side: serves orders from `master` on `comm` until told to stop
 * (or the master's rank is gone). Internal: CommExecutor and `--pool` runs use it.
 */
export const serve = (comm: Messenger, master: number): Effect.Effect<void, never, World> =>
  Effect.gen(function*() {
    const send = (reply: Reply) => Effect.result(comm.send(reply, { dest: master, tag: RESULTS, codec: "pickle" }))
    for (;;) {
      const got = yield* Effect.result(comm.recv<Order>({ source: master, tag: TASKS }))
      if (got._tag === "Failure") return // the master is gone: nothing left to serve
      const order = got.success
      if (order.k === "stop") return
      const works: ReadonlyArray<WorkOrder> = order.k === "init" ? [{ id: -1, module: order.module, name: order.name, chunk: [[]] }] : order.works
      const replies: Array<WorkReply> = []
      for (const work of works) {
        const outcomes: Array<Outcome> = []
        const task = yield* Effect.result(resolve(work.module, work.name))
        for (const args of work.chunk) {
          if (task._tag === "Failure") {
            outcomes.push({ ok: false, error: remoteError(task.failure) })
            continue
          }
          const r = yield* Effect.exit(call(task.success, args))
          if (Exit.isSuccess(r)) outcomes.push({ ok: true, value: work.id === -1 ? null : r.value })
          else outcomes.push({ ok: false, error: remoteError(Option.getOrElse(Exit.findErrorOption(r), () => r.cause)) })
        }
        replies.push({ id: work.id, outcomes })
      }
      if ((yield* send({ replies }))._tag === "Success") continue
      // A result that cannot be encoded: the pieces go back one by one, and the items of a piece that
      // still cannot fail with why (the worker goes on).
      for (const reply of replies) {
        const alone = yield* send({ replies: [reply] })
        if (alone._tag === "Success") continue
        const error: RemoteError = { name: "EncodeError", message: `a result could not be encoded: ${alone.failure.message}`, encoding: true }
        const again = yield* send({ replies: [{ id: reply.id, outcomes: reply.outcomes.map((o) => (o.ok ? { ok: false, error } : o)) }] })
        if (again._tag === "Failure") return
      }
    }
  })

/** What the pool's messages go over: a communicator, or an intercommunicator to spawned workers. */
export type Messenger = Pick<Comm, "send" | "recv">

/**
 * The program of workers that `PoolExecutor.make` spawns: serve the rank that
 * spawned them until it says stop. Internal (spawned by module and export).
 */
export const spawnedWorker: Effect.Effect<void, Error, World> = Effect.gen(function*() {
  const parent = yield* ParentComm.parent
  if (Option.isNone(parent)) return yield* Effect.fail(new Error("spawnedWorker serves a pool that spawned it; it was not spawned"))
  yield* serve(parent.value, 0)
})

/** Whether this job was started with `rankflow run --pool` (rank 0 the master, the others serving). */
export const poolMode = (): boolean => globalThis.process?.env?.RANKFLOW_POOL === "1"

/** Tells the workers `ranks` of `comm` to stop serving (one that is gone already is passed over). */
export const stopServing = (comm: Messenger, ranks: ReadonlyArray<number>): Effect.Effect<void> =>
  Effect.forEach(ranks, (w) => Effect.ignore(comm.send({ k: "stop" } satisfies Order, { dest: w, tag: TASKS, codec: "pickle" })), { discard: true })

/**
 * The `--pool` job's end, at rank 0: tells every worker to stop. Internal (the runner).
 */
export const stopWorkers = (world: Comm): Effect.Effect<void> => stopServing(world, Array.from({ length: world.size - 1 }, (_, i) => i + 1))

