/**
 * The launcher's port and name service (see core/dynamic/Port.ts): ports it
 * opened, names published for them, and accepts or connects waiting for
 * their other side. It pairs an accept with a connect on the same port and
 * gives each side the other's group and a context id both can take (the
 * larger of their largest next-free ids). Ports and names live as long as
 * the run. Internal: World's collector calls it.
 *
 * Where the job's launcher has a directory (`Job.directory`: NATS), ports
 * and names reach other jobs too. An open port is served on the directory as
 * `port.<name>`, a published name as `name.<service>`. A connect to a port
 * this job did not open asks the port's launcher, which holds the question
 * up to `HOLD_MS` for an accept, answers "wait" if none came (the connect
 * asks again), and otherwise pairs the two: both groups then join a fresh
 * link (`Transport.link`), the acceptors as its first ranks.
 */
import { randomBytes } from "node:crypto"
import type { Directory, Job } from "../../transports/Launcher.ts"
import type * as Protocol from "./RunnerProtocol.ts"

/** How long a port's launcher holds another job's connect before it answers "wait". */
const HOLD_MS = 1000
/** How long a launcher waits for an answer from another job's launcher. */
const ANSWER_MS = 10_000

interface Waiting {
  readonly side: "accept" | "connect"
  readonly from: number
  readonly request: number
  readonly group: ReadonlyArray<number>
  readonly counter: number
}

/** Another job's connect, held until an accept comes or `HOLD_MS` passed. */
interface Held {
  readonly size: number
  readonly counter: number
  readonly answer: (value: CrossAnswer) => void
}

/** What a port's launcher answers another job's connect. */
type CrossAnswer =
  | { readonly link: string; readonly key: string; readonly acceptSize: number; readonly context: number }
  | { readonly wait: true }
  | { readonly refused: string }

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null

export class Ports {
  private readonly job: Job
  private readonly directory: Directory | undefined
  /** Makes this run's port names unique among every job on the directory. */
  private readonly token = randomBytes(6).toString("hex")
  private next = 1
  private readonly open = new Set<string>()
  private readonly names = new Map<string, string>()
  private readonly waiting = new Map<string, Waiting>()
  private readonly held = new Map<string, Array<Held>>()
  /** What this launcher serves on the directory, by directory name. */
  private readonly served = new Map<string, () => void>()
  private ended = false

  constructor(job: Job) {
    this.job = job
    this.directory = job.directory
  }

