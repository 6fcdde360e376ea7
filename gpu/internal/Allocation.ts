/**
 * The storage buffer behind a GPU array, shared by the array and its views,
 * and given back to the device's pool once (not public).
 */
import type { DeviceState } from "./DeviceState.ts"

/** A storage buffer held by one array (and shared by its views). */
export class Allocation {
  released = false
  readonly state: DeviceState
  readonly buffer: GPUBuffer
  constructor(state: DeviceState, buffer: GPUBuffer) {
    this.state = state
    this.buffer = buffer
  }
  /** Returns the buffer to the pool (once). */
  release(): void {
    if (this.released || this.state.closed) return
    this.released = true
    this.state.pool.give(this.buffer)
  }
}
