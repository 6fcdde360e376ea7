/**
 * The options of a NATS job (what `NatsLauncher.make({...})`, `Nats.layer`
 * and the CLI's `--nats …` flags give), checked and resolved into the plain
 * configuration every rank process receives.
 */
import { Duration } from "effect"
import { availableParallelism } from "node:os"
import { TransportError } from "../Transport.ts"
import { freshKey, MIN_KEY_BYTES, readKeyFile } from "./FrameAuth.ts"
import { checkSettings, DEFAULT_HEARTBEAT, type HeartbeatSettings } from "./Heartbeats.ts"
import { parseRanks } from "./Rendezvous.ts"
import { checkJobId, freshJobId } from "./Subjects.ts"

/**
 * TLS towards the NATS servers: the CA that signs them, and a client certificate where they ask for one.
 *
 * @example
 * ```ts
 * yield* World.run(program, { size: 4, transport: "nats", transportOptions: { servers: "tls://nats.example:4222", tls: { ca: "ca.pem", cert: "me.pem", key: "me-key.pem" } } })
 * ```
 */
export interface NatsTlsOptions {
  /** PEM file of the certificate authority that signed the servers' certificates (`--tls-ca`). */
  readonly ca?: string
  /** PEM file of this client's certificate, for servers that verify clients (`--tls-cert`). */
  readonly cert?: string
  /** PEM file of this client's private key (`--tls-key`). */
  readonly key?: string
}

/**
 * How a job reaches and uses NATS: servers, job id, credentials, TLS, heartbeats, flow control.
 *
 * @example
 * ```ts
 * yield* World.run(program, { size: 8, transport: "nats", transportOptions: { servers: ["nats://a:4222", "nats://b:4222"], job: "heat-42", window: 8 << 20 } })
 * ```
 */
export interface NatsOptions {
  /**
   * NATS servers: URLs separated by commas, or an array (`--nats`). Ranks
   * start on different servers of the list (rank r on server r mod n) and
   * fail over to the others. Default `nats://127.0.0.1:4222`.
   */
  readonly servers?: string | ReadonlyArray<string>
  /**
   * The job id: hosts of one job give the same one (`--job`). Default: a fresh
   * id, for a job whose ranks all run on this host.
   */
  readonly job?: string
  /** The ranks this host runs, e.g. `"0-3"` or `[0, 1, 2, 3]` (`--ranks`). Default: all. */
  readonly ranks?: string | ReadonlyArray<number>
  /** How long the ranks wait for every rank to join (`--join-timeout`). Default 30 s. */
  readonly joinTimeout?: Duration.Input
  /** A NATS credentials file (JWT + nkey seed) (`--creds`). */
  readonly creds?: string
  /** User and password (`--user`, `--password`). */
  readonly user?: string
  readonly password?: string
  /** A token (`--token`). */
  readonly token?: string
  /** TLS files; a `tls://` server URL or a server that requires TLS also turns TLS on. */
  readonly tls?: NatsTlsOptions
  /** Heartbeats: a rank silent for `timeout` is declared failed. Default 1 s and 10 s (`--heartbeat-timeout` on the CLI). */
  readonly heartbeat?: { readonly interval?: Duration.Input; readonly timeout?: Duration.Input }
  /**
   * The credit window each rank grants each peer, in bytes: the most a peer
   * may have sent that this rank has not received. Default: 32 MiB shared
   * among the peers, at least 256 KiB each, which keeps every rank under the
   * server's 64 MiB slow-consumer limit.
   */
  readonly window?: number
  /**
   * Largest frame a rank publishes, in bytes (further capped by the server's
   * max_payload and a quarter of the peer's window). Default 256 KiB.
   */
  readonly frameBytes?: number
  /** Largest message a rank accepts, in bytes. Default 16 GiB. */
  readonly maxMessageBytes?: number
  /** Acknowledgements and retransmission. Turning them off is for measuring their cost only. Default true. */
  readonly acks?: boolean
  /** How long a rank may be cut off from every server before it gives up on the job. Default 20 s. */
  readonly reconnectTimeout?: Duration.Input
  /** How long a closing rank waits for its peers to acknowledge what it sent. Default 2 s. */
  readonly linger?: Duration.Input
  /** First retransmission of unacknowledged frames after this long without progress. Default 1 s. */
  readonly retransmit?: Duration.Input
  /**
   * A file holding the job's key (`--job-key-file`): every frame is then
   * signed with it, and frames without a valid tag are dropped, so that no
   * client of the server without the key can speak for a rank. Every host of
   * the job gives the same key. Default: a fresh key when this launcher starts
   * every rank of the job; none for a job spread over hosts (see
   * docs/cluster.md, "Security").
   */
  readonly jobKeyFile?: string
  /** The job's key itself (at least 16 bytes), instead of a file. */
  readonly jobKey?: Uint8Array
  /** Frame authentication; turning it off is for measuring its cost only. Default true. */
  readonly frameAuth?: boolean
  /**
   * How long (µs) a rank whose receive has nothing to take keeps its event
   * loop polling the connection before it sleeps. A sleeping rank woken by
   * the reply costs its wait tens of microseconds, and the ranks and the
   * server that wait on it fall asleep in turn (see docs/cluster.md,
   * "Latency: a waiting rank polls"). Polling keeps a core busy meanwhile
   * (yielding it to any other thread that wants it at each turn), so the
   * default is 200 µs where this host runs no more ranks than it has cores,
   * and 0 (sleep at once) where it runs more.
   */
  readonly pollMicros?: number
}

