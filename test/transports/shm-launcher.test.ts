/**
 * The shm launcher: ranks as worker threads, their output, their exits and
 * failures, large messages across threads, and an idle rank's CPU.
 */
import { describe, expect, it } from "@effect/vitest"
import { readdirSync } from "node:fs"
import { runJob } from "./fixtures/job.ts"

describe("messages across threads", () => {
  it("messages of 0 B, 1 B and 64 MiB arrive intact on the rendezvous, streamed and zero-copy paths", async () => {
    const sizes = [0, 1, 64 << 20, 64 << 20]
    const outcome = await runJob(2, { scenario: "big", sizes })
    expect(outcome.exits.get(0)?.error).toBeUndefined()
    expect(outcome.exits.get(1)?.error).toBeUndefined()
    const { results } = outcome.messages[1]![0] as { results: Array<{ size: number; variant: number; intact: boolean; inArena: boolean }> }
    expect(results.map((r) => r.size)).toEqual([0, 0, 1, 1, 64 << 20, 64 << 20, 64 << 20, 64 << 20])
    expect(results.every((r) => r.intact)).toBe(true)
    // 64 MiB: into arena memory (one copy), into a private buffer (streamed), and zero copy (the sender's block).
    expect(results.slice(4).map((r) => r.inArena)).toEqual([true, true, false, true])
  }, 120_000)
})

describe("idle ranks", () => {
  it("a rank blocked in a receive sleeps: over a quiet window its progress engine runs only for the one arrival", async () => {
    let ready = 0
    const outcome = await runJob(2, { scenario: "idle" }, {
      react: (event, job) => {
        if (event._tag !== "Message" || event.message !== "ready" || ++ready < 2) return
        // Both ranks wait now: rank 1 in a receive, rank 0 for the launcher's word. A spinning
        // or polling rank would run its progress engine thousands of times over the window.
        setTimeout(() => job.post(0, "go"), 1000)
      }
    })
    expect(outcome.messages.map((m) => m.at(-1))).toEqual(["done", "done"])
    // Counted by rank 1 from before "ready" to after its one message arrived (no clock involved).
    const counts = outcome.messages[1]!.find((m) => typeof m === "object" && m !== null && "wakes" in m) as { wakes: number; progressRuns: number; polls: number }
    expect(counts.wakes).toBeLessThanOrEqual(2)
    expect(counts.polls).toBeLessThanOrEqual(10)
    expect(counts.progressRuns).toBeLessThanOrEqual(4)
  }, 120_000)
})

describe("start", () => {
  it("every rank gets the launch data, its extra environment variables and the process's own", async () => {
    const outcome = await runJob(2, { scenario: "env", name: "RANKFLOW_SHM_TEST", extra: [1, { a: "b" }] }, { env: { RANKFLOW_SHM_TEST: "yes" } })
    expect(outcome.messages.map((m) => m[0])).toEqual([0, 1].map((rank) => ({
      rank,
      value: "yes",
      data: { scenario: "env", name: "RANKFLOW_SHM_TEST", extra: [1, { a: "b" }] }
    })))
    const inherited = await runJob(1, { scenario: "env", name: "PATH" })
    expect((inherited.messages[0]![0] as { value: string }).value).toBe(process.env.PATH)
  }, 120_000)
})

