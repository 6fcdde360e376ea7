/**
 * The shm transport: ranks are worker threads of one process exchanging frames
 * through rings in SharedArrayBuffers, with a shared arena for zero-copy
 * buffers. See docs/shm.md.
 */
export { ShmLauncher, type ShmLaunchOptions } from "./ShmLauncher.ts"
export { ShmTransport } from "./ShmTransport.ts"
export type { ShmOptions } from "./Layout.ts"
export type { OutputSink } from "../Output.ts"
