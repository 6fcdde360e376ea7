/**
 * `rankflow/transports`: the Transport and Launcher interfaces, and the shm
 * transport (worker threads sharing memory).
 */
export * from "./Transport.ts"
export type * from "./Launcher.ts"
export * from "./shm/index.ts"
export * from "./nats/index.ts"
