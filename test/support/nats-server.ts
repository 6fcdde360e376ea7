/**
 * Real nats-server processes for tests: single servers and 3-server clusters
 * joined by routes, on free loopback ports, started and stopped by the tests.
 * Nothing listens on or connects to a non-loopback address.
 */
import { connect } from "@nats-io/transport-node"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"

const ADVICE = `nats-server is not installed, and the NATS transport's tests start real servers.
  Debian/Ubuntu:  apt-get install nats-server   (or, as root: npm run setup:system)
  elsewhere:      put a nats-server (2.9 or newer) binary on PATH`

let binary: string | undefined

/** The nats-server binary; throws the setup script's advice when it is missing. */
export const natsServerBinary = (): string => {
  if (binary !== undefined) return binary
  for (const candidate of ["nats-server", "/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]) {
    try {
      execFileSync(candidate, ["--version"], { stdio: "ignore" })
      return (binary = candidate)
    } catch {
      // Try the next place.
    }
  }
  throw new Error(ADVICE)
}

/** A free TCP port on 127.0.0.1 (free when asked; the server that takes it retries if it lost a race). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = createServer()
    s.unref()
    s.on("error", reject)
    s.listen(0, "127.0.0.1", () => {
      const address = s.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      s.close(() => resolve(port))
    })
  })

export interface ServerOptions {
  readonly user?: string
  readonly password?: string
  readonly token?: string
  /** TLS: the server's certificate and key; with `verify`, clients must present a certificate signed by `ca`. */
  readonly tls?: { readonly cert: string; readonly key: string; readonly ca?: string; readonly verify?: boolean }
  /** Lines of a nats-server configuration file (e.g. `max_payload: 65536`). */
  readonly config?: ReadonlyArray<string>
}

interface ClusterSpec {
  readonly name: string
  readonly port: number
  readonly routes: ReadonlyArray<number>
}

export interface NatsServer {
  /** `nats://127.0.0.1:<port>` */
  readonly url: string
  readonly port: number
  /** Whether the process is up. */
  readonly running: boolean
  /** Kills the server abruptly (SIGKILL): clients lose their connection without a goodbye. */
  kill(): Promise<void>
  /** Starts it again on the same ports. */
  restart(): Promise<void>
  /** Stops it (SIGTERM, then SIGKILL) and removes its files. */
  stop(): Promise<void>
}

const READY_MS = 10_000

class ServerProcess implements NatsServer {
  readonly port: number
  readonly url: string
  private child: ChildProcess | undefined
  private readonly args: Array<string>
  private readonly dir: string

  constructor(port: number, options: ServerOptions, cluster: ClusterSpec | undefined) {
    this.port = port
    this.url = `nats://127.0.0.1:${port}`
    this.dir = mkdtempSync(join(tmpdir(), "rankflow-nats-"))
    this.args = ["-a", "127.0.0.1", "-p", String(port)]
    if (options.user !== undefined) this.args.push("--user", options.user, "--pass", options.password ?? "")
    if (options.token !== undefined) this.args.push("--auth", options.token)
    if (options.tls !== undefined) {
      this.args.push("--tls", "--tlscert", options.tls.cert, "--tlskey", options.tls.key)
      if (options.tls.verify === true) this.args.push("--tlsverify", "--tlscacert", options.tls.ca ?? "")
    }
    if (options.config !== undefined) {
      const file = join(this.dir, "server.conf")
      writeFileSync(file, options.config.join("\n") + "\n")
      this.args.push("-c", file)
    }
    if (cluster !== undefined) {
      this.args.push("--cluster_name", cluster.name, "--cluster", `nats://127.0.0.1:${cluster.port}`)
      this.args.push("--routes", cluster.routes.map((p) => `nats://127.0.0.1:${p}`).join(","))
    }
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
  }

  /** Starts the process; resolves once it logs that it is ready. */
  start(): Promise<void> {
    const child = spawn(natsServerBinary(), this.args, { stdio: ["ignore", "ignore", "pipe"] })
    this.child = child
    return new Promise((resolve, reject) => {
      let log = ""
      let ready = false
      const timer = setTimeout(() => fail(`did not become ready within ${READY_MS} ms`), READY_MS)
      const fail = (why: string) => {
        clearTimeout(timer)
        if (!ready) reject(new Error(`nats-server on port ${this.port} ${why}:\n${log.slice(-2000)}`))
      }
      child.stderr!.setEncoding("utf8")
      child.stderr!.on("data", (chunk: string) => {
        if (ready) return
        log += chunk
        if (log.includes("Server is ready")) {
          ready = true
          clearTimeout(timer)
          resolve()
        }
      })
      child.on("exit", (code, signal) => fail(`exited (${signal ?? `code ${code}`})`))
      child.on("error", (e) => fail(`could not start: ${e.message}`))
    })
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.child
    if (child === undefined || !this.running) return
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
    child.kill(signal)
    await exited
  }

  kill(): Promise<void> {
    return this.signal("SIGKILL")
  }

