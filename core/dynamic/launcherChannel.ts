/**
 * The rank's requests to its launcher (the World that started it) over the
 * control channel: comm.spawn's root asks for ranks and waits for the answer.
 * The runner installs the channel and hands it the launcher's answers.
 * Internal.
 */
import type { RankControl } from "../../transports/Launcher.ts"
import type { Answer, Ask, Question, Spawn, Spawned } from "../launching/RunnerProtocol.ts"

let control: RankControl | undefined
let nextRequest = 1
const waiting = new Map<number, (answer: Spawned) => void>()
const asked = new Map<number, (answer: Answer) => void>()

/** Called by the runner once: the channel requests go over. */
export const install = (c: RankControl): void => {
  control = c
}

/** The launcher's answer to a request (the runner passes `Spawned` messages here). */
export const answer = (message: Spawned): void => {
  const resume = waiting.get(message.request)
  waiting.delete(message.request)
  resume?.(message)
}

/** The launcher's answer to a question (the runner passes `Answer` messages here). */
export const answered = (message: Answer): void => {
  const resume = asked.get(message.request)
  asked.delete(message.request)
  resume?.(message)
}

/** Asks the launcher's port and name service; resolves with its answer. */
export const ask = (question: Question): Promise<Answer> =>
  new Promise((resolve) => {
    if (control === undefined) {
      return resolve({ _tag: "Answer", request: 0, ok: false, message: "this rank was not started by a rankflow launcher, which keeps the ports and names" })
    }
    const request = nextRequest++
    asked.set(request, resolve)
    control.post({ _tag: "Ask", request, question } satisfies Ask)
  })

/** Asks the launcher to start ranks; resolves with its answer. */
export const requestSpawn = (body: Omit<Spawn, "_tag" | "request">): Promise<Spawned> =>
  new Promise((resolve) => {
    if (control === undefined) {
      return resolve({ _tag: "Spawned", request: 0, ok: false, message: "this rank was not started by a rankflow launcher, so no one can start ranks for it", errors: [] })
    }
    const request = nextRequest++
    waiting.set(request, resolve)
    control.post({ _tag: "Spawn", request, ...body } satisfies Spawn)
  })
