/**
 * `rankflow run --transport nats`: the examples as rank processes joined
 * through a real nats-server on loopback (one server, and a cluster of three),
 * a job split over two launchers, a killed rank, a join timeout.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startCluster, startServer, type NatsCluster, type NatsServer } from "../support/nats-server.ts"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { checkTrace } from "../support/chromeTrace.ts"
import { rankflow, startRankflow } from "../support/cli.ts"
import { checkOtlp, startCollector } from "../support/otlpCollector.ts"

const EXAMPLES: ReadonlyArray<readonly [string, number]> = [
  ["hello.ts", 4],
  ["arrays.ts", 2],
  ["parallel-write.ts", 4],
  ["rma-counter.ts", 4],
  ["ring.ts", 4],
  ["bcast-dict.ts", 4],
  ["pi.ts", 4],
  ["heat.ts", 4],
  ["wordcount.ts", 4],
  ["etl.ts", 4],
  ["tiles.ts", 4],
  ["gpu-axpy.ts", 2],
  ["gpu-allreduce.ts", 4],
  ["heat-gpu.ts", 4]
]

/** What a dashboard's /api/state says, as far as these tests read it. */
type DashboardState = { state: string; failure?: string; ranks: Array<{ rank: number; activity: string; doing: string }>; stages: Array<{ name: string }> }