  /** Answers rank `from`'s question (an accept or connect waits for its other side). */
  ask(from: number, m: Protocol.Ask): void {
    const q = m.question
    const ok = (value: Protocol.AnswerValue, to = from, request = m.request) =>
      this.job.post(to, { _tag: "Answer", request, ok: true, value } satisfies Protocol.Answer)
    const refuse = (message: string, to = from, request = m.request) =>
      this.job.post(to, { _tag: "Answer", request, ok: false, message } satisfies Protocol.Answer)
    const notOpen = (port: string) => `no port named "${port}" is open (Comm.openPort opens one; ports live as long as the run)`
    const directory = this.directory
    switch (q.q) {
      case "openPort": {
        const port = `rankflow-port-${this.token}-${this.next++}`
        this.open.add(port)
        if (directory === undefined) return ok({ port })
        return void this.serve(directory, `port.${port}`, (request) => this.connectFromAfar(port, request)).then(
          () => ok({ port }),
          (e) => {
            this.open.delete(port)
            refuse(`openPort: ${errorMessage(e)}`)
          }
        )
      }
      case "closePort": {
        if (!this.open.delete(q.port)) return refuse(`closePort: ${notOpen(q.port)}`)
        for (const [service, port] of this.names) {
          if (port === q.port) this.unpublish(service)
        }
        this.unserve(`port.${q.port}`)
        for (const h of this.held.get(q.port) ?? []) h.answer({ refused: `connect: the port "${q.port}" was closed` })
        this.held.delete(q.port)
        const waiter = this.waiting.get(q.port)
        this.waiting.delete(q.port)
        if (waiter !== undefined) refuse(`${waiter.side}: the port "${q.port}" was closed while it waited`, waiter.from, waiter.request)
        return ok(null)
      }
      case "publishName": {
        if (!this.open.has(q.port)) return refuse(`publishName: ${notOpen(q.port)}`)
        const taken = `publishName: the name "${q.service}" is published already (unpublishName it first)`
        if (this.names.has(q.service)) return refuse(taken)
        this.names.set(q.service, q.port)
        if (directory === undefined) return ok(null)
        // Another job may have published the name: the directory answers for it.
        return void directory.request(`name.${q.service}`, null, ANSWER_MS)
          .then((answer) => {
            if (answer !== undefined) throw new Error(`publishName: the name "${q.service}" is published already by another job on the same NATS servers; choose another name`)
            return this.serve(directory, `name.${q.service}`, async () => ({ port: this.names.get(q.service) }))
          })
          .then(() => ok(null), (e) => {
            if (this.names.get(q.service) === q.port) this.names.delete(q.service)
            refuse(errorMessage(e))
          })
      }
      case "unpublishName":
        return this.unpublish(q.service) ? ok(null) : refuse(`unpublishName: no port is published as "${q.service}"`)
      case "lookupName": {
        const port = this.names.get(q.service)
        const unknown = `lookupName: no port is published as "${q.service}" (names live as long as the run that published them)`
        if (port !== undefined) return ok({ port })
        if (directory === undefined) return refuse(unknown)
        return void directory.request(`name.${q.service}`, null, ANSWER_MS).then(
          (answer) => (isRecord(answer) && typeof answer["port"] === "string" ? ok({ port: answer["port"] }) : refuse(unknown)),
          (e) => refuse(`lookupName: ${errorMessage(e)}`)
        )
      }
      case "accept":
      case "connect": {
        if (!this.open.has(q.port)) {
          if (q.q === "connect" && directory !== undefined && typeof q.port === "string") return void this.connectAfar(directory, from, m, q)
          return refuse(`${q.q}: ${notOpen(q.port)}`)
        }
        const other = this.waiting.get(q.port)
        if (other === undefined) {
          // Another job's connect may be held for this accept.
          const held = q.q === "accept" ? this.held.get(q.port)?.shift() : undefined
          if (held !== undefined) return this.pairAfar(held, { side: "accept", from, request: m.request, group: q.group, counter: q.counter })
          this.waiting.set(q.port, { side: q.q, from, request: m.request, group: q.group, counter: q.counter })
          return
        }
        if (other.side === q.q) return refuse(`${q.q}: another ${q.q} waits on the port "${q.port}" already; one ${q.q} meets one ${q.q === "accept" ? "connect" : "accept"}`)
        this.waiting.delete(q.port)
        if (q.group.some((r) => other.group.includes(r))) {
          const why = `the accepting and the connecting groups share ranks; they must be disjoint`
          refuse(`${other.side}: ${why}`, other.from, other.request)
          return refuse(`${q.q}: ${why}`)
        }
        const context = Math.max(q.counter, other.counter)
        ok({ remote: q.group, context }, other.from, other.request)
        return ok({ remote: other.group, context })
      }
    }
  }

  /** The run ended: nothing of it stays reachable, and questions from other jobs are refused. */
  close(): void {
    this.ended = true
    for (const stop of this.served.values()) stop()
    this.served.clear()
    for (const list of this.held.values()) for (const h of list) h.answer({ refused: "connect: the job that opened the port has ended its run" })
    this.held.clear()
  }

  private async serve(directory: Directory, name: string, answer: (request: unknown) => Promise<unknown>): Promise<void> {
    const stop = await directory.serve(name, answer)
    if (this.ended) return stop()
    this.served.set(name, stop)
  }

