/**
 * Ports and names (MPI_Open_port, MPI_Comm_accept/connect, MPI_Publish_name,
 * MPI_Lookup_name): two groups of ranks that were not made together join
 * through a port. One side opens a port and calls `comm.accept(port)`; the
 * other learns the port (a message, or `lookupName` of a name the first
 * published) and calls `comm.connect(port)`; both get an intercommunicator
 * to the other. The launcher that started the ranks keeps the ports and
 * names, so the two groups are ranks of one job (on NATS: of one launcher).
 *
 * @example
 * ```ts
 * if (side === "server") {
 *   const port = yield* Comm.openPort
 *   yield* Comm.publishName("solver", port)
 *   const clients = yield* group.accept(port)
 * } else {
 *   const servers = yield* group.connect(yield* Comm.lookupName("solver"))
 * }
 * ```
 */
import { Data, Effect } from "effect"
import { ask } from "./launcherChannel.ts"
import type { AnswerValue, Question } from "../launching/RunnerProtocol.ts"

/**
 * A port or name call that failed: an unknown or closed port, a name not
 * published (or already), a bad root. On accept/connect every rank of the
 * group fails alike.
 *
 * @example
 * ```ts
 * yield* Comm.lookupName("nobody").pipe(Effect.catchTag("PortError", (e) => Effect.log(e.message)))
 * ```
 */
export class PortError extends Data.TaggedError("PortError")<{ readonly message: string; readonly cause?: unknown }> {}

/** Asks the launcher; its refusal is a PortError. */
export const askLauncher = (question: Question): Effect.Effect<AnswerValue, PortError> =>
  Effect.flatMap(Effect.promise(() => ask(question)), (a) => (a.ok ? Effect.succeed(a.value) : Effect.fail(new PortError({ message: a.message }))))

const portOf = (v: AnswerValue): string => (v !== null && "port" in v ? v.port : "")

/**
 * A new port name (MPI_Open_port): give it to `comm.accept`, and to the
 * other side (a message, or `publishName`) for `comm.connect`.
 *
 * @example
 * ```ts
 * const port = yield* Comm.openPort   // "rankflow-port-1"
 * ```
 */
export const openPort: Effect.Effect<string, PortError> = Effect.map(askLauncher({ q: "openPort" }), portOf)

/**
 * Closes a port (MPI_Close_port): later accepts and connects on it fail; its published names are withdrawn.
 *
 * @example
 * ```ts
 * yield* Comm.closePort(port)
 * ```
 */
export const closePort = (port: string): Effect.Effect<void, PortError> => Effect.asVoid(askLauncher({ q: "closePort", port }))

/**
 * Publishes `port` under `service` (MPI_Publish_name), for `lookupName`; a name published already is a PortError.
 *
 * @example
 * ```ts
 * yield* Comm.publishName("solver", port)
 * ```
 */
export const publishName = (service: string, port: string): Effect.Effect<void, PortError> =>
  Effect.asVoid(askLauncher({ q: "publishName", service, port }))

/**
 * Withdraws a published name (MPI_Unpublish_name).
 *
 * @example
 * ```ts
 * yield* Comm.unpublishName("solver")
 * ```
 */
export const unpublishName = (service: string): Effect.Effect<void, PortError> => Effect.asVoid(askLauncher({ q: "unpublishName", service }))

/**
 * The port published under `service` (MPI_Lookup_name); a name not published is a PortError.
 *
 * @example
 * ```ts
 * const port = yield* Comm.lookupName("solver")
 * ```
 */
export const lookupName = (service: string): Effect.Effect<string, PortError> => Effect.map(askLauncher({ q: "lookupName", service }), portOf)
