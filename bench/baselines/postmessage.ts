/**
 * Baseline worker for the point-to-point benchmark: the same experiments over
 * MessagePort.postMessage between worker threads (structured clone, or a
 * transfer list).
 */
import { parentPort, workerData, type MessagePort } from "node:worker_threads"

interface Setup {
  readonly role: "echo" | "pinger" | "sink" | "source" | "ring"
  readonly port: MessagePort
  readonly next?: MessagePort
  readonly sizes?: ReadonlyArray<number>
  readonly transfer?: boolean
  readonly budgetMillis?: number
  readonly first?: boolean
  readonly size?: number
}

const setup = workerData as Setup
const port = setup.port
const nextMessage = (p: MessagePort): Promise<any> => new Promise((resolve) => p.once("message", resolve))

const budget = setup.budgetMillis ?? 300

const run = async (): Promise<unknown> => {
  switch (setup.role) {
    case "echo":
      port.on("message", (m: Uint8Array | "done") => {
        if (m === "done") return port.close()
        port.postMessage(m, setup.transfer && m.byteLength > 0 ? [m.buffer as ArrayBuffer] : [])
      })
      return undefined
    case "pinger": {
      const out = []
      for (const bytes of setup.sizes!) {
        let buf = new Uint8Array(bytes).fill(1)
        let iterations = 4
        let elapsed = 0
        for (;;) {
          const t0 = performance.now()
          for (let i = 0; i < iterations; i++) {
            port.postMessage(buf, setup.transfer && bytes > 0 ? [buf.buffer as ArrayBuffer] : [])
            buf = await nextMessage(port)
          }
          elapsed = performance.now() - t0
          if (elapsed > budget / 4 || iterations > 1 << 20) break
          iterations *= 4
        }
        out.push({ bytes, iterations, halfRoundTripMicros: (elapsed * 1000) / iterations / 2 })
      }
      port.postMessage("done")
      return out
    }
    case "sink":
      port.on("message", (m: { window: number } | "done") => {
        if (m === "done") return port.close()
      })
      {
        let count = 0
        let window = 0
        port.on("message", (m: unknown) => {
          if (typeof m === "object" && m !== null && "window" in m) {
            window = (m as { window: number }).window
            count = 0
            return
          }
          if (++count === window) {
            count = 0
            port.postMessage("ack")
          }
        })
      }
      return undefined
    case "source": {
      const out = []
      for (const bytes of setup.sizes!) {
        const window = Math.max(1, Math.min(64, Math.floor((256 * 1024 * 1024) / Math.max(bytes, 1))))
        const msgs = Array.from({ length: window }, () => new Uint8Array(bytes).fill(1))
        port.postMessage({ window })
        let windows = 1
        let elapsed = 0
        for (;;) {
          const t0 = performance.now()
          for (let k = 0; k < windows; k++) {
            for (const m of msgs) port.postMessage(m)
            await nextMessage(port)
          }
          elapsed = performance.now() - t0
          if (elapsed > budget / 4 || windows > 1 << 16) break
          windows *= 2
        }
        out.push({ bytes, window, windows, mbPerSecond: (bytes * window * windows) / (elapsed * 1000) })
      }
      port.postMessage("done")
      return out
    }
    case "ring": {
      const next = setup.next!
      if (!setup.first) {
        port.on("message", (m: Float64Array | "done") => {
          next.postMessage(m)
          if (m === "done") port.close()
        })
        return undefined
      }
      let laps = 4
      let elapsed = 0
      const token = new Float64Array(1)
      for (;;) {
        const t0 = performance.now()
        for (let lap = 0; lap < laps; lap++) {
          next.postMessage(token)
          await nextMessage(port)
        }
        elapsed = performance.now() - t0
        if (elapsed > budget / 4 || laps > 1 << 18) break
        laps *= 2
      }
      next.postMessage("done")
      await nextMessage(port)
      port.close()
      return { laps, microsPerHop: (elapsed * 1000) / (laps * setup.size!) }
    }
  }
}

const result = await run()
if (result !== undefined) parentPort!.postMessage(result)