/** Reads a dashboard's state at `url` until `ok` holds (the test's own timeout bounds it). */
const until = async (url: string, ok: (s: DashboardState) => boolean): Promise<DashboardState> => {
  for (;;) {
    const s = (await (await fetch(url)).json()) as DashboardState
    if (ok(s)) return s
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe("rankflow run --transport nats", () => {
  let server: NatsServer
  let cluster: NatsCluster
  beforeAll(async () => {
    server = await startServer()
    cluster = await startCluster(3)
  }, 120_000)
  afterAll(async () => {
    await server?.stop()
    await cluster?.stop()
  })

  for (const [file, n] of EXAMPLES) {
    it(`runs examples/${file} on ${n} rank processes through one server`, async () => {
      const r = await rankflow(["run", "-n", String(n), "--transport", "nats", "--nats", server.url, `examples/${file}`])
      expect(r.stderr).not.toContain("failed")
      expect(r.code).toBe(0)
    }, 120_000)
  }

  for (const file of ["ring.ts", "heat.ts", "bcast-dict.ts"]) {
    it(`runs examples/${file} with ranks spread over a 3-server cluster`, async () => {
      const r = await rankflow(["run", "-n", "4", "--transport", "nats", "--nats", cluster.urls, `examples/${file}`])
      expect(r.stderr).not.toContain("failed")
      expect(r.code).toBe(0)
    }, 120_000)
  }

  it("--trace writes one Chrome trace of the rank processes: a track each, every message's send paired with its arrival", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rankflow-trace-"))
    try {
      const file = join(dir, "ring.json")
      const r = await rankflow(["run", "-n", "3", "--transport", "nats", "--nats", server.url, "--trace", file, "examples/ring.ts"])
      expect(r.code).toBe(0)
      // Three rank processes, three clocks: an arrival may be stamped a little before its send.
      checkTrace(file, 3, 10_000)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 120_000)

  it("--otlp sends the rank processes' spans to an OpenTelemetry collector, each arrival linked to its send", async () => {
    const collector = await startCollector()
    try {
      const r = await rankflow(["run", "-n", "3", "--transport", "nats", "--nats", server.url, "--otlp", `${collector.url}/v1/traces`, "examples/ring.ts"])
      expect(r.code).toBe(0)
      expect(collector.received.map((x) => x.path)).toEqual(["/v1/traces"])
      checkOtlp(collector.received[0]!.body, 3)
    } finally {
      await collector.close()
    }
  }, 120_000)

  it("runs examples/cpi-spawn.ts: one master spawns four workers into the spare rank processes of --universe 5", async () => {
    const r = await rankflow(["run", "-n", "1", "--universe", "5", "--transport", "nats", "--nats", server.url, "examples/cpi-spawn.ts", "4"])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/π ≈ 3\.14159265359\d* \(error .*\) from 4 spawned workers/)
  }, 120_000)

  it("runs examples/client-server.ts: two jobs meet through a published name and talk through their link", async () => {
    const run = (n: number, role: string) => rankflow(["run", "-n", String(n), "--transport", "nats", "--nats", server.url, "examples/client-server.ts", role])
    const [s, c] = await Promise.all([run(2, "server"), run(3, "client")])
    expect([s.code, c.code]).toEqual([0, 0])
    expect(s.stdout).toContain("served 3 clients: their numbers add up to 6")
    for (const r of [0, 1, 2]) expect(c.stdout).toContain(`client ${r}: the server job says the sum is 6`)
  }, 120_000)

  it("--dashboard shows the rank processes: what each waits for, a pipeline's stages, then the failed rank (its /api/state)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rankflow-nats-dashboard-"))
    const job = startRankflow(["run", "-n", "4", "--transport", "nats", "--nats", server.url, "--dashboard", "127.0.0.1:0", "--dashboard-keep", "60s", "test/programs/dashboard.ts", dir], { timeoutMs: 120_000 })
    try {
      await job.waitFor(/dashboard at http:\/\/127\.0\.0\.1:\d+\//)
      const url = new URL("api/state", /dashboard at (\S+)/.exec(job.stderr())![1]!).href
      // The pipeline runs until the dashboard has shown all its stages.
      await until(url, (s) => s.stages.length === 4)
      writeFileSync(join(dir, "pipeline-seen"), "")
      const waiting = await until(url, (s) => /^recv\(source 3, tag 7\) on world/.test(s.ranks.find((r) => r.rank === 2)?.doing ?? ""))
      expect(waiting.ranks.map((r) => r.rank)).toEqual([0, 1, 2, 3])
      expect(waiting.stages.map((s) => s.name).sort()).toEqual(["numbers", "slow", "square", "total"])
      writeFileSync(join(dir, "fail"), "")
      const failed = await until(url, (s) => s.state === "failed")
      expect(failed.failure).toContain("rank 3 gives up on purpose")
      expect(failed.ranks.find((r) => r.rank === 3)!.activity).toBe("failed")
    } finally {
      job.kill("SIGINT")
      await job.done
      rmSync(dir, { recursive: true, force: true })
    }
  }, 120_000)

  it("a job over two launchers has one dashboard: the launchers publish on the job's stats channel, read by --dashboard and by `rankflow dashboard --job`", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rankflow-split-dashboard-"))
    const job = `dash-${process.pid}`
    const common = ["run", "--transport", "nats", "--nats", server.url, "--job", job, "--size", "4"]
    const first = startRankflow([...common, "--ranks", "0-1", "--dashboard", "127.0.0.1:0", "--dashboard-keep", "60s", "test/programs/dashboard.ts", dir], { timeoutMs: 120_000 })
    const second = startRankflow([...common, "--ranks", "2-3", "test/programs/dashboard.ts", dir], { timeoutMs: 120_000 })
    const watcher = startRankflow(["dashboard", "--nats", server.url, "--job", job, "--listen", "127.0.0.1:0"], { timeoutMs: 120_000 })
    try {
      await first.waitFor(/dashboard at http:\/\/127\.0\.0\.1:\d+\//)
      await watcher.waitFor(/dashboard of job .* at http:\/\/127\.0\.0\.1:\d+\//)
      const urls = [first.stderr(), watcher.stderr()].map((text) => new URL("api/state", /at (http:\S+)/.exec(text)![1]!).href)
      for (const url of urls) await until(url, (s) => s.stages.length === 4)
      writeFileSync(join(dir, "pipeline-seen"), "")
      for (const url of urls) {
        const s = await until(url, (s) => /^recv\(source 3, tag 7\) on world/.test(s.ranks.find((r) => r.rank === 2)?.doing ?? ""))
        expect(s.ranks.map((r) => r.rank)).toEqual([0, 1, 2, 3])
      }
      writeFileSync(join(dir, "fail"), "")
      for (const url of urls) {
        const s = await until(url, (s) => s.state === "failed")
        expect(s.failure).toContain("rank 3 gives up on purpose")
      }
    } finally {
      for (const p of [first, second, watcher]) p.kill("SIGINT")
      await Promise.all([first.done, second.done, watcher.done])
      rmSync(dir, { recursive: true, force: true })
    }
  }, 120_000)

  it("PoolExecutor.make spawns its workers into the spare rank processes (examples/pool-primes.ts)", async () => {
    const r = await rankflow(["run", "-n", "1", "--universe", "4", "--transport", "nats", "--nats", server.url, "examples/pool-primes.ts", "1000000"])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain("78498 primes below 1000000, counted in 4 blocks by 3 workers")
  }, 120_000)

  it("spawns into another launcher's spare ranks: a job over two hosts, the second holding only spare ranks (cpi-spawn.ts)", async () => {
    const common = ["run", "--transport", "nats", "--nats", server.url, "--job", `spares-${process.pid}`, "--size", "1", "--universe", "4"]
    const [master, spares] = await Promise.all([
      rankflow([...common, "--ranks", "0", "examples/cpi-spawn.ts", "3"]),
      rankflow([...common, "--ranks", "1-3", "examples/cpi-spawn.ts"])
    ])
    expect([master.code, spares.code]).toEqual([0, 0])
    expect(master.stdout).toMatch(/π ≈ 3\.14159265359\d* \(error .*\) from 3 spawned workers/)
  }, 120_000)

  it("a spawn that no launcher of the job has room for is refused with SpawnError, and says how to make room", async () => {
    const common = ["run", "--transport", "nats", "--nats", server.url, "--job", `no-room-${process.pid}`, "--size", "1", "--universe", "3"]
    const [master, spares] = await Promise.all([
      rankflow([...common, "--ranks", "0", "examples/cpi-spawn.ts", "4"]),
      rankflow([...common, "--ranks", "1-2", "examples/cpi-spawn.ts"])
    ])
    expect(master.code).not.toBe(0)
    expect(master.stderr).toContain("4 ranks wanted, but neither this launcher nor another of the job has that many free slots")
    expect(spares.code).toBe(0)
  }, 120_000)

  it("--log-level filters the logs of rank processes too", async () => {
    const r = await rankflow(["run", "--log-level", "none", "-n", "2", "--transport", "nats", "--nats", server.url, "examples/hello.ts"])
    expect(r.code).toBe(0)
    expect(r.stdout).not.toContain("Hello")
  }, 120_000)

  it("passes a rank process's own exit code on (process.exit(3) makes the launcher exit 3)", async () => {
    const r = await rankflow(["run", "-n", "2", "--transport", "nats", "--nats", server.url, "test/programs/exits.ts"])
    expect(r.code).toBe(3)
    expect(r.stderr).toMatch(/rank 1 failed: .*exit(ed)? (with )?code 3/)
  }, 120_000)

  it("runs one job from two launchers (--job, --size, --ranks), as on two hosts", async () => {
    const job = `split-${process.pid}`
    const common = ["run", "--transport", "nats", "--nats", cluster.urls, "--job", job, "--size", "4"]
    const [a, b] = await Promise.all([
      rankflow([...common, "--ranks", "0-1", "examples/ring.ts"]),
      rankflow([...common, "--ranks", "2-3", "examples/ring.ts"])
    ])
    expect([a.code, b.code]).toEqual([0, 0])
    expect(a.stdout).toContain("[0]")
    expect(a.stdout).toContain("the ranks add up to 6")
    expect(b.stdout).toContain("[3]")
    expect(b.stdout).not.toContain("[0]")
  }, 120_000)

  it("a rank that fails on one host is named as the failed rank on the other host too, with its own reason", async () => {
    const job = `blame-${process.pid}`
    const common = ["run", "--transport", "nats", "--nats", server.url, "--job", job, "--size", "4"]
    const [a, b] = await Promise.all([
      rankflow([...common, "--ranks", "0-1", "test/programs/fails.ts"]),
      rankflow([...common, "--ranks", "2-3", "test/programs/fails.ts"])
    ])
    expect(a.code).not.toBe(0)
    expect(b.code).not.toBe(0)
    expect(a.stderr).toMatch(/rankflow: rank 1 failed: rank 1 gives up/)
    // The other host blames rank 1 (on another host), not its own rank whose program stopped on it.
    expect(b.stderr).toMatch(/rankflow: rank 1 failed: .*rank 1 gives up/)
    expect(b.stderr).not.toMatch(/rankflow: rank [23] failed/)
    expect(b.stderr).toMatch(/runs on another host/)
  }, 120_000)

  it("two launchers claiming one rank (--ranks 0-2 and 2-3) both stop before the program starts, naming the rank", async () => {
    const job = `overlap-${process.pid}`
    const common = ["run", "--transport", "nats", "--nats", server.url, "--job", job, "--size", "4", "--join-timeout", "20"]
    const [a, b] = await Promise.all([
      rankflow([...common, "--ranks", "0-2", "examples/hello.ts"]),
      rankflow([...common, "--ranks", "2-3", "examples/hello.ts"])
    ])
    for (const r of [a, b]) {
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(/two processes claim rank 2 of job overlap-\d+|found a conflict: two processes claim rank 2/)
      expect(r.stdout).not.toContain("Hello")
      expect(r.stderr).not.toMatch(/missing rank/)
    }
  }, 120_000)

  it("launchers given different --size both report the mismatch at once", async () => {
    const job = `sizes-${process.pid}`
    const common = ["run", "--transport", "nats", "--nats", server.url, "--job", job, "--join-timeout", "20"]
    const [a, b] = await Promise.all([
      rankflow([...common, "--size", "4", "--ranks", "0-1", "examples/hello.ts"]),
      rankflow([...common, "--size", "3", "--ranks", "2", "examples/hello.ts"])
    ])
    for (const r of [a, b]) {
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(/was started for a job of \d ranks, this rank for \d: give every host the same --size/)
      expect(r.stderr).not.toMatch(/missing rank/)
    }
  }, 120_000)

  it("a rank that runs out of memory is reported as such, not as a rank that stopped responding", async () => {
    const r = await rankflow(["run", "-n", "2", "--transport", "nats", "--nats", server.url, "test/programs/out-of-memory.ts"], {
      env: { NODE_OPTIONS: "--max-old-space-size=96" }
    })
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/rankflow: rank 1 failed: rank 1 ran out of memory: its process reached V8's JavaScript heap limit/)
  }, 120_000)

  it("reports a killed rank and exits non-zero", async () => {
    const r = await rankflow(["run", "-n", "3", "--transport", "nats", "--nats", server.url, "--heartbeat-timeout", "4", "test/programs/killed.ts"])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/rank 1 failed/)
  }, 120_000)

  it("fails after --join-timeout naming the ranks that never joined", async () => {
    const r = await rankflow([
      "run", "--transport", "nats", "--nats", server.url, "--job", `lonely-${process.pid}`, "--size", "3", "--ranks", "0-1",
      "--join-timeout", "2", "examples/hello.ts"
    ])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/missing rank/)
    expect(r.stderr).toContain("2")
  }, 120_000)
})
