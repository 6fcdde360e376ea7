/**
 * One WebGPU device and everything rankflow keeps beside it: the buffer
 * pool, the command encoder that collects dispatches until the next submit
 * (batched submits), the uniform buffers of the commands in flight, the
 * compiled-pipeline cache and the staging ring for downloads.
 *
 * Ordering rules this file keeps (WebGPU runs the queue in order):
 * - Dispatches are recorded into one pending encoder and submitted together:
 *   when `MAX_PENDING` are waiting, before any host write into a storage
 *   buffer (`queue.writeBuffer` runs before commands not yet submitted, so a
 *   pooled buffer rewritten for a new array must not still be read by them),
 *   and before any download.
 * - Each recorded dispatch has its own uniform buffer; uniform buffers return
 *   to the free list at the submit that runs them, and a later `writeBuffer`
 *   into one is ordered after that submit.
 * - Destroyed buffers free their memory at the next submit, so every trim of
 *   the pool is followed by one.
 */
import { GpuDeviceLost, GpuError } from "../errors.ts"
import { BufferPool } from "./BufferPool.ts"

const MAX_PENDING = 64
const UNIFORM_BYTES = 256
/** Bytes per download chunk: large enough to amortise a map, small enough to overlap (NOTES: chunked through a ring was 3× faster than one large map). */
export const CHUNK_BYTES = 4 << 20
const STAGING_SLOTS = 3

const MAP_READ = 0x01
const COPY_DST = 0x08
const UNIFORM = 0x40
const MAP_MODE_READ = 0x01

export class DeviceState {
  readonly pool: BufferPool
  readonly pipelines = new Map<string, GPUComputePipeline>()
  lost: GpuDeviceLost | undefined
  closed = false
  /** Submits so far (a count tests and benchmarks read). */
  submits = 0
  private encoder: GPUCommandEncoder | undefined
  private pending = 0
  private uniformsInFlight: Array<GPUBuffer> = []
  private readonly uniformsFree: Array<GPUBuffer> = []
  private readonly staging: Array<GPUBuffer> = []

  readonly device: GPUDevice
  readonly features: ReadonlySet<string>
  /** True for a driver that runs kernels on the CPU (lavapipe, SwiftShader): fewer, larger workgroups suit it. */
  readonly software: boolean
  /** Workgroups of a reduction's first pass (see kernels/reduce.ts). */
  readonly reductionGroups: number
  constructor(device: GPUDevice, features: ReadonlySet<string>, software = false) {
    this.device = device
    this.features = features
    this.software = software
    this.reductionGroups = software ? 32 : 2048
    this.pool = new BufferPool(device, Math.min(512 << 20, Math.floor(device.limits.maxBufferSize / 2)))
    device.lost.then((info) => {
      if (this.closed) return
      this.lost = new GpuDeviceLost({
        reason: info.reason ?? "unknown",
        message: `the GPU device was lost (${info.reason ?? "unknown"}: ${info.message}); arrays on it are gone. Acquire a new device (provide Gpu.layer() again) and upload the data again`
      })
    }, () => undefined)
    device.onuncapturederror = (event: GPUUncapturedErrorEvent) => {
      this.uncaptured ??= new GpuError({ operation: "device", message: `the device reported an error: ${event.error.message}` })
    }
  }

  /** The first error the device reported outside an error scope (returned once by `check`). */
  private uncaptured: GpuError | undefined

  /** Fails with the loss or closure of the device, if either happened. */
  check(operation: string): GpuDeviceLost | GpuError | undefined {
    if (this.lost !== undefined) return this.lost
    if (this.uncaptured !== undefined) {
      const e = this.uncaptured
      this.uncaptured = undefined
      return e
    }
    if (this.closed) return new GpuError({ operation, message: `${operation}: the device's scope has closed; use GPU arrays only inside the scope that provides Gpu.layer()` })
    return undefined
  }

  /** The encoder that collects the next dispatches. */
  recorder(): GPUCommandEncoder {
    return (this.encoder ??= this.device.createCommandEncoder())
  }

  /** Counts one recorded command; submits when enough have piled up. */
  recorded(): void {
    if (++this.pending >= MAX_PENDING) this.flush()
  }

  /** Submits everything recorded so far (and frees trimmed buffers). */
  flush(): void {
    if (this.closed) return
    const enc = this.encoder
    this.encoder = undefined
    this.pending = 0
    const trim = this.pool.trimPending
    if (enc !== undefined || trim) {
      this.device.queue.submit(enc !== undefined ? [enc.finish()] : [])
      this.submits++
    }
    if (this.uniformsInFlight.length > 0) {
      for (const u of this.uniformsInFlight) this.uniformsFree.push(u)
      this.uniformsInFlight = []
    }
    if (trim) {
      this.pool.trim()
      // Dawn frees destroyed buffers' memory at a submit.
      this.device.queue.submit([])
      this.submits++
    }
  }

