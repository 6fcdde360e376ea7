/**
 * A NATS job's stats channel (see `StatsChannel` and `JobWatcher` in
 * ../Launcher.ts): launchers publish JSON on `rankflow.<job>.stats` while a
 * watcher has asked within the last WATCHED_MS, and watchers ask by
 * publishing on `rankflow.<job>.stats.watch` every ASK_MS. One watcher or
 * many, on any host: every launcher of the job hears them, so one page shows
 * the whole job.
 */
import type { NatsConnection, Subscription } from "@nats-io/transport-node"
import type { JobWatcher, StatsChannel } from "../Launcher.ts"
import { connect } from "./Connection.ts"
import type { NatsConfig } from "./Options.ts"
import { ROOT } from "./Subjects.ts"

/** How often a watcher asks, and how long launchers publish after a request (ms). */
const ASK_MS = 1000
const WATCHED_MS = 3500

const subjects = (job: string) => ({ stats: `${ROOT}.${job}.stats`, watch: `${ROOT}.${job}.stats.watch` })
const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** The launcher's side, over its (lazy) connection: subscribed to watch requests from the start. */
export const channel = (connection: () => Promise<NatsConnection>, job: string): StatsChannel & { readonly close: () => void } => {
  const { stats, watch } = subjects(job)
  let askedAt = Number.NEGATIVE_INFINITY
  let nc: NatsConnection | undefined
  let sub: Subscription | undefined
  let closed = false
  void connection().then((c) => {
    if (closed) return
    nc = c
    sub = c.subscribe(watch, { callback: () => void (askedAt = Date.now()) })
  }, () => {})
  return {
    watched: () => Date.now() - askedAt < WATCHED_MS,
    publish: (message) => {
      if (nc === undefined || nc.isClosed()) return
      try {
        nc.publish(stats, encoder.encode(JSON.stringify(message)))
      } catch {
        // A stats message lost to a closing connection: the next round says it again.
      }
    },
    follow: () => connection().then((c) => watchOver(c, job, false)),
    close: () => {
      closed = true
      sub?.unsubscribe()
    }
  }
}

/** A watcher of `job`'s stats: its own connection, asking every ASK_MS. */
export const watch = async (config: NatsConfig, job: string): Promise<JobWatcher> => watchOver(await connect(config, -1), job, true)

/** A watcher over connection `nc` (closed with the watcher where `owned`). */
const watchOver = async (nc: NatsConnection, job: string, owned: boolean): Promise<JobWatcher> => {
  const { stats, watch: ask } = subjects(job)
  const handlers: Array<(message: unknown) => void> = []
  const sub = nc.subscribe(stats, {
    callback: (_err, msg) => {
      let message: unknown
      try {
        message = JSON.parse(decoder.decode(msg.data))
      } catch {
        return
      }
      for (const h of handlers) h(message)
    }
  })
  await nc.flush()
  const askNow = () => {
    if (!nc.isClosed()) nc.publish(ask, new Uint8Array(0))
  }
  askNow()
  const timer = setInterval(askNow, ASK_MS)
  return {
    onMessage: (handler) => void handlers.push(handler),
    close: async () => {
      clearInterval(timer)
      if (owned) await nc.drain().catch(() => nc.close())
      else sub.unsubscribe()
    }
  }
}