describe("exits", () => {
  for (const [how, code, text] of [
    ["throw", 1, "uncaught in a timer"],
    ["reject", 1, "serve failed"],
    ["exit", 3, "process.exit(3)"]
  ] as const) {
    it(`a rank that ends by "${how}" is reported as Exited with code ${code} and says why`, async () => {
      const outcome = await runJob(2, { scenario: "crash", rank: 1, how }, { done: (o) => o.exits.has(1) })
      const exited = outcome.exits.get(1)!
      expect(exited.code).toBe(code)
      expect(exited.error).toContain(text)
      if (how !== "exit") expect(exited.error).toMatch(/\n\s+at /) // the stack
      expect(outcome.stdout).toContain(`[1] rank 1 about to ${how}\n`)
    }, 120_000)
  }

  it("a runner module that cannot be loaded ends every rank with an Exited that names it", async () => {
    const runner = new URL("./fixtures/no-such-runner.ts", import.meta.url).href
    const outcome = await runJob(2, { scenario: "none" }, { runner })
    for (const r of [0, 1]) {
      expect(outcome.exits.get(r)!.code).toBe(1)
      expect(outcome.exits.get(r)!.error).toContain("no-such-runner.ts")
    }
  }, 120_000)

  it("closing the scope terminates ranks that never end and lets their threads go", async () => {
    const threads = (): number => readdirSync("/proc/self/task").length
    await runJob(2, { scenario: "hang" }, { done: (o) => o.messages.every((m) => m.length > 0) }) // warm up
    const before = threads()
    const outcome = await runJob(4, { scenario: "hang" }, { done: (o) => o.messages.every((m) => m.length > 0) })
    expect(outcome.messages.map((m) => m[0])).toEqual(["ready", "ready", "ready", "ready"])
    // Terminated threads leave the process's task list asynchronously: wait for it (the test's timeout bounds the wait).
    while (threads() > before) await new Promise((r) => setTimeout(r, 50))
    expect(threads()).toBeLessThanOrEqual(before)
  }, 120_000)
})

describe("output", () => {
  for (const exit of ["control", "process"]) {
    it(`every line a rank prints reaches the launcher prefixed with its rank, even when it exits at once (${exit})`, async () => {
      const lines = 300
      const outcome = await runJob(3, { scenario: "output", lines, exit })
      for (let r = 0; r < 3; r++) {
        const mine = outcome.stdout.split("\n").filter((l) => l.startsWith(`[${r}] `))
        expect(mine.length).toBe(lines + 1)
        expect(mine.at(-1)).toBe(`[${r}] tail ${r}`)
        const errs = outcome.stderr.split("\n").filter((l) => l.startsWith(`[${r}] err ${r} `))
        expect(errs.length).toBe(lines)
      }
      expect(outcome.stdout.split("\n").filter((l) => l !== "" && !/^\[\d\] /.test(l))).toEqual([])
    }, 120_000)
  }

  it("output is passed through unchanged when prefixOutput is false", async () => {
    const outcome = await runJob(1, { scenario: "output", lines: 3, exit: "control" }, { prefixOutput: false })
    expect(outcome.stdout).toBe("out 0 0\nout 0 1\nout 0 2\ntail 0")
  }, 120_000)
})

describe("peer failure", () => {
  it("declareFailed makes peers' pending and later sends to the failed rank fail with PeerFailure", async () => {
    let ready = 0
    const outcome = await runJob(3, { scenario: "failure" }, {
      done: (o) => o.messages[0]!.length > 1 && o.messages[1]!.length > 1,
      react: (event, job) => {
        if (event._tag === "Message" && event.message === "ready" && ++ready === 3) job.declareFailed(2, "rank 2 stopped answering")
      }
    })
    const report = outcome.messages[0]![1] as { settledBeforeFailure: number; outcomes: Array<string>; later: string; failures: Array<number> }
    expect(report.settledBeforeFailure).toBeLessThan(201) // some sends were still waiting for rank 2
    expect(report.outcomes.length).toBe(201)
    expect(report.outcomes.filter((o) => o !== "ok" && o !== "PeerFailure")).toEqual([])
    expect(report.outcomes).toContain("PeerFailure")
    expect(report.later).toBe("PeerFailure: rank 2, rank 2 stopped answering")
    expect(report.failures).toEqual([2])
    expect(outcome.messages[1]![1]).toEqual({ rank: 1, failures: [{ rank: 2, reason: "rank 2 stopped answering" }] })
  }, 120_000)
})