  private unserve(name: string): void {
    this.served.get(name)?.()
    this.served.delete(name)
  }

  private unpublish(service: string): boolean {
    if (!this.names.delete(service)) return false
    this.unserve(`name.${service}`)
    return true
  }

  /** Another job's launcher asks to connect a group of `size` to our port: pair it with a waiting accept, or hold it. */
  private connectFromAfar(port: string, request: unknown): Promise<CrossAnswer> {
    const size = isRecord(request) ? request["size"] : undefined
    const counter = isRecord(request) ? request["counter"] : undefined
    if (!Number.isInteger(size) || (size as number) < 1 || !Number.isInteger(counter)) {
      return Promise.resolve({ refused: `connect: a malformed request to the port "${port}"` })
    }
    if (this.ended || !this.open.has(port)) return Promise.resolve({ refused: `connect: the port "${port}" is closed` })
    return new Promise((resolve) => {
      const held: Held = { size: size as number, counter: counter as number, answer: resolve }
      const waiter = this.waiting.get(port)
      if (waiter?.side === "accept") {
        this.waiting.delete(port)
        return this.pairAfar(held, waiter)
      }
      const list = this.held.get(port) ?? []
      list.push(held)
      this.held.set(port, list)
      setTimeout(() => {
        const i = list.indexOf(held)
        if (i < 0) return
        list.splice(i, 1)
        resolve({ wait: true })
      }, HOLD_MS).unref?.()
    })
  }

  /** Pairs our accept with another job's connect: both join a new link, ours first. */
  private pairAfar(held: Held, accept: Waiting): void {
    const link = `L${randomBytes(8).toString("hex")}`
    const key = randomBytes(32).toString("hex")
    const acceptSize = accept.group.length
    const context = Math.max(held.counter, accept.counter)
    held.answer({ link, key, acceptSize, context })
    const value: Protocol.CrossJob = { link, key, size: acceptSize + held.size, first: 0, remoteFirst: acceptSize, remoteSize: held.size, context, acceptor: true }
    this.job.post(accept.from, { _tag: "Answer", request: accept.request, ok: true, value } satisfies Protocol.Answer)
  }

  /** Our connect to a port another job opened: ask its launcher until an accept meets it. */
  private async connectAfar(directory: Directory, from: number, m: Protocol.Ask, q: Extract<Protocol.Question, { q: "accept" | "connect" }>): Promise<void> {
    const answer = (a: Protocol.Answer) => this.job.post(from, a)
    const refuse = (message: string) => answer({ _tag: "Answer", request: m.request, ok: false, message })
    const size = q.group.length
    try {
      while (!this.ended) {
        const reply = await directory.request(`port.${q.port}`, { size, counter: q.counter }, ANSWER_MS)
        if (reply === undefined) {
          return refuse(`connect: no port named "${q.port}" is open, in this job or in another on the same NATS servers`)
        }
        if (!isRecord(reply)) return refuse(`connect: the port "${q.port}" gave a malformed answer`)
        if (reply["wait"] === true) continue
        if (typeof reply["refused"] === "string") return refuse(reply["refused"])
        const { link, key, acceptSize, context } = reply
        if (typeof link !== "string" || typeof key !== "string" || !Number.isInteger(acceptSize) || !Number.isInteger(context)) {
          return refuse(`connect: the port "${q.port}" gave a malformed answer`)
        }
        const value: Protocol.CrossJob = {
          link, key, size: (acceptSize as number) + size, first: acceptSize as number, remoteFirst: 0, remoteSize: acceptSize as number,
          context: context as number, acceptor: false
        }
        return answer({ _tag: "Answer", request: m.request, ok: true, value })
      }
      refuse("connect: the run ended while it waited")
    } catch (e) {
      refuse(`connect: ${errorMessage(e)}`)
    }
  }
}

const errorMessage = (e: unknown): string => (e instanceof Error ? e.message : isRecord(e) && typeof e["message"] === "string" ? e["message"] : String(e))
