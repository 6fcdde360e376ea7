/**
 * The launcher's directory on NATS (see `Directory` in ../Launcher.ts):
 * request/reply on `rankflow._dir.<name>` subjects of the job's servers, so
 * that launchers of different jobs on one server or cluster find each
 * other's ports and names. Names are any strings: they travel base64url
 * encoded as one subject token. The connection is made on first use and
 * closed with the launcher (the job's stats channel shares it).
 */
import type { NatsConnection } from "@nats-io/transport-node"
import { Buffer } from "node:buffer"
import type { Directory } from "../Launcher.ts"
import { TransportError } from "../Transport.ts"
import { connect } from "./Connection.ts"
import type { NatsConfig } from "./Options.ts"
import { ROOT } from "./Subjects.ts"

const subjectOf = (name: string): string => `${ROOT}._dir.${Buffer.from(name, "utf8").toString("base64url") || "_"}`

const encode = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value ?? null))
const decode = (bytes: Uint8Array): unknown => (bytes.length === 0 ? null : JSON.parse(new TextDecoder().decode(bytes)))

const failure = (message: string, cause?: unknown) => new TransportError({ transport: "nats", message, ...(cause === undefined ? {} : { cause }) })

/** A directory over the job's NATS servers, and how to close it. */
export const make = (config: NatsConfig): Directory & { readonly connection: () => Promise<NatsConnection>; readonly close: () => Promise<void> } => {
  let connection: Promise<NatsConnection> | undefined
  let closed = false
  const nc = () => (connection ??= connect(config, -1))
  return {
    connection: nc,
    serve: async (name, answer) => {
      if (closed) throw failure(`the directory is closed (its job ended)`)
      const c = await nc()
      const sub = c.subscribe(subjectOf(name), {
        callback: (_err, msg) => {
          let request: unknown
          try {
            request = decode(msg.data)
          } catch {
            return void msg.respond(encode({ refused: "the request is not JSON" }))
          }
          void answer(request).then(
            (value) => (value === undefined ? undefined : void msg.respond(encode(value))),
            (e) => void msg.respond(encode({ refused: e instanceof Error ? e.message : String(e) }))
          )
        }
      })
      // Reachable by others only once the server has the subscription.
      await c.flush()
      return () => sub.unsubscribe()
    },
    request: async (name, request, timeoutMs) => {
      if (closed) throw failure(`the directory is closed (its job ended)`)
      const c = await nc()
      try {
        const reply = await c.request(subjectOf(name), encode(request), { timeout: timeoutMs })
        return decode(reply.data)
      } catch (e) {
        const noResponders = (e as { isNoResponders?: () => boolean }).isNoResponders?.() === true ||
          (e as { name?: string }).name === "NoRespondersError"
        if (noResponders) return undefined
        throw failure(`no answer from "${name}" within ${timeoutMs} ms: ${e instanceof Error ? e.message : String(e)}`, e)
      }
    },
    close: async () => {
      closed = true
      if (connection === undefined) return
      const c = await connection.catch(() => undefined)
      await c?.drain().catch(() => c.close())
    }
  }
}
