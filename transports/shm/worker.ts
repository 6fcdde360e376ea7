/**
 * The entry of a rank's worker thread: attaches the shm transport for this
 * rank, builds the `RankControl` over the parent port, loads the runner by URL
 * (from the rank's bundle when it was started from one: ../Bundle.ts) and hands
 * both to its `serve`.
 *
 * The parent port stays referenced (it keeps the thread alive) until the
 * runner calls `exit`.
 */
import { enableCompileCache } from "node:module"
import { parentPort, workerData } from "node:worker_threads"
import type { RankControl, RunnerModule } from "../Launcher.ts"
import type { FromRank, ToRank, WorkerData } from "./protocol.ts"
import { importModule } from "../preloaded.ts"
import { threadId } from "../cpuBinding.ts"
import { ShmTransport } from "./ShmTransport.ts"

// Every rank imports the same modules (effect alone takes ~300 ms to compile):
// Node's on-disk compile cache makes every start after the first several times faster.
enableCompileCache?.()

const port = parentPort
if (port === null) throw new Error("transports/shm/worker.ts runs as a worker thread started by ShmLauncher")
const init = workerData as WorkerData
const transport = new ShmTransport(init.regions, init.rank)

let handler: ((message: unknown) => void) | undefined
const early: Array<unknown> = []
let exiting = false

const post = (message: FromRank): void => port.postMessage(message)

let bound: (() => void) | undefined

port.on("message", (message: ToRank) => {
  if (message.t === "peerFailed") transport.peerFailed(message.rank, message.reason)
  else if (message.t === "bound") bound?.()
  else if (handler !== undefined) handler(message.body)
  else early.push(message.body)
})

const control: RankControl = {
  data: init.data,
  post: (body) => post({ t: "message", body }),
  onMessage: (h) => {
    handler = h
    for (const m of early.splice(0)) h(m)
  },
  exit: (code) => {
    if (exiting) return
    exiting = true
    transport.close()
    post({ t: "exit", code })
    // Let what was written reach the launcher before the thread ends.
    process.stdout.write("", () => process.stderr.write("", () => process.exit(code)))
  }
}

// Bound first: what the rank compiles and allocates from here on runs on its own cores.
if (init.bind === true) {
  await new Promise<void>((resolve) => {
    bound = resolve
    post({ t: "thread", tid: threadId() })
  })
}

const runner = (await importModule(init.runner)) as RunnerModule
if (typeof runner.serve !== "function") throw new Error(`the runner module ${init.runner} has no serve export`)
await runner.serve(transport, control)
