/**
 * What a transport tells the rest of rankflow about itself: its name, the
 * flags `rankflow run` takes for it, and how to get its launcher. A new
 * transport is one folder implementing `Transport` and `Launcher`, plus one
 * `Registration` listed in `registry.ts`; the CLI, `World.make` and the
 * docs' flag table all come from the registrations.
 *
 * A registration module stays light: it loads its launcher's code only when
 * a job asks for it, so that a job on one transport never loads another's
 * client.
 *
 * @example
 * ```ts
 * export const registration: Registration = {
 *   kind: "tcp",
 *   description: "processes joined by TCP sockets",
 *   flags: [{ name: "port", type: "int", description: "the first port to listen on" }],
 *   launcher: async (options) => (await import("./TcpLauncher.ts")).TcpLauncher.make(options),
 *   optionsFromFlags: (flags) => ({ port: flags["port"] }),
 *   decidesDeadlocks: false
 * }
 * ```
 */
import type { JobWatcher, Launcher } from "./Launcher.ts"

/** One flag of `rankflow run` that a transport reads. */
export interface TransportFlag {
  /** The flag without its dashes: `"nats"` is `--nats`. */
  readonly name: string
  readonly type: "string" | "int"
  readonly description: string
}

/** The flags' values as given (absent ones undefined), by name. */
export type FlagValues = Readonly<Record<string, string | number | undefined>>

export interface Registration {
  /** The name `--transport` and `World.make({ transport })` take. */
  readonly kind: string
  /** One line for `--transport`'s help. */
  readonly description: string
  /** Flags of `rankflow run` for this transport only. */
  readonly flags: ReadonlyArray<TransportFlag>
  /** The launcher for a job with these transport options (loads the transport's code). */
  readonly launcher: (options: object) => Promise<Launcher<any>>
  /** Transport options from the flags given (may load the transport's code). */
  readonly optionsFromFlags: (flags: FlagValues) => Promise<object>
  /**
   * Whether its launcher sees every rank of a job and so decides deadlocks
   * exactly; elsewhere a stall watchdog runs by default (30 s, report).
   */
  readonly decidesDeadlocks: boolean
  /**
   * Watches the stats channel of job `job` with these transport options (a
   * dashboard on any host: `rankflow dashboard`). Absent where jobs have no
   * stats channel.
   */
  readonly watch?: (options: object, job: string) => Promise<JobWatcher>
}
