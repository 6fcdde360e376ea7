/**
 * `rankflow run --dashboard` in a real headless Chromium (Debian's
 * `chromium`, driven by playwright-core): a 4-rank job's page shows every
 * rank, a pipeline's stage graph, a rank blocked in recv with its source and
 * tag, counters that move, and a failed rank's error; the test saves a
 * screenshot into docs/. Then what the server refuses: no token where one is
 * needed, a wrong token, paths other than its own; and what it never shows
 * (the environment, files).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type Browser, chromium } from "playwright-core"
import { rankflow, startRankflow } from "../support/cli.ts"

const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p))
const urlOf = (stderr: string) => /dashboard at (http:\/\/\S+)/.exec(stderr)?.[1]

describe("rankflow run --dashboard", () => {
  let browser: Browser | undefined
  let dir = ""
  beforeAll(async () => {
    if (CHROMIUM === undefined) throw new Error("no chromium: run `bash scripts/setup-system.sh` (it installs Debian's chromium), or `apt-get install chromium`")
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] })
    dir = mkdtempSync(join(tmpdir(), "rankflow-dashboard-"))
  }, 60_000)
  afterAll(async () => {
    await browser?.close()
    if (dir !== "") rmSync(dir, { recursive: true, force: true })
  })

  it("shows a 4-rank job live: ranks, the pipeline's stages, a rank waiting in recv, moving counters, a failed rank's error", async () => {
    const job = startRankflow(["run", "-n", "4", "--dashboard", "127.0.0.1:0", "--dashboard-keep", "60s", "test/programs/dashboard.ts", dir], {
      timeoutMs: 150_000,
      env: { RANKFLOW_TEST_SECRET: "do-not-show-this-7731" }
    })
    try {
      await job.waitFor(/dashboard at http:\/\/127\.0\.0\.1:\d+\//)
      const url = urlOf(job.stderr())!
      const page = await browser!.newPage({ viewport: { width: 1400, height: 1500 } })
      await page.goto(url)
      // Every rank appears, and the pipeline's stage graph with items on its edges.
      await page.waitForFunction(() => document.querySelectorAll("#ranks tbody tr").length === 4, undefined, { timeout: 60_000 })
      for (const stage of ["numbers", "square", "slow", "total"]) await page.waitForSelector(`[data-stage="${stage}"]`, { timeout: 60_000 })
      await page.waitForFunction(() => /square → slow: [\d.]+k? items\/s/.test(document.getElementById("edges")!.textContent ?? ""), undefined, { timeout: 30_000 })
      writeFileSync(join(dir, "pipeline-seen"), "")
      // Rank 2 waits in recv on rank 3, tag 7; rank 0's message count moves.
      const rank2 = page.locator('#ranks tr[data-rank="2"]')
      await page.waitForFunction(() => /^recv\(source 3, tag 7\) on world/.test(document.querySelector('#ranks tr[data-rank="2"] .doing')?.textContent ?? ""), undefined, { timeout: 60_000 })
      expect(await rank2.getAttribute("data-activity")).toBe("receive")
      const sentOf = async () => Number(await page.locator('#ranks tr[data-rank="0"] .counts').getAttribute("data-sent"))
      await page.waitForFunction(() => Number(document.querySelector('#ranks tr[data-rank="0"] .counts')?.getAttribute("data-sent")) > 0, undefined, { timeout: 30_000 })
      const before = await sentOf()
      await page.waitForFunction((n) => Number(document.querySelector('#ranks tr[data-rank="0"] .counts')?.getAttribute("data-sent")) > n, before, { timeout: 30_000 })
      // The timeline and charts have a few seconds drawn: the screenshot for docs/.
      await page.waitForFunction(() => document.querySelectorAll("#logs pre").length === 4, undefined, { timeout: 10_000 })
      await page.screenshot({ path: "docs/dashboard.png", fullPage: true })
      expect(await page.content()).not.toContain("do-not-show-this-7731")
      // Rank 3 fails: its row says why, and the header says the run failed.
      writeFileSync(join(dir, "fail"), "")
      await page.waitForFunction(() => /rank 3 gives up on purpose/.test(document.querySelector('#ranks tr[data-rank="3"] .doing')?.textContent ?? ""), undefined, { timeout: 60_000 })
      expect(await page.locator('#ranks tr[data-rank="3"]').getAttribute("data-activity")).toBe("failed")
      await page.waitForFunction(() => /rank 3 failed: rank 3 gives up on purpose/.test(document.getElementById("failure")!.textContent ?? ""), undefined, { timeout: 30_000 })
      await page.close()
    } finally {
      job.kill("SIGINT")
      await job.done
    }
    const ended = await job.done
    expect(ended.stderr).toContain("rank 3 gives up on purpose")
  }, 180_000)

  it("needs its token where it has one: none or a wrong one is 401; it serves its own paths only, and never the environment", async () => {
    const job = startRankflow(["run", "-n", "2", "--dashboard", "127.0.0.1:0", "--dashboard-token", "s3cret-token", "--dashboard-keep", "60s", "examples/hello.ts"], {
      timeoutMs: 120_000,
      env: { RANKFLOW_TEST_SECRET: "do-not-show-this-7731" }
    })
    try {
      await job.waitFor(/the dashboard stays up/)
      const url = new URL(urlOf(job.stderr())!)
      expect(url.searchParams.get("token")).toBe("s3cret-token")
      const base = `${url.protocol}//${url.host}`
      expect((await fetch(`${base}/`)).status).toBe(401)
      expect((await fetch(`${base}/?token=wrong`)).status).toBe(401)
      expect((await fetch(`${base}/api/state`, { headers: { authorization: "Bearer wrong-token!" } })).status).toBe(401)
      const state = await fetch(`${base}/api/state`, { headers: { authorization: "Bearer s3cret-token" } })
      expect(state.status).toBe(200)
      const body = await state.text()
      expect(JSON.parse(body).ranks).toHaveLength(2)
      const page = await fetch(url)
      expect(page.status).toBe(200)
      for (const text of [body, await page.text()]) {
        expect(text).not.toContain("do-not-show-this-7731")
        expect(text).not.toContain(process.env.HOME ?? "/root")
      }
      for (const path of ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/package.json", "/env", "/node_modules/chart.js/package.json"]) {
        const r = await fetch(`${base}${path}?token=s3cret-token`)
        expect([path, r.status]).toEqual([path, 404])
      }
    } finally {
      job.kill("SIGINT")
    }
    expect((await job.done).signal ?? (await job.done).code).not.toBe(null)
  }, 120_000)

  it("refuses an address other than loopback without a token, before any rank starts", async () => {
    const r = await rankflow(["run", "-n", "2", "--dashboard", "0.0.0.0:8787", "examples/hello.ts"], { env: { RANKFLOW_DASHBOARD_TOKEN: "" } })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("the dashboard serves 0.0.0.0, which is not loopback: give it a token")
    expect(r.stdout).not.toContain("Hello")
  }, 60_000)
})