/**
 * Everything a rank process needs, as plain data (it crosses the IPC channel).
 *
 * @example
 * ```ts
 * const job = yield* NatsLauncher.launch({ size: 2, runner, servers: "nats://127.0.0.1:4222" })
 * job.config.job   // the job id every rank's subjects use
 * ```
 */
export interface NatsConfig {
  readonly servers: ReadonlyArray<string>
  readonly job: string
  readonly size: number
  readonly localRanks: ReadonlyArray<number>
  readonly creds: string | undefined
  readonly user: string | undefined
  readonly password: string | undefined
  readonly token: string | undefined
  readonly tls: NatsTlsOptions | undefined
  readonly joinTimeoutMs: number
  readonly heartbeat: HeartbeatSettings
  readonly windowBytes: number
  readonly frameBytes: number
  readonly maxMessageBytes: number
  readonly reliable: boolean
  readonly retransmitMs: number
  readonly reconnectTimeoutMs: number
  readonly lingerMs: number
  /** How long a waiting rank polls its connection before it sleeps (µs; `NatsOptions.pollMicros`). */
  readonly pollMicros: number
  /** The job's key, hex-encoded, or undefined when frames are not authenticated. */
  readonly jobKey: string | undefined
}

export const DEFAULT_SERVER = "nats://127.0.0.1:4222"
/**
 * `NatsOptions.pollMicros` where a host runs no more ranks than cores. The
 * 8-byte ping-pong on 2 cores (2 ranks and the server; half round trips in
 * one run, the raw client 86–93 µs): without polling 135–145 µs; polling
 * 50 / 100 / 200 / 400 µs, yielding the core at each turn, 93–98 / 73–75 /
 * 69–72 / 68–69 µs. Without the yield, 200 µs made it worse than 100 (two
 * polling ranks kept the server off the cores).
 */
export const DEFAULT_POLL_MICROS = 200
const MiB = 1024 * 1024
const RECEIVE_BUDGET = 32 * MiB
const MIN_WINDOW = 256 * 1024
const MAX_WINDOW = 32 * MiB
/**
 * Frames smaller than the server's 1 MiB max_payload cost the receiver less:
 * the client reassembles a message that spans its 64 KiB socket reads in a
 * buffer it grows by doubling (about 3.5 bytes allocated per byte for 1 MiB
 * messages), and those allocations drive the garbage collector. 256 KiB
 * frames took ~10 % less receive CPU per byte than 1 MiB ones in a 4 MiB
 * stream here; 32 KiB frames cost more per frame than they saved.
 */
export const DEFAULT_FRAME_BYTES = 256 * 1024

/** The default credit window per peer for a job of `size` ranks. */
export const defaultWindow = (size: number): number =>
  Math.min(MAX_WINDOW, Math.max(MIN_WINDOW, Math.floor(RECEIVE_BUDGET / Math.max(1, size - 1) / 8) * 8))

const fail = (message: string): TransportError => new TransportError({ transport: "nats", message })

/** The server list: comma-separated URLs or an array; bare `host:port` allowed. */
export const parseServers = (servers: string | ReadonlyArray<string> | undefined): Array<string> =>
  (typeof servers === "string" ? servers.split(",") : servers ?? [DEFAULT_SERVER]).map((s) => s.trim()).filter((s) => s.length > 0)

const millis = (what: string, input: Duration.Input | undefined, fallback: number): number | TransportError => {
  if (input === undefined) return fallback
  const d = Duration.fromInput(input)
  if (d._tag === "None") return fail(`${what}: ${JSON.stringify(input)} is not a duration (use milliseconds or e.g. "5 seconds")`)
  const ms = Duration.toMillis(d.value)
  return ms > 0 && Number.isFinite(ms) ? ms : fail(`${what} must be a positive, finite duration (got ${JSON.stringify(input)})`)
}

