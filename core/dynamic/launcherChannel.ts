/**
 * The rank's requests to its launcher (the World that started it) over the
 * control channel: comm.spawn's root asks for ranks, the port and name calls
 * ask the launcher's service; each waits for the answer with its request
 * number. The runner installs the channel and hands it the launcher's
 * answers. Internal.
 */
import type { RankControl } from "../../transports/Launcher.ts"
import type { Answer, Ask, Question, Spawn, Spawned } from "../launching/RunnerProtocol.ts"

let control: RankControl | undefined
let nextRequest = 1
const waiting = new Map<number, (reply: Spawned | Answer) => void>()

/** Called by the runner once: the channel requests go over. */
export const install = (c: RankControl): void => {
  control = c
}

/** The launcher's reply to a request (the runner passes `Spawned` and `Answer` messages here). */
export const reply = (message: Spawned | Answer): void => {
  const resume = waiting.get(message.request)
  waiting.delete(message.request)
  resume?.(message)
}

/** Posts what `post` makes of a fresh request number; resolves with the reply, or with `outside` in a rank no launcher started. */
const request = <R extends Spawned | Answer>(post: (request: number) => Spawn | Ask, outside: R): Promise<R> =>
  new Promise((resolve) => {
    if (control === undefined) return resolve(outside)
    const n = nextRequest++
    waiting.set(n, resolve as (reply: Spawned | Answer) => void)
    control.post(post(n))
  })

/** Asks the launcher's port and name service; resolves with its answer. */
export const ask = (question: Question): Promise<Answer> =>
  request((n) => ({ _tag: "Ask", request: n, question }), {
    _tag: "Answer", request: 0, ok: false, message: "this rank was not started by a rankflow launcher, which keeps the ports and names"
  })

/** Asks the launcher to start ranks; resolves with its answer. */
export const requestSpawn = (body: Omit<Spawn, "_tag" | "request">): Promise<Spawned> =>
  request((n) => ({ _tag: "Spawn", request: n, ...body }), {
    _tag: "Spawned", request: 0, ok: false, message: "this rank was not started by a rankflow launcher, so no one can start ranks for it", errors: []
  })