  async restart(): Promise<void> {
    await this.kill()
    await this.start()
  }

  async stop(): Promise<void> {
    const child = this.child
    if (child !== undefined && this.running) {
      const timer = setTimeout(() => child.kill("SIGKILL"), 2000)
      await this.signal("SIGTERM")
      clearTimeout(timer)
    }
    rmSync(this.dir, { recursive: true, force: true })
  }
}

const startWithRetries = async (make: () => Promise<ServerProcess>): Promise<ServerProcess> => {
  let last: unknown
  for (let attempt = 0; attempt < 3; attempt++) {
    const server = await make()
    try {
      await server.start()
      return server
    } catch (e) {
      // Most likely another process took the port between freePort and the server's bind.
      last = e
      await server.stop()
    }
  }
  throw last
}

/** Starts one server on a free loopback port. */
export const startServer = (options: ServerOptions = {}): Promise<NatsServer> =>
  startWithRetries(async () => new ServerProcess(await freePort(), options, undefined))

export interface NatsCluster {
  readonly servers: ReadonlyArray<NatsServer>
  /** Every server's URL, comma-separated (what `--nats` takes). */
  readonly urls: string
  stop(): Promise<void>
}

/** Waits until a message published on each server reaches a subscriber on every other one. */
const waitForRoutes = async (urls: ReadonlyArray<string>): Promise<void> => {
  const conns = await Promise.all(urls.map((u) => connect({ servers: u })))
  try {
    const deadline = Date.now() + READY_MS
    const subject = `rankflow-test.routes.${process.pid}.${Date.now()}`
    const heard = conns.map(() => new Set<number>())
    conns.forEach((c, i) =>
      c.subscribe(subject, {
        callback: (_e, m) => {
          const from = Number(m.string())
          if (from !== i) heard[i]!.add(from)
        }
      })
    )
    await Promise.all(conns.map((c) => c.flush()))
    while (heard.some((h) => h.size < conns.length - 1)) {
      if (Date.now() > deadline) throw new Error(`the cluster's routes did not form within ${READY_MS} ms`)
      conns.forEach((c, i) => c.publish(subject, String(i)))
      await new Promise((r) => setTimeout(r, 50))
    }
  } finally {
    await Promise.all(conns.map((c) => c.close()))
  }
}

/** Starts `n` servers (3 by default) joined by routes into one cluster. */
export const startCluster = async (n = 3, options: ServerOptions = {}): Promise<NatsCluster> => {
  for (let attempt = 0; ; attempt++) {
    const clientPorts: Array<number> = []
    const routePorts: Array<number> = []
    for (let i = 0; i < n; i++) {
      clientPorts.push(await freePort())
      routePorts.push(await freePort())
    }
    const name = `rankflow-test-${process.pid}-${attempt}`
    const servers = clientPorts.map((port, i) =>
      new ServerProcess(port, options, { name, port: routePorts[i]!, routes: routePorts.filter((_, j) => j !== i) })
    )
    try {
      await Promise.all(servers.map((s) => s.start()))
      await waitForRoutes(servers.map((s) => s.url))
      return { servers, urls: servers.map((s) => s.url).join(","), stop: async () => void await Promise.all(servers.map((s) => s.stop())) }
    } catch (e) {
      await Promise.all(servers.map((s) => s.stop()))
      if (attempt >= 2) throw e
    }
  }
}

export interface TestCertificates {
  readonly dir: string
  readonly ca: string
  readonly serverCert: string
  readonly serverKey: string
  readonly clientCert: string
  readonly clientKey: string
  remove(): void
}

/** Whether openssl is available to make test certificates. */
export const haveOpenssl = (): boolean => {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
}

/** A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl. */
export const makeCertificates = (): TestCertificates => {
  const dir = mkdtempSync(join(tmpdir(), "rankflow-tls-"))
  const f = (name: string) => join(dir, name)
  const openssl = (...args: Array<string>) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" })
  const key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
  openssl("req", "-x509", ...key, "-keyout", f("ca-key.pem"), "-out", f("ca.pem"), "-days", "1", "-subj", "/CN=rankflow test CA")
  writeFileSync(f("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
  writeFileSync(f("client.ext"), "extendedKeyUsage=clientAuth\n")
  for (const who of ["server", "client"]) {
    openssl("req", ...key, "-keyout", f(`${who}-key.pem`), "-out", f(`${who}.csr`), "-subj", `/CN=rankflow test ${who}`)
    openssl("x509", "-req", "-in", f(`${who}.csr`), "-CA", f("ca.pem"), "-CAkey", f("ca-key.pem"), "-CAcreateserial", "-out", f(`${who}-cert.pem`), "-days", "1", "-extfile", f(`${who}.ext`))
  }
  return {
    dir,
    ca: f("ca.pem"),
    serverCert: f("server-cert.pem"),
    serverKey: f("server-key.pem"),
    clientCert: f("client-cert.pem"),
    clientKey: f("client-key.pem"),
    remove: () => rmSync(dir, { recursive: true, force: true })
  }
}
