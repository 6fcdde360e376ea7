/**
 * `rankflow run --pool`: rank 0 runs the script, the other ranks serve its
 * PoolExecutor; the pool examples through the CLI on shm and NATS.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { rankflow } from "../support/cli.ts"
import { type NatsServer, startServer } from "../support/nats-server.ts"

let server: NatsServer | undefined
let dir: string
beforeAll(async () => {
  server = await startServer()
  dir = mkdtempSync(join(tmpdir(), "rankflow-pool-"))
}, 120_000)
afterAll(async () => {
  await server?.stop()
  rmSync(dir, { recursive: true, force: true })
})

const transports = ["shm", "nats"] as const
const flags = (transport: (typeof transports)[number]) => (transport === "nats" ? ["--transport", "nats", "--nats", server!.url] : [])

describe.each(transports)("rankflow run --pool on %s", (transport) => {
  it("pool-primes.ts counts the primes below 10⁶ with three workers", async () => {
    const r = await rankflow(["run", "-n", "4", "--pool", ...flags(transport), "examples/pool-primes.ts", "1000000"])
    expect(r.stderr).toBe("")
    expect(r.code).toBe(0)
    expect(r.stdout).toContain("78498 primes below 1000000, counted in 4 blocks by 3 workers")
  }, 120_000)

  it("mandelbrot.ts assembles the rows of its workers into a PGM image", async () => {
    const out = join(dir, `mandelbrot-${transport}.pgm`)
    const r = await rankflow(["run", "-n", "3", "--pool", ...flags(transport), "examples/mandelbrot.ts", out, "90", "60"])
    expect(r.code).toBe(0)
    const image = readFileSync(out)
    const header = "P5\n90 60\n255\n"
    expect(image.subarray(0, header.length).toString()).toBe(header)
    expect(image.byteLength).toBe(header.length + 90 * 60)
    const pixel = (x: number, y: number) => image[header.length + y * 90 + x]!
    expect(pixel(60, 30)).toBe(0) // (0, 0) is in the set: black
    expect(pixel(0, 0)).toBeGreaterThan(240) // (-2, -1.5) escapes at once: near white
  }, 120_000)
})

it("PoolExecutor.make outside a --pool job spawns its workers into the free slots (--universe), and says how to make room when there are none", async () => {
  const r = await rankflow(["run", "-n", "1", "--universe", "4", "examples/pool-primes.ts", "1000000"])
  expect(r.code).toBe(0)
  expect(r.stdout).toContain("78498 primes below 1000000, counted in 4 blocks by 3 workers")
  const none = await rankflow(["run", "-n", "1", "examples/pool-primes.ts", "1000"])
  expect(none.code).not.toBe(0)
  expect(none.stderr).toMatch(/BrokenPool: the pool could not start its 1 worker: spawn: 1 rank wanted but 0 free slots left; start the job with a larger universe \(rankflow run --universe <n>/)
}, 120_000)
