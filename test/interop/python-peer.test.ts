/**
 * A rank written in Python from docs/nats-protocol.md alone
 * (interop/python/rankflow_peer.py) joins a NATS job beside TypeScript ranks:
 * p2p both ways with cbor, msgpack and the raw path (3.2 MB each way, in
 * several frames under flow control), ssend both ways, a barrier and two
 * broadcasts (one rooted at the Python rank), a clean end of job; and, when
 * it dies without a word, the TypeScript ranks' receives from it fail with
 * RankFailed. On one server, and on a 3-server cluster with the Python rank
 * on another server than the TypeScript ranks and a job key.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ROOT, rankflow } from "../support/cli.ts"
import { startCluster, startServer, type NatsCluster, type NatsServer } from "../support/nats-server.ts"
import { pythonWithCodecs } from "../support/python.ts"

interface Output {
  readonly code: number | null
  readonly output: string
}

/** Runs interop/python/demo_rank.py as the last rank of `job`. */
const python = (args: ReadonlyArray<string>): Promise<Output> =>
  new Promise((resolve, reject) => {
    const child = spawn(pythonWithCodecs(), ["demo_rank.py", ...args], { cwd: join(ROOT, "interop/python"), stdio: ["ignore", "pipe", "pipe"] })
    let output = ""
    child.stdout.on("data", (d) => (output += d))
    child.stderr.on("data", (d) => (output += d))
    const timer = setTimeout(() => child.kill("SIGKILL"), 90_000)
    child.on("error", reject)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, output })
    })
  })

let jobs = 0

const setups: ReadonlyArray<readonly [string, () => { ts: string; py: string; key?: string }]> = [
  ["one server", () => ({ ts: server.url, py: server.url })],
  ["a 3-server cluster (the Python rank on another server, with a job key)", () => ({ ts: cluster.servers[0]!.url, py: cluster.servers[2]!.url, key: keyFile })]
]

let server: NatsServer
let cluster: NatsCluster
let keyFile: string

describe("a Python rank in a NATS job", () => {
  beforeAll(async () => {
    pythonWithCodecs() // fails here, with what to install, when Python's cbor2 or msgpack is missing
    server = await startServer()
    cluster = await startCluster(3)
    keyFile = join(mkdtempSync(join(tmpdir(), "rankflow-py-")), "job.key")
    writeFileSync(keyFile, "0123456789abcdef0123456789abcdef\n", { mode: 0o600 })
  }, 120_000)
  afterAll(async () => {
    await server?.stop()
    await cluster?.stop()
  })

  for (const [name, where] of setups) {
    it(`exchanges messages with two TypeScript ranks and ends the job cleanly, on ${name}`, async () => {
      const { ts, py, key } = where()
      const job = `py-${process.pid}-${jobs++}`
      const keyArgs = key === undefined ? [] : ["--job-key-file", key]
      const [tsRun, pyRun] = await Promise.all([
        rankflow(["run", "--transport", "nats", "--nats", ts, "--job", job, "--size", "3", "--ranks", "0-1", ...keyArgs, "test/programs/python-peer.ts"], { timeoutMs: 90_000 }),
        python(["--nats", py, "--job", job, "--rank", "2", "--size", "3", ...keyArgs])
      ])
      expect(pyRun.output).toContain("python: joined as rank 2, world context 65536")
      expect(pyRun.output).toContain("python: rank 1 replied {'sum': 6, 'to': 1}, rank 0 broadcast {'round': 1, 'ranks': 3}")
      expect(pyRun.output).toContain("python: left the job")
      expect(pyRun.code).toBe(0)
      expect(tsRun.stdout).toContain('rank 0: echo hello from rank 0, keys [[1,"int"],["1","str"]], big 72057594037927936, raw doubled, sync from python')
      for (const rank of [0, 1]) expect(tsRun.stdout).toContain(`rank ${rank}: python broadcast {"from python":true,"reply":{"sum":6,"to":1}}`)
      expect(tsRun.code).toBe(0)
    }, 120_000)

    it(`tells the TypeScript ranks when the Python rank dies, on ${name}`, async () => {
      const { ts, py, key } = where()
      const job = `py-${process.pid}-${jobs++}`
      const keyArgs = key === undefined ? [] : ["--job-key-file", key]
      const [tsRun, pyRun] = await Promise.all([
        rankflow(["run", "--transport", "nats", "--nats", ts, "--job", job, "--size", "3", "--ranks", "0-1", ...keyArgs, "test/programs/python-peer-dies.ts"], { timeoutMs: 90_000 }),
        python(["--nats", py, "--job", job, "--rank", "2", "--size", "3", "--die-after-barrier", ...keyArgs])
      ])
      const outputs = `the TypeScript ranks' stderr:\n${tsRun.stderr}\nthe Python rank's output:\n${pyRun.output}`
      expect(pyRun.code, outputs).toBe(3)
      for (const rank of [0, 1]) {
        expect(tsRun.stdout, outputs).toMatch(new RegExp(`rank ${rank}: the recv from the python rank failed with RankFailed: rank 2 failed`))
      }
      expect(tsRun.code, outputs).toBe(0)
    }, 120_000)
  }
})
