/** The NATS transport's registration (see ../Registration.ts): processes joined through a NATS server or cluster. */
import type { FlagValues, Registration } from "../Registration.ts"

const text = (name: string, description: string) => ({ name, type: "string" as const, description })
const str = (flags: FlagValues, name: string): string | undefined => (flags[name] === undefined ? undefined : String(flags[name]))

export const registration: Registration = {
  kind: "nats",
  description: "processes joined through NATS",
  flags: [
    text("nats", "nats: server URLs, comma-separated (default nats://127.0.0.1:4222)"),
    text("job", "nats: the job id every host of a multi-host job gives (default: a fresh one)"),
    text("ranks", "nats: the ranks this host runs, e.g. 0-3 (default: all)"),
    { name: "join-timeout", type: "int", description: "nats: seconds to wait for every rank to join (default 30)" },
    { name: "heartbeat-timeout", type: "int", description: "nats: seconds of silence after which a rank is taken for dead (default 10)" },
    text("creds", "nats: a credentials file"),
    text("user", "nats: user name"),
    text("password", "nats: password"),
    text("token", "nats: token"),
    text("tls-ca", "nats: CA certificate file"),
    text("tls-cert", "nats: client certificate file"),
    text("tls-key", "nats: client key file"),
    text("job-key-file", "nats: a file holding the job's key (every host gives the same): frames are signed, forged ones dropped"),
    { name: "poll-micros", type: "int", description: "nats: microseconds a waiting rank polls its connection before it sleeps (default 200 where a host runs no more ranks than cores, else 0)" }
  ],
  launcher: async (options) => (await import("./NatsLauncher.ts")).NatsLauncher.make(options),
  optionsFromFlags: async (flags) =>
    (await import("./Nats.ts")).optionsFromFlags({
      nats: str(flags, "nats"),
      job: str(flags, "job"),
      ranks: str(flags, "ranks"),
      joinTimeout: flags["join-timeout"] === undefined ? undefined : Number(flags["join-timeout"]),
      heartbeatTimeout: flags["heartbeat-timeout"] === undefined ? undefined : Number(flags["heartbeat-timeout"]),
      creds: str(flags, "creds"),
      user: str(flags, "user"),
      password: str(flags, "password"),
      token: str(flags, "token"),
      tlsCa: str(flags, "tls-ca"),
      tlsCert: str(flags, "tls-cert"),
      tlsKey: str(flags, "tls-key"),
      jobKeyFile: str(flags, "job-key-file"),
      pollMicros: flags["poll-micros"] === undefined ? undefined : Number(flags["poll-micros"])
    }),
  decidesDeadlocks: false,
  watch: async (options, job) => {
    const [{ resolve }, { watch }, { TransportError }] = await Promise.all([import("./Options.ts"), import("./JobStats.ts"), import("../Transport.ts")])
    const config = resolve({ ...options, job, ranks: "0" }, 1)
    if (config instanceof TransportError) throw config
    return watch(config, job)
  }
}