  /** A uniform buffer holding `bytes`, for one command about to be recorded. */
  uniform(bytes: Uint8Array): GPUBuffer {
    const u = this.uniformsFree.pop() ?? this.device.createBuffer({ size: UNIFORM_BYTES, usage: UNIFORM | COPY_DST })
    this.device.queue.writeBuffer(u, 0, bytes as Uint8Array<ArrayBuffer>, 0, bytes.byteLength)
    this.uniformsInFlight.push(u)
    return u
  }

  /** Writes host bytes into a storage buffer, after everything recorded before (offset and length multiples of 4). */
  write(buffer: GPUBuffer, byteOffset: number, bytes: Uint8Array): void {
    this.flush()
    this.device.queue.writeBuffer(buffer, byteOffset, bytes as Uint8Array<ArrayBuffer>, 0, bytes.byteLength)
  }

  /**
   * Reads `byteLength` bytes from `buffer` at `byteOffset` in chunks through
   * the staging ring; `onChunk(bytes, at)` gets each chunk (a fresh copy) in
   * order while the next chunks are already being copied and mapped.
   */
  async read(buffer: GPUBuffer, byteOffset: number, byteLength: number, onChunk: (bytes: Uint8Array, at: number) => Promise<void> | void, chunkBytes = CHUNK_BYTES): Promise<void> {
    this.flush()
    if (byteLength === 0) return
    const chunks = Math.ceil(byteLength / chunkBytes)
    // Each read has its own slots (concurrent reads must not share a buffer that is being mapped).
    const slotBytes = Math.min(chunkBytes, (byteLength + 3) & ~3) + 8
    const slots: Array<GPUBuffer> = []
    for (let k = 0; k < Math.min(STAGING_SLOTS, chunks); k++) slots.push(this.takeStaging(slotBytes))
    const started: Array<{ staging: GPUBuffer; skip: number; length: number; mapped: Promise<void> } | undefined> = []
    const start = (k: number) => {
      const from = byteOffset + k * chunkBytes
      const length = Math.min(chunkBytes, byteLength - k * chunkBytes)
      const a0 = from & ~3
      const a1 = Math.min(buffer.size, (from + length + 3) & ~3)
      const staging = slots[k % STAGING_SLOTS]!
      const enc = this.device.createCommandEncoder()
      enc.copyBufferToBuffer(buffer, a0, staging, 0, a1 - a0)
      this.device.queue.submit([enc.finish()])
      this.submits++
      const mapped = staging.mapAsync(MAP_MODE_READ, 0, a1 - a0)
      mapped.catch(() => undefined)
      started[k] = { staging, skip: from - a0, length, mapped }
    }
    try {
      for (let k = 0; k < slots.length; k++) start(k)
      for (let k = 0; k < chunks; k++) {
        const c = started[k]!
        try {
          await c.mapped
        } catch (e) {
          throw this.lost ?? new GpuError({ operation: "download", message: `download: mapping a staging buffer failed: ${e instanceof Error ? e.message : String(e)}` })
        }
        const range = c.staging.getMappedRange(0, (c.skip + c.length + 3) & ~3)
        const copy = new Uint8Array(c.length)
        copy.set(new Uint8Array(range, c.skip, c.length))
        c.staging.unmap()
        started[k] = undefined
        if (k + STAGING_SLOTS < chunks) start(k + STAGING_SLOTS)
        await onChunk(copy, k * chunkBytes)
      }
    } finally {
      for (const s of slots) this.giveStaging(s)
    }
  }

  private takeStaging(bytes: number): GPUBuffer {
    const i = this.staging.findIndex((b) => b.size >= bytes && b.size <= 4 * bytes + 1024)
    if (i >= 0) return this.staging.splice(i, 1)[0]!
    return this.device.createBuffer({ size: (bytes + 3) & ~3, usage: MAP_READ | COPY_DST })
  }

  private giveStaging(b: GPUBuffer): void {
    // A buffer still being mapped (an interrupted read) cannot be reused: destroying it cancels the map.
    if (this.closed || b.mapState !== "unmapped" || this.staging.length >= 4 * STAGING_SLOTS) return b.destroy()
    this.staging.push(b)
  }

  /** Waits until the GPU has run everything submitted. */
  async idle(): Promise<void> {
    this.flush()
    await this.device.queue.onSubmittedWorkDone()
  }

  /** Releases everything: pooled, staging and uniform buffers, then the device. */
  close(): void {
    if (this.closed) return
    this.flush()
    this.closed = true
    this.pool.clear()
    for (const s of this.staging) s.destroy()
    for (const u of this.uniformsFree) u.destroy()
    for (const u of this.uniformsInFlight) u.destroy()
    this.staging.length = 0
    this.pipelines.clear()
    this.device.destroy()
  }
}
