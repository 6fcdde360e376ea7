/**
 * The NATS transport's programmatic surface: its options, a launcher with
 * options fixed, a service holding them (`Nats.layer({...})`), and the
 * mapping from the CLI's flags.
 *
 * @example
 * ```ts
 * import { Nats } from "rankflow/transports"
 * const launcher = Nats.launcher({ servers: "nats://a:4222,nats://b:4222", user: "alice", password: "…" })
 * const results = yield* World.run(program, { size: 4, transport: launcher })
 * ```
 */
import { Context, Layer } from "effect"
import type { Launcher } from "../Launcher.ts"
import { NatsLauncher } from "./NatsLauncher.ts"
import type { NatsOptions } from "./Options.ts"

export type { NatsOptions, NatsTlsOptions } from "./Options.ts"

/**
 * A launcher for jobs joined through NATS, with `options` fixed.
 *
 * @example
 * ```ts
 * const world = yield* World.make({ size: 4, transport: Nats.launcher({ servers: "nats://127.0.0.1:4222" }) })
 * ```
 */
export const launcher = (options: NatsOptions = {}): Launcher<NatsOptions> => NatsLauncher.make(options)

/**
 * The NATS settings of a program, and the launcher they give.
 *
 * @example
 * ```ts
 * const { launcher } = yield* Nats.Nats
 * const world = yield* World.make({ size: 4, transport: launcher })
 * ```
 */
export class Nats extends Context.Service<Nats, {
  readonly options: NatsOptions
  readonly launcher: Launcher<NatsOptions>
}>()("rankflow/transports/Nats") {}

/**
 * Provides `Nats` from options (servers, job, credentials, TLS, timeouts).
 *
 * @example
 * ```ts
 * program.pipe(Effect.provide(Nats.layer({ servers: "nats://127.0.0.1:4222", job: "sweep-7" })))
 * ```
 */
export const layer = (options: NatsOptions = {}): Layer.Layer<Nats> => Layer.succeed(Nats, { options, launcher: launcher(options) })

/**
 * The CLI's NATS flags, as parsed.
 *
 * @example
 * ```ts
 * const options = Nats.optionsFromFlags({ nats: "nats://a:4222,nats://b:4222", job: "heat-42", joinTimeout: 60 })
 * ```
 */
export interface NatsFlags {
  /** `--nats`: comma-separated server URLs. */
  readonly nats?: string | undefined
  readonly job?: string | undefined
  readonly ranks?: string | undefined
  /** `--join-timeout`, in seconds. */
  readonly joinTimeout?: number | undefined
  /** `--heartbeat-timeout`, in seconds (heartbeats go every second, or four times per timeout when it is shorter than 4 s). */
  readonly heartbeatTimeout?: number | undefined
  readonly creds?: string | undefined
  readonly user?: string | undefined
  readonly password?: string | undefined
  readonly token?: string | undefined
  readonly tlsCa?: string | undefined
  readonly tlsCert?: string | undefined
  readonly tlsKey?: string | undefined
  readonly jobKeyFile?: string | undefined
  /** `--poll-micros`: how long a waiting rank polls its connection before it sleeps. */
  readonly pollMicros?: number | undefined
}

/**
 * Options from the CLI's flags (`--size` is the World's size, not an option here).
 *
 * @example
 * ```ts
 * Nats.optionsFromFlags({ nats: "nats://127.0.0.1:4222", user: "heat", password: secret })   // { servers: [...], user, password }
 * ```
 */
export const optionsFromFlags = (flags: NatsFlags): NatsOptions => {
  const tls = flags.tlsCa !== undefined || flags.tlsCert !== undefined || flags.tlsKey !== undefined
    ? { ca: flags.tlsCa, cert: flags.tlsCert, key: flags.tlsKey }
    : undefined
  const options: { -readonly [K in keyof NatsOptions]: NatsOptions[K] } = {}
  if (flags.nats !== undefined) options.servers = flags.nats
  if (flags.job !== undefined) options.job = flags.job
  if (flags.ranks !== undefined) options.ranks = flags.ranks
  if (flags.joinTimeout !== undefined) options.joinTimeout = flags.joinTimeout * 1000
  if (flags.heartbeatTimeout !== undefined) {
    const timeout = flags.heartbeatTimeout * 1000
    options.heartbeat = { timeout, interval: Math.min(1000, timeout / 4) }
  }
  if (flags.pollMicros !== undefined) options.pollMicros = flags.pollMicros
  if (flags.creds !== undefined) options.creds = flags.creds
  if (flags.user !== undefined) options.user = flags.user
  if (flags.password !== undefined) options.password = flags.password
  if (flags.token !== undefined) options.token = flags.token
  if (tls !== undefined) options.tls = tls
  if (flags.jobKeyFile !== undefined) options.jobKeyFile = flags.jobKeyFile
  return options
}
