/**
 * The launcher's port and name service (see core/dynamic/Port.ts): ports it
 * opened, names published for them, and accepts or connects waiting for
 * their other side. It pairs an accept with a connect on the same port and
 * gives each side the other's group and a context id both can take (the
 * larger of their largest next-free ids). Ports and names live as long as
 * the run. Internal: World's collector calls it.
 */
import type { Job } from "../../transports/Launcher.ts"
import type * as Protocol from "./RunnerProtocol.ts"

interface Waiting {
  readonly side: "accept" | "connect"
  readonly from: number
  readonly request: number
  readonly group: ReadonlyArray<number>
  readonly counter: number
}

export class Ports {
  private readonly job: Job
  private next = 1
  private readonly open = new Set<string>()
  private readonly names = new Map<string, string>()
  private readonly waiting = new Map<string, Waiting>()

  constructor(job: Job) {
    this.job = job
  }

  /** Answers rank `from`'s question (an accept or connect waits for its other side). */
  ask(from: number, m: Protocol.Ask): void {
    const q = m.question
    const ok = (value: Protocol.AnswerValue, to = from, request = m.request) =>
      this.job.post(to, { _tag: "Answer", request, ok: true, value } satisfies Protocol.Answer)
    const refuse = (message: string, to = from, request = m.request) =>
      this.job.post(to, { _tag: "Answer", request, ok: false, message } satisfies Protocol.Answer)
    const notOpen = (port: string) => `no port named "${port}" is open (Comm.openPort opens one; ports live as long as the run)`
    switch (q.q) {
      case "openPort": {
        const port = `rankflow-port-${this.next++}`
        this.open.add(port)
        return ok({ port })
      }
      case "closePort": {
        if (!this.open.delete(q.port)) return refuse(`closePort: ${notOpen(q.port)}`)
        for (const [service, port] of this.names) if (port === q.port) this.names.delete(service)
        const waiter = this.waiting.get(q.port)
        this.waiting.delete(q.port)
        if (waiter !== undefined) refuse(`${waiter.side}: the port "${q.port}" was closed while it waited`, waiter.from, waiter.request)
        return ok(null)
      }
      case "publishName": {
        if (!this.open.has(q.port)) return refuse(`publishName: ${notOpen(q.port)}`)
        if (this.names.has(q.service)) return refuse(`publishName: the name "${q.service}" is published already (unpublishName it first)`)
        this.names.set(q.service, q.port)
        return ok(null)
      }
      case "unpublishName":
        return this.names.delete(q.service) ? ok(null) : refuse(`unpublishName: no port is published as "${q.service}"`)
      case "lookupName": {
        const port = this.names.get(q.service)
        return port === undefined ? refuse(`lookupName: no port is published as "${q.service}" (names live as long as the run)`) : ok({ port })
      }
      case "accept":
      case "connect": {
        if (!this.open.has(q.port)) return refuse(`${q.q}: ${notOpen(q.port)}`)
        const other = this.waiting.get(q.port)
        if (other === undefined) {
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
}
