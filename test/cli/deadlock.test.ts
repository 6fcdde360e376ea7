/**
 * Deadlocks and stalls, through the real `rankflow` binary: on shm the
 * launcher decides a deadlock and reports each rank's wait and the cycle; a
 * receive from a finished rank fails at once on both transports; on NATS the
 * stall watchdog reports (or stops) a job without progress; SIGQUIT and
 * Ctrl-C print what every rank is doing. Slow jobs are never reported.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { rankflow, startRankflow } from "../support/cli.ts"
import { startServer, type NatsServer } from "../support/nats-server.ts"

const PROGRAM = "test/programs/deadlocks.ts"
const since = String.raw`, since \d\d:\d\d:\d\d\.\d`

describe("deadlocks on shm", () => {
  it("two ranks that both receive first: Deadlock, exit code 4, each rank's receive and the cycle", async () => {
    const r = await rankflow(["run", "-n", "2", PROGRAM, "pair"])
    expect(r.code).toBe(4)
    expect(r.stderr).toContain("rankflow: deadlock: every running rank waits and no message is in flight")
    expect(r.stderr).toMatch(new RegExp(`rank 0: recv\\(source 1, tag 3\\) on world${since}`))
    expect(r.stderr).toMatch(new RegExp(`rank 1: recv\\(source 0, tag 3\\) on world${since}`))
    expect(r.stderr).toContain("cycle: rank 0 → rank 1 → rank 0")
  })

  it("a ring where every rank receives first, on 1, 4 and 8 ranks: every rank's wait and the whole cycle", async () => {
    const [one, four, eight] = await Promise.all([1, 4, 8].map((n) => rankflow(["run", "-n", String(n), PROGRAM, "ring"])))
    expect(one!.code).toBe(4)
    expect(one!.stderr).toMatch(new RegExp(`rank 0: recv\\(source 0, tag 7\\) on world${since}`))
    for (const [r, n] of [[four!, 4], [eight!, 8]] as const) {
      expect(r.code).toBe(4)
      for (let rank = 0; rank < n; rank++) {
        expect(r.stderr).toMatch(new RegExp(`rank ${rank}: recv\\(source ${(rank + n - 1) % n}, tag 7\\) on world${since}`))
      }
      const cycle = [0, ...Array.from({ length: n - 1 }, (_, i) => n - 1 - i), 0].map((x) => `rank ${x}`).join(" → ")
      expect(r.stderr).toContain(`cycle: ${cycle}`)
    }
  }, 120_000)

  it("a collective that one rank never enters: the others are shown in the barrier, that rank in its receive", async () => {
    const r = await rankflow(["run", "-n", "4", PROGRAM, "collective"])
    expect(r.code).toBe(4)
    expect(r.stderr).toMatch(new RegExp(`rank 3: recv\\(source 0, tag 1\\) on world${since}`))
    expect(r.stderr).toMatch(/rank 0: barrier on world, waiting for rank \d/)
    expect(r.stderr.match(/: barrier on world, waiting for rank \d/g)).toHaveLength(3)
    expect(r.stderr).toMatch(/cycle: rank 0 → rank 3 → rank 0/)
  })

  it("a rank that waits on an Effect that never completes, while the others wait for it", async () => {
    const r = await rankflow(["run", "-n", "3", PROGRAM, "nothing"])
    expect(r.code).toBe(4)
    expect(r.stderr).toContain("rank 0: waiting, on nothing rankflow knows of")
    expect(r.stderr).toMatch(new RegExp(`rank 2: recv\\(source 0, tag any\\) on world${since}`))
  })

  it("a receive, or an ssend, to a rank that has finished fails at once with what it waited for", async () => {
    const [recv, ssend] = await Promise.all([rankflow(["run", "-n", "2", PROGRAM, "finished"]), rankflow(["run", "-n", "2", PROGRAM, "ssend"])])
    expect(recv.code).toBe(4)
    expect(recv.stderr).toContain("rankflow: rank 0 waits for rank 1, which has finished: recv(source 1, tag 5) on world can never complete")
    expect(ssend.code).toBe(4)
    expect(ssend.stderr).toContain("rankflow: rank 0 waits for rank 1, which has finished: ssend(dest 1, tag 2) on world (not yet received) can never complete")
  })

  it("no report for slow jobs: a rank computing 4 s without yielding (four times a round's patience), computing in slices, sleeping, or a ring that pauses at each hop", async () => {
    const runs = await Promise.all([
      rankflow(["run", "-n", "2", PROGRAM, "compute", "4"]),
      rankflow(["run", "-n", "3", PROGRAM, "yielding", "3"]),
      rankflow(["run", "-n", "2", PROGRAM, "sleeping", "3"]),
      rankflow(["run", "-n", "4", PROGRAM, "slow", "3"])
    ])
    for (const r of runs) {
      expect(r.stderr).not.toContain("deadlock")
      expect(r.code).toBe(0)
    }
  }, 120_000)

  it("SIGQUIT prints what each rank is doing and the job goes on; Ctrl-C prints it again and stops (exit code 130)", async () => {
    const job = startRankflow(["run", "-n", "3", PROGRAM, "sleeping", "60"])
    await job.waitFor(/\[0\] waiting/)
    await job.waitFor(/\[1\] sleeping/)
    // Printed just before the receive is posted: ask until the picture shows it.
    const picture = /what each rank is doing \(SIGQUIT\):\n  rank 0: recv\(source 1, tag any\) on world, since [\d:.]+\n  rank 1: running \(pending: Timeout\)\n  rank 2: finished/
    while (!picture.test(job.stderr())) {
      job.kill("SIGQUIT")
      await job.waitFor(/\(SIGQUIT\):[\s\S]*rank 2: \w+/)
      if (!picture.test(job.stderr())) await new Promise((r) => setTimeout(r, 200))
    }
    job.kill("SIGINT")
    const r = await job.done
    expect(r.code).toBe(130)
    expect(r.stderr).toMatch(/rankflow: stopped; what each rank was doing:\n  rank 0: recv\(source 1, tag any\) on world, since [\d:.]+\n  rank 1: running \(pending: Timeout\)\n  rank 2: finished/)
    expect(r.stderr).not.toContain("deadlock")
  }, 120_000)

  it("a rank that computes without yielding after another failed is terminated after the 5 s grace", async () => {
    const r = await rankflow(["run", "-n", "2", "test/programs/busy-peer.ts"], { timeoutMs: 40_000 })
    expect(r.signal).toBeNull()
    expect(r.code).toBe(1)
    expect(r.stderr).toContain("rankflow: rank 0 failed: rank 0 gives up")
    expect(r.stderr).toContain("rankflow: rank 1 did not stop within 5 s of being told to; terminated")
  }, 120_000)
})

describe("deadlocks and stalls on NATS", () => {
  let server: NatsServer
  beforeAll(async () => {
    server = await startServer()
  }, 120_000)
  afterAll(async () => {
    await server?.stop()
  })
  const nats = () => ["--transport", "nats", "--nats", server.url]

  it("a receive from a rank that has finished fails at once", async () => {
    const r = await rankflow(["run", "-n", "2", ...nats(), PROGRAM, "finished"])
    expect(r.code).toBe(4)
    expect(r.stderr).toContain("rankflow: rank 0 waits for rank 1, which has finished: recv(source 1, tag 5) on world can never complete")
  }, 120_000)

  it("--stall-action fail stops a job without progress with every rank's wait, exit code 4", async () => {
    const r = await rankflow(["run", "-n", "3", ...nats(), "--stall-timeout", "1s", "--stall-action", "fail", PROGRAM, "ring"])
    expect(r.code).toBe(4)
    expect(r.stderr).toMatch(/rankflow: rank \d has waited \d+ s without progress: recv\(source \d, tag 7\) on world/)
    expect(r.stderr).toContain("(--stall-action fail); what each rank was doing:")
    for (let rank = 0; rank < 3; rank++) expect(r.stderr).toMatch(new RegExp(`  rank ${rank}: recv\\(source ${(rank + 2) % 3}, tag 7\\) on world${since}`))
  }, 120_000)

  it("a stall is reported once with the picture and the job goes on; Ctrl-C prints the picture and stops it", async () => {
    const job = startRankflow(["run", "-n", "2", ...nats(), "--stall-timeout", "1s", PROGRAM, "pair"])
    await job.waitFor(/what each rank is doing:\n  rank 0: .*\n  rank 1: .*\n/)
    expect(job.stderr()).toMatch(new RegExp(`  rank 0: recv\\(source 1, tag 3\\) on world${since}\\n  rank 1: recv\\(source 0, tag 3\\) on world${since}`))
    job.kill("SIGINT")
    const r = await job.done
    expect(r.code).toBe(130)
    expect(r.stderr).toMatch(/stopped; what each rank was doing:\n  rank 0: recv\(source 1, tag 3\)/)
    expect(r.stderr.match(/what each rank is doing:/g)).toHaveLength(1)
  }, 120_000)

  it("refuses a --stall-timeout that is not a duration, exit code 2", async () => {
    const r = await rankflow(["run", "-n", "2", "--stall-timeout", "soon", PROGRAM, "pair"])
    expect(r.code).toBe(2)
    expect(r.stderr.trim()).toBe("rankflow: --stall-timeout soon is not a duration: give 30s, 500ms, 2m, or 0 for off")
  })
})
