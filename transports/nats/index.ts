/**
 * The NATS transport: ranks as processes on one or many hosts, joined through
 * a NATS server or cluster, with reliable ordered delivery per pair of ranks.
 * See docs/nats-protocol.md (the wire protocol) and docs/cluster.md (running
 * a cluster and multi-host jobs).
 */
export * as Nats from "./Nats.ts"
export { NatsLauncher, type NatsJob, type NatsLaunchOptions } from "./NatsLauncher.ts"
export { NatsTransport, type NatsTransportSettings, type NatsTransportStats } from "./NatsTransport.ts"
export type { NatsConfig, NatsOptions, NatsTlsOptions } from "./Options.ts"
export * as FrameAuth from "./FrameAuth.ts"
