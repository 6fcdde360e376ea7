/**
 * A live dashboard of a running job in the browser (`rankflow run
 * --dashboard`): every rank's state and what it waits for, message and byte
 * rates, heap, a task-stream timeline, pipeline stages with the one that
 * holds the others back, and the ranks' last output. An Effect HTTP server
 * (over Node's) serves the page, Chart.js for its charts, and the state as
 * server-sent events twice a second.
 *
 * It listens on loopback (127.0.0.1:8787) unless told otherwise; any other
 * address needs a token, which every request then carries (`?token=` or
 * `Authorization: Bearer`); a missing or wrong one gets 401. The server
 * serves its page, Chart.js and the job's state, nothing else (no files, no
 * environment).
 */
import { Data, Effect, Schedule, type Scope, Stream } from "effect"
import { timingSafeEqual } from "node:crypto"
import { readFile } from "node:fs/promises"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import type { RunObserver } from "../launching/World.ts"
import type { JobWatcher } from "../../transports/Launcher.ts"
import { Board } from "./Board.ts"
import { feeder } from "./feed.ts"
import { page } from "./page.ts"

/**
 * Why the dashboard cannot start: a non-loopback address without a token, a port in use.
 *
 * @example
 * ```ts
 * Dashboard.make({ host: "0.0.0.0" }).pipe(Effect.catchTag("DashboardError", (e) => Effect.logError(e.message)))
 * ```
 */
export class DashboardError extends Data.TaggedError("DashboardError")<{ readonly message: string; readonly cause?: unknown }> {}

/**
 * Where the dashboard listens, and its token.
 *
 * @example
 * ```ts
 * const options: DashboardOptions = { host: "127.0.0.1", port: 8787 }
 * ```
 */
export interface DashboardOptions {
  /** Default `127.0.0.1`. Any address but loopback needs `token`. */
  readonly host?: string
  /** Default 8787; 0 takes a free port. */
  readonly port?: number
  /** Required of every request where given (and where `host` is not loopback). */
  readonly token?: string
}

/**
 * A running dashboard: its URL (with the token where there is one), and the
 * observer to give a `World` (`WorldOptions.observer`).
 *
 * @example
 * ```ts
 * const dashboard = yield* Dashboard.make({ port: 0 })
 * yield* Effect.log(`dashboard: ${dashboard.url}`)
 * const world = yield* World.make({ size: 4, observer: dashboard.observer })
 * ```
 */
export interface Dashboard {
  readonly url: string
  readonly observer: RunObserver
  /**
   * Shows what a job's stats channel says (`Registration.watch`: a NATS job
   * over several launchers, or one started elsewhere) instead of, or beside,
   * what `observer` is told.
   */
  readonly follow: (watcher: JobWatcher) => void
}

/** How often the page gets the state (milliseconds). */
const PUSH_MS = 500

/**
 * Whether `host` is a loopback address (where a token is not required).
 *
 * @example
 * ```ts
 * Dashboard.isLoopback("127.0.0.1")   // true
 * Dashboard.isLoopback("0.0.0.0")     // false: a token is needed
 * ```
 */
export const isLoopback = (host: string): boolean =>
  host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host)

/**
 * The environment variable a token may come from (`rankflow run --dashboard-token` wins).
 *
 * @example
 * ```ts
 * const token = process.env[Dashboard.TOKEN_ENV]
 * ```
 */
export const TOKEN_ENV = "RANKFLOW_DASHBOARD_TOKEN"

/** Chart.js's browser build, read once. */
let chartSource: Promise<string> | undefined
const chartJs = Effect.promise(() => (chartSource ??= readFile(join(dirname(createRequire(import.meta.url).resolve("chart.js")), "chart.umd.min.js"), "utf8")))

/** The HTTP server's modules, loaded when a dashboard starts (ranks, which import rankflow, never load them). */
const http = Effect.promise(() => Promise.all([import("@effect/platform-node/NodeHttpServer"), import("effect/http"), import("node:http")]))

const sameToken = (given: string | null | undefined, token: string): boolean => {
  if (given === null || given === undefined) return false
  const a = Buffer.from(given)
  const b = Buffer.from(token)
  return a.length === b.length && timingSafeEqual(a, b)
}

/**
 * Starts the dashboard's server for the scope's life.
 *
 * @example
 * ```ts
 * const dashboard = yield* Dashboard.make({ host: "0.0.0.0", port: 8787, token: process.env.RANKFLOW_DASHBOARD_TOKEN })
 * ```
 */
export const make = (options: DashboardOptions = {}): Effect.Effect<Dashboard, DashboardError, Scope.Scope> =>
  Effect.gen(function*() {
    const host = options.host ?? "127.0.0.1"
    const token = options.token === "" ? undefined : options.token
    if (!isLoopback(host) && token === undefined) {
      return yield* new DashboardError({
        message: `the dashboard serves ${host}, which is not loopback: give it a token (--dashboard-token or ${TOKEN_ENV}), which every request must then carry`
      })
    }
    const port = options.port ?? 8787
    if (!Number.isInteger(port) || port < 0 || port > 65535) return yield* new DashboardError({ message: `the dashboard's port must be 0–65535, got ${port}` })
    const board = new Board()
    const chart = yield* chartJs
    const [NodeHttpServer, { HttpServerRequest, HttpServerResponse }, { createServer }] = yield* http
    const server = yield* NodeHttpServer.make(() => createServer(), { port, host }).pipe(
      Effect.mapError((e) => new DashboardError({ message: `the dashboard cannot listen on ${host}:${port}: ${(e as { message?: string }).message ?? String(e)}`, cause: e }))
    )
    const encoder = new TextEncoder()
    // One event at once, then one every PUSH_MS.
    const events = Stream.concat(Stream.make(0), Stream.fromSchedule(Schedule.spaced(PUSH_MS))).pipe(
      Stream.map(() => encoder.encode(`data: ${JSON.stringify(board.view())}\n\n`))
    )
    const app = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const url = new URL(request.url, "http://dashboard")
      if (token !== undefined) {
        const bearer = /^Bearer (.+)$/.exec(request.headers["authorization"] ?? "")?.[1]
        if (!sameToken(url.searchParams.get("token") ?? bearer, token)) {
          return HttpServerResponse.text("401: this dashboard needs its token (?token=… or Authorization: Bearer …)\n", { status: 401 })
        }
      }
      switch (url.pathname) {
        case "/":
          return HttpServerResponse.text(page, { contentType: "text/html; charset=utf-8" })
        case "/chart.js":
          return HttpServerResponse.text(chart, { contentType: "text/javascript; charset=utf-8" })
        case "/api/state":
          return HttpServerResponse.text(JSON.stringify(board.view()), { contentType: "application/json" })
        case "/events":
          return HttpServerResponse.stream(events, {
            contentType: "text/event-stream",
            headers: { "cache-control": "no-cache" }
          })
        default:
          return HttpServerResponse.text("404: the dashboard serves /, /events and /api/state\n", { status: 404 })
      }
    })
    yield* server.serve(app)
    const address = server.address
    const shownPort = "port" in address ? address.port : port
    const shownHost = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host
    const url = `http://${shownHost}:${shownPort}/${token === undefined ? "" : `?token=${encodeURIComponent(token)}`}`
    return { url, observer: board, follow: (watcher) => watcher.onMessage(feeder(board)) }
  })
