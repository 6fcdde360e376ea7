import { describe, expect, it } from "vitest"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { checkTrace } from "../support/chromeTrace.ts"
import { rankflow } from "../support/cli.ts"
import { checkOtlp, startCollector } from "../support/otlpCollector.ts"

describe("rankflow run", () => {
  it("runs examples/hello.ts on 4 ranks: four hellos, each prefixed with its rank, exit code 0", async () => {
    const r = await rankflow(["run", "-n", "4", "examples/hello.ts"])
    expect(r.code).toBe(0)
    for (let rank = 0; rank < 4; rank++) {
      expect(r.stdout).toMatch(new RegExp(`^\\[${rank}\\] .*Hello! I'm rank ${rank} from 4 running in total\\.\\.\\.`, "m"))
    }
    expect(r.stdout.match(/Hello!/g)).toHaveLength(4)
  })

  it("runs a rank program with a GPU device on each rank, which exits cleanly (exit code 0, nothing left running)", async () => {
    const r = await rankflow(["run", "-n", "2", "examples/gpu-allreduce.ts"])
    expect(r.stderr).not.toContain("failed")
    expect(r.code).toBe(0)
    expect(r.stdout.match(/sum over 1048576 elements = 3145728/g)).toHaveLength(2)
  }, 120_000)

  it("runs examples/cpi-spawn.ts: one master spawns four workers (--universe 5) that compute π with it", async () => {
    const r = await rankflow(["run", "-n", "1", "--universe", "5", "examples/cpi-spawn.ts", "4"])
    expect(r.stderr).toBe("")
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^\[0\] .*π ≈ 3\.14159265359\d* \(error .*\) from 4 spawned workers/m)
  })

  it("refuses a --universe smaller than the job, and says why a spawn finds no free slot", async () => {
    const small = await rankflow(["run", "-n", "2", "--universe", "1", "examples/cpi-spawn.ts"])
    expect(small.code).toBe(2)
    expect(small.stderr).toMatch(/--universe 1 is smaller than the job \(2 ranks\)/)
    const full = await rankflow(["run", "-n", "1", "examples/cpi-spawn.ts", "2"])
    expect(full.code).toBe(1)
    expect(full.stderr).toMatch(/SpawnError: spawn: 2 ranks wanted but 0 free slots left; start the job with a larger universe \(rankflow run --universe <n>/)
  })

  it("--otlp sends the run's spans to an OpenTelemetry collector (OTLP/HTTP JSON): one trace, each arrival linked to its send; an unreachable collector is reported and the run stands", async () => {
    const collector = await startCollector()
    try {
      const r = await rankflow(["run", "-n", "4", "--otlp", collector.url, "examples/ring.ts"])
      expect(r.code).toBe(0)
      expect(collector.received.map((x) => x.path)).toEqual(["/v1/traces"])
      const spans = checkOtlp(collector.received[0]!.body, 4)
      expect(spans.some((s) => s.name === "sendrecv")).toBe(true)
    } finally {
      await collector.close()
    }
    const gone = await rankflow(["run", "-n", "2", "--otlp", collector.url, "examples/hello.ts"])
    expect(gone.code).toBe(0)
    expect(gone.stderr).toContain(`could not send the trace to ${collector.url}/v1/traces`)
  })

  it("--trace writes a Chrome trace: a track per rank, the calls as spans, each message a flow from its send to its arrival and on to the call that took it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rankflow-trace-"))
    try {
      const file = join(dir, "ring.json")
      const r = await rankflow(["run", "-n", "4", "--trace", file, "examples/ring.ts"])
      expect(r.code).toBe(0)
      expect(r.stderr).toContain(`rankflow: trace written to ${file}`)
      const events = checkTrace(file, 4)
      // ring.ts: each rank's three sendrecv calls on its track.
      for (let rank = 0; rank < 4; rank++) expect(events.filter((e) => e.ph === "X" && e.name === "sendrecv" && e.tid === rank).length).toBeGreaterThanOrEqual(3)
      // A parallel file's calls are spans too.
      const files = join(dir, "write.json")
      expect((await rankflow(["run", "-n", "2", "--trace", files, "examples/parallel-write.ts"])).code).toBe(0)
      const fileSpans = checkTrace(files, 2).filter((e) => e.ph === "X" && (e as { cat?: string }).cat === "file")
      for (let rank = 0; rank < 2; rank++) expect(fileSpans.filter((e) => e.name === "writeAtAll" && e.tid === rank)).toHaveLength(1)
      // Codec work and a pipeline's stages are spans too: wordcount's values go through pickle, each stage's batches on its rank.
      const counts = join(dir, "wordcount.json")
      expect((await rankflow(["run", "-n", "3", "--trace", counts, "examples/wordcount.ts", "20000"])).code).toBe(0)
      const spans = checkTrace(counts, 3).filter((e) => e.ph === "X") as ReadonlyArray<{ name: string; cat?: string; tid: number; args?: Record<string, unknown> }>
      const codec = spans.filter((e) => e.cat === "codec")
      expect(new Set(codec.map((e) => e.name))).toEqual(new Set(["encode", "decode"]))
      expect(codec.every((e) => e.args?.["codec"] === "pickle" && Number(e.args?.["bytes"]) > 0)).toBe(true)
      const stages = spans.filter((e) => e.cat === "pipeline")
      expect(new Set(stages.map((e) => e.name))).toEqual(new Set(["split", "count", "result"]))
      expect(stages.reduce((n, e) => n + Number(e.args?.["items"]), 0)).toBeGreaterThan(20000)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("passes the script its own arguments, already when its module loads", async () => {
    const r = await rankflow(["run", "-n", "2", "test/programs/argv.ts", "--flag", "value"])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain("[0] args: --flag value; at load: --flag value")
    expect(r.stdout).toContain("[1] args: --flag value; at load: --flag value")
  })

  it("reports a failing rank with its error and stack and exits non-zero", async () => {
    const r = await rankflow(["run", "-n", "3", "test/programs/fails.ts"])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain("rank 1 failed")
    expect(r.stderr).toContain("rank 1 gives up")
    expect(r.stderr).toMatch(/fails\.ts:\d+/)
  })

  it("passes a rank's own exit code on (process.exit(3) in rank 1 makes the launcher exit 3)", async () => {
    const r = await rankflow(["run", "-n", "2", "test/programs/exits.ts"])
    expect(r.code).toBe(3)
    expect(r.stderr).toMatch(/rank 1 failed: .*exit code 3/)
  }, 120_000)

  it("refuses an unknown codec before any rank starts: one line naming the known ones, exit code 2", async () => {
    const r = await rankflow(["run", "-n", "2", "--codec", "json", "examples/hello.ts"])
    expect(r.code).toBe(2)
    expect(r.stderr.trim()).toBe('rankflow: --codec: no codec named "json" is registered (known: raw, pickle, marshal, cbor, msgpack)')
    expect(r.stdout).not.toContain("Hello")
  })

  it("refuses a transport that is not registered, and another transport's flags, before any rank starts: exit code 2", async () => {
    const a = await rankflow(["run", "-n", "2", "--transport", "tcp", "examples/hello.ts"])
    expect(a.code).toBe(2)
    expect(a.stderr.trim()).toBe("rankflow: --transport tcp: no transport of that name (known: shm, nats)")
    const b = await rankflow(["run", "-n", "2", "--nats", "nats://127.0.0.1:1", "examples/hello.ts"])
    expect(b.code).toBe(2)
    expect(b.stderr.trim()).toBe("rankflow: --nats is a flag of another transport than shm; give --transport nats with it, or leave it out")
    expect(a.stdout + b.stdout).not.toContain("Hello")
  })

  it("refuses a rank count that is not a positive integer in one line, exit code 2", async () => {
    const r = await rankflow(["run", "-n", "abc", "examples/hello.ts"])
    expect(r.code).toBe(2)
    expect(r.stderr.trim()).toBe('rankflow: -n must be a positive integer (at least one rank), got "abc"')
  })

  it("refuses a script that does not exist before any rank starts, exit code 2", async () => {
    const r = await rankflow(["run", "-n", "2", "missing.ts"])
    expect(r.code).toBe(2)
    expect(r.stderr.trim()).toBe("rankflow: no such file: missing.ts")
  })

  it("refuses -n with --size or --ranks that disagree instead of ignoring it, exit code 2", async () => {
    const a = await rankflow(["run", "-n", "3", "--transport", "nats", "--job", "J", "--size", "4", "--ranks", "0-1", "examples/hello.ts"])
    expect(a.code).toBe(2)
    expect(a.stderr).toContain("-n 3 and --size 4 disagree")
    const b = await rankflow(["run", "-n", "2", "--transport", "nats", "--job", "J", "--ranks", "0-1", "examples/hello.ts"])
    expect(b.code).toBe(2)
    expect(b.stderr).toContain("-n 2 and --ranks 0-1 conflict")
  })

  it("--log-level filters the ranks' logs, given before or after run", async () => {
    for (const args of [["--log-level", "none", "run", "-n", "2", "examples/hello.ts"], ["run", "--log-level", "warn", "-n", "2", "examples/hello.ts"]]) {
      const r = await rankflow(args)
      expect(r.code).toBe(0)
      expect(r.stdout).not.toContain("Hello")
    }
    const shown = await rankflow(["run", "--log-level", "info", "-n", "2", "examples/hello.ts"])
    expect(shown.stdout.match(/Hello!/g)).toHaveLength(2)
  }, 120_000)

  it("a call with a bad argument names the user's line in the message and the stack (InvalidRank, InvalidTag)", async () => {
    const [rank, tag] = await Promise.all(["rank", "tag"].map((s) => rankflow(["run", "-n", "2", "test/programs/bad-calls.ts", s])))
    expect(rank!.code).toBe(1)
    expect(rank!.stderr).toMatch(/rankflow: rank \d failed: cannot send to rank 5: the communicator has 2 ranks \(0\.\.1\); use PROC_NULL to send nowhere \(at test\/programs\/bad-calls\.ts:9:\d+\)/)
    expect(rank!.stderr).toMatch(/^\s+at file:\/\/.*test\/programs\/bad-calls\.ts:9:\d+$/m)
    expect(tag!.stderr).toMatch(/invalid receive tag -5: .* \(at test\/programs\/bad-calls\.ts:12:\d+\)/)
  }, 120_000)

  it("--call-sites: errors that show only while the call runs name the user's line too (Truncated, EncodeError, InvalidRoot)", async () => {
    const runs = await Promise.all(["truncated", "encode", "root"].map((s) => rankflow(["run", "-n", "2", "--call-sites", "test/programs/bad-calls.ts", s])))
    expect(runs[0]!.stderr).toMatch(/does not fit a receive buffer of 4; the message is still queued \(at test\/programs\/bad-calls\.ts:16:\d+\)/)
    expect(runs[1]!.stderr).toMatch(/cannot be pickled \(at test\/programs\/bad-calls\.ts:19:\d+\)/)
    expect(runs[2]!.stderr).toMatch(/bcast: root 7 is not a rank of this communicator of 2 ranks \(0\.\.1\) \(at test\/programs\/bad-calls\.ts:22:\d+\)/)
    for (const r of runs) expect(r.code).toBe(1)
    // Without the flag such errors show rankflow's frames only (taking every call's stack costs ~2 µs).
    const plain = await rankflow(["run", "-n", "2", "test/programs/bad-calls.ts", "truncated"])
    expect(plain.stderr).toContain("does not fit a receive buffer of 4")
    expect(plain.stderr).not.toContain("(at test/programs/bad-calls.ts")
  }, 120_000)

  it("explains a bad rank count", async () => {
    const r = await rankflow(["run", "-n", "0", "examples/hello.ts"])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain("at least one rank")
  })

  it("runs a Rank.main file started directly with node as a job of RANKFLOW_SIZE ranks (one by default)", async () => {
    const { spawnSync } = await import("node:child_process")
    const { ROOT } = await import("../support/cli.ts")
    const one = spawnSync(process.execPath, ["examples/hello.ts"], { cwd: ROOT, encoding: "utf8", timeout: 60_000 })
    expect(one.status).toBe(0)
    expect(one.stdout).toContain("Hello! I'm rank 0 from 1")
    const three = spawnSync(process.execPath, ["examples/ring.ts"], { cwd: ROOT, encoding: "utf8", timeout: 60_000, env: { ...process.env, RANKFLOW_SIZE: "3" } })
    expect(three.status).toBe(0)
    expect(three.stdout.match(/the ranks add up to 3/g)).toHaveLength(3)
  }, 120_000)

  it("has --help", async () => {
    const r = await rankflow(["run", "--help"])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain("--np")
  })

  it("a rank that runs out of memory is reported as such", async () => {
    const r = await rankflow(["run", "-n", "2", "test/programs/out-of-memory.ts"], { env: { NODE_OPTIONS: "--max-old-space-size=96" } })
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/rankflow: rank 1 failed: rank 1 ran out of memory: its thread reached V8's JavaScript heap limit/)
  }, 120_000)

  for (const [signal, expected] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    it(`stops every rank on ${signal} and exits with ${expected} (128 + the signal's number)`, async () => {
      const { spawn } = await import("node:child_process")
      const { ROOT } = await import("../support/cli.ts")
      const child = spawn(process.execPath, ["bin/rankflow.js", "run", "-n", "3", "test/programs/forever.ts"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] })
      let out = ""
      child.stdout.on("data", (d) => (out += d))
      await new Promise<void>((resolve) => {
        const check = setInterval(() => {
          if ((out.match(/waiting/g) ?? []).length >= 3) {
            clearInterval(check)
            resolve()
          }
        }, 20)
      })
      child.kill(signal)
      const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)))
      expect(code).toBe(expected)
    }, 120_000)
  }

  it("--progress makes pipelines print progress, and a last line with every stage's items", async () => {
    const r = await rankflow(["run", "-n", "2", "--progress", "examples/wordcount.ts", "20000"])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/\[0\] .*pipeline done in [\d.]+s: lines 2000 items \(.*\) · split 2000 items \(.*\) · count 20000 items \(.*\) · result \d+ items/)
  }, 120_000)

  for (const [file, expected] of [
    ["rma-counter.ts", /\[0\] .*40 tasks shared out as \d+ \+ \d+ \+ \d+ \+ \d+/],
    ["parallel-write.ts", /\[0\] .*rank 0 read \d+ doubles: every block in its place/],
    ["wordcount.ts", /\[0\] .*1164 distinct words; most frequent: /],
    ["etl.ts", /\[0\] .*103 bad lines skipped/],
    ["tiles.ts", /\[0\] .*histogram of 64 blurred tiles: /]
  ] as const) {
    it(`runs the example ${file} on 4 ranks (threads)`, async () => {
      const r = await rankflow(["run", "-n", "4", `examples/${file}`])
      expect(r.code).toBe(0)
      expect(r.stdout).toMatch(expected)
    }, 120_000)
  }
})
