/**
 * Connecting to NATS: credentials and TLS passed through to the client, the
 * client's reconnect settings, and connection errors turned into
 * TransportErrors a person can act on.
 */
import { type ConnectionOptions, connect as natsConnect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node"
import { readFileSync } from "node:fs"
import { TransportError } from "../Transport.ts"
import type { NatsConfig } from "./Options.ts"

const fail = (message: string, cause?: unknown): TransportError => new TransportError({ transport: "nats", message, cause })

/** Ranks start on different servers: rank r first tries server r mod n, then the next ones. */
export const serversFor = (servers: ReadonlyArray<string>, rank: number): Array<string> => {
  const k = rank % servers.length
  return [...servers.slice(k), ...servers.slice(0, k)]
}

/** The client options of a connection for `rank` (-1: the launcher's probe). */
export const connectionOptions = (config: NatsConfig, rank: number): ConnectionOptions | TransportError => {
  const options: ConnectionOptions = {
    servers: serversFor(config.servers, Math.max(0, rank)),
    noRandomize: true,
    name: rank < 0 ? `rankflow ${config.job} launcher` : `rankflow ${config.job} rank ${rank}`,
    // A rank never receives its own frames: self-sends stay in the process.
    noEcho: true,
    // rankflow decides when a rank gives up (reconnectTimeout), not the client's attempt count.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    reconnectJitter: 100,
    // Half-open connections (a host gone without a reset) are noticed by the client's own pings.
    pingInterval: 5000,
    maxPingOut: 3,
    timeout: 5000
  }
  if (config.user !== undefined) {
    options.user = config.user
    if (config.password !== undefined) options.pass = config.password
  }
  if (config.token !== undefined) options.token = config.token
  if (config.creds !== undefined) {
    let creds: Uint8Array
    try {
      creds = readFileSync(config.creds)
    } catch (e) {
      return fail(`cannot read the NATS credentials file ${config.creds}: ${e instanceof Error ? e.message : String(e)}`, e)
    }
    options.authenticator = credsAuthenticator(creds)
  }
  if (config.tls !== undefined) {
    const tls: NonNullable<ConnectionOptions["tls"]> = {}
    if (config.tls.ca !== undefined) tls.caFile = config.tls.ca
    if (config.tls.cert !== undefined) tls.certFile = config.tls.cert
    if (config.tls.key !== undefined) tls.keyFile = config.tls.key
    options.tls = tls
  }
  return options
}

const credentialsDescription = (config: NatsConfig): string =>
  config.creds !== undefined
    ? `the credentials file ${config.creds}`
    : config.user !== undefined
    ? `user ${JSON.stringify(config.user)} and its password`
    : config.token !== undefined
    ? "the token"
    : "no credentials"

/** A connection error as a TransportError that says what to check. */
export const describeConnectError = (config: NatsConfig, e: unknown): TransportError => {
  const where = config.servers.join(", ")
  const message = e instanceof Error ? e.message : String(e)
  const name = e instanceof Error ? e.name : ""
  if (name === "AuthorizationError" || /authoriz|authentication/i.test(message)) {
    const advice = config.creds === undefined && config.user === undefined && config.token === undefined
      ? "the server requires authentication: pass --user/--password, --token or --creds"
      : "check --user/--password, --token or --creds"
    return fail(`the NATS server at ${where} refused ${credentialsDescription(config)} (${message}): ${advice}`, e)
  }
  const cause = e instanceof Error && e.cause instanceof Error ? `: ${e.cause.message}` : ""
  if (/certificate|self.signed|TLS|SSL/i.test(message + cause)) {
    return fail(`TLS with the NATS server at ${where} failed (${message}${cause}): check --tls-ca (the CA that signed the server's certificate), and --tls-cert/--tls-key if the server verifies clients`, e)
  }
  if (name === "ConnectionError" || /refused|ECONN|ENOTFOUND|timeout/i.test(message)) {
    return fail(`cannot reach a NATS server at ${where} (${message}${cause}): is nats-server running there and reachable?`, e)
  }
  return fail(`cannot connect to NATS at ${where}: ${message}${cause}`, e)
}

/** Connects `rank` (-1: the launcher) to the job's servers. */
export const connect = async (config: NatsConfig, rank: number): Promise<NatsConnection> => {
  const options = connectionOptions(config, rank)
  if (options instanceof TransportError) throw options
  try {
    return await natsConnect(options)
  } catch (e) {
    throw describeConnectError(config, e)
  }
}
