/**
 * Baseline process for the point-to-point benchmark over NATS: the raw
 * client's publish/subscribe ping-pong and one-way streaming between two
 * processes through the same server (no rankflow in the path).
 *
 * argv: role (a | b), server URL, kind (pingpong | stream), message bytes, count.
 */
import { connect } from "@nats-io/transport-node"

const [role, url, kind, sizeArg, countArg] = process.argv.slice(2)
const size = Number(sizeArg)
const n = Number(countArg)
const nc = await connect({ servers: url!, noEcho: true })
const payload = new Uint8Array(size)
const subject = `rankflow-bench.${process.ppid}`

if (kind === "pingpong") {
  if (role === "b") {
    nc.subscribe(`${subject}.ping`, { callback: (_e, m) => nc.publish(`${subject}.pong`, m.data) })
    await nc.flush()
    process.send!("ready")
  } else {
    const warm = 500
    let i = 0
    let t0 = 0
    await new Promise<void>((resolve) => {
      nc.subscribe(`${subject}.pong`, {
        callback: () => {
          i++
          if (i === warm) t0 = performance.now()
          if (i === warm + n) return resolve()
          nc.publish(`${subject}.ping`, payload)
        }
      })
      void nc.flush().then(() => nc.publish(`${subject}.ping`, payload))
    })
    process.send!({ halfRoundTripMicros: ((performance.now() - t0) * 1000) / n / 2 })
  }
} else if (role === "b") {
  let got = 0
  let t0 = 0
  nc.subscribe(`${subject}.s`, {
    callback: () => {
      if (got === 0) t0 = performance.now()
      if (++got === n) process.send!({ mbPerSecond: ((n - 1) * size) / ((performance.now() - t0) * 1000) })
    }
  })
  await nc.flush()
  process.send!("ready")
} else {
  for (let i = 0; i < n; i++) {
    nc.publish(`${subject}.s`, payload)
    if (i % 64 === 63) await nc.flush()
  }
  await nc.flush()
}
await new Promise((r) => process.once("message", r))
await nc.close()
process.exit(0)