/** Checks `options` for a job of `size` ranks and resolves the defaults. */
export const resolve = (options: NatsOptions, size: number): NatsConfig | TransportError => {
  if (!Number.isInteger(size) || size < 1) return fail(`a NATS job needs at least one rank; got size ${size}`)
  const servers = parseServers(options.servers)
  if (servers.length === 0) return fail("no NATS server given: pass --nats nats://host:4222 (or servers: [...])")
  let localRanks: Array<number>
  if (options.ranks === undefined) localRanks = Array.from({ length: size }, (_, i) => i)
  else if (typeof options.ranks === "string") {
    const parsed = parseRanks(options.ranks, size)
    if (typeof parsed === "string") return fail(parsed)
    localRanks = parsed
  } else {
    const bad = options.ranks.find((r) => !Number.isInteger(r) || r < 0 || r >= size)
    if (bad !== undefined) return fail(`ranks: ${bad} is not a rank of a job of ${size} ranks (0-${size - 1})`)
    localRanks = [...new Set(options.ranks)].sort((a, b) => a - b)
  }
  if (localRanks.length === 0) return fail("ranks: this host would run no rank")
  const partial = localRanks.length < size
  if (partial && options.job === undefined) {
    return fail(`this host runs only some ranks (${options.ranks}) of ${size}: give every host the same --job id so that they find each other`)
  }
  const job = options.job ?? freshJobId()
  const badJob = checkJobId(job)
  if (badJob !== undefined) return fail(badJob)
  if (options.password !== undefined && options.user === undefined) return fail("a password needs a user (--user)")
  const joinTimeoutMs = millis("joinTimeout", options.joinTimeout, 30_000)
  const intervalMs = millis("heartbeat.interval", options.heartbeat?.interval, DEFAULT_HEARTBEAT.intervalMs)
  const timeoutMs = millis("heartbeat.timeout", options.heartbeat?.timeout, DEFAULT_HEARTBEAT.timeoutMs)
  const retransmitMs = millis("retransmit", options.retransmit, 1000)
  const reconnectTimeoutMs = millis("reconnectTimeout", options.reconnectTimeout, 20_000)
  const lingerMs = millis("linger", options.linger, 2000)
  for (const v of [joinTimeoutMs, intervalMs, timeoutMs, retransmitMs, reconnectTimeoutMs, lingerMs]) {
    if (v instanceof TransportError) return v
  }
  const heartbeat = { intervalMs: intervalMs as number, timeoutMs: timeoutMs as number }
  const badHeartbeat = checkSettings(heartbeat)
  if (badHeartbeat !== undefined) return fail(badHeartbeat)
  const windowBytes = options.window ?? defaultWindow(size)
  if (!Number.isSafeInteger(windowBytes) || windowBytes < 64 * 1024) return fail(`window must be at least 64 KiB (got ${options.window})`)
  const frameBytes = options.frameBytes ?? DEFAULT_FRAME_BYTES
  if (!Number.isSafeInteger(frameBytes) || frameBytes < 4096) return fail(`frameBytes must be at least 4096 (got ${options.frameBytes})`)
  const maxMessageBytes = options.maxMessageBytes ?? 16 * 1024 * MiB
  if (!(maxMessageBytes > 0)) return fail(`maxMessageBytes must be positive (got ${options.maxMessageBytes})`)
  const pollMicros = options.pollMicros ?? (localRanks.length <= availableParallelism() ? DEFAULT_POLL_MICROS : 0)
  if (!(pollMicros >= 0 && Number.isFinite(pollMicros))) return fail(`pollMicros must be a finite number of microseconds, 0 or more (got ${options.pollMicros})`)
  const jobKey = resolveKey(options, partial)
  if (jobKey instanceof TransportError) return jobKey
  return {
    servers,
    job,
    size,
    localRanks,
    creds: options.creds,
    user: options.user,
    password: options.password,
    token: options.token,
    tls: options.tls === undefined ? undefined : { ...options.tls },
    joinTimeoutMs: joinTimeoutMs as number,
    heartbeat,
    windowBytes,
    frameBytes,
    maxMessageBytes,
    reliable: options.acks ?? true,
    retransmitMs: retransmitMs as number,
    reconnectTimeoutMs: reconnectTimeoutMs as number,
    lingerMs: lingerMs as number,
    pollMicros,
    jobKey
  }
}

/** The job's key as hex: given, read from its file, or fresh when this launcher starts every rank. */
const resolveKey = (options: NatsOptions, partial: boolean): string | undefined | TransportError => {
  if (options.frameAuth === false) {
    if (options.jobKey !== undefined || options.jobKeyFile !== undefined) return fail("frameAuth: false and a job key exclude each other")
    return undefined
  }
  if (options.jobKey !== undefined && options.jobKeyFile !== undefined) return fail("give the job key either as jobKey or as --job-key-file, not both")
  let key: Uint8Array | undefined = options.jobKey
  if (key !== undefined && !(key instanceof Uint8Array && key.length >= MIN_KEY_BYTES)) {
    return fail(`jobKey must be a Uint8Array of at least ${MIN_KEY_BYTES} bytes`)
  }
  if (options.jobKeyFile !== undefined) {
    const read = readKeyFile(options.jobKeyFile)
    if (typeof read === "string") return fail(read)
    key = read
  }
  if (key === undefined && !partial) key = freshKey()
  return key === undefined ? undefined : Buffer.from(key).toString("hex")
}
