/**
 * Storage buffers pooled by size class, as TensorFlow.js's WebGPU backend
 * pools them: creating a buffer costs far more than reusing one, and Dawn
 * frees a destroyed buffer's memory only at the next queue submit.
 *
 * Size classes: powers of two from 256 bytes to 1 MiB, then multiples of
 * 1 MiB (a power-of-two class above 1 MiB would waste up to half of a large
 * array). Released buffers wait in their class for reuse; beyond `keepBytes`
 * in all, the oldest are destroyed at the next `trim` (which runs right after
 * a submit, so that no recorded command still refers to them).
 */

const USAGE = 0x80 /* STORAGE */ | 0x04 /* COPY_SRC */ | 0x08 /* COPY_DST */
const MIB = 1 << 20

/** The size class (bytes) of a request of `bytes`. */
export const sizeClass = (bytes: number): number => {
  if (bytes <= 256) return 256
  if (bytes <= MIB) return 2 ** Math.ceil(Math.log2(bytes))
  return Math.ceil(bytes / MIB) * MIB
}

export class BufferPool {
  private readonly free = new Map<number, Array<GPUBuffer>>()
  private readonly order: Array<GPUBuffer> = []
  private toDestroy: Array<GPUBuffer> = []
  /** Bytes of buffers that are handed out. */
  liveBytes = 0
  /** Bytes of buffers waiting in the pool. */
  pooledBytes = 0
  /** Buffers created over the pool's life (reuse keeps this flat). */
  created = 0

  private readonly device: GPUDevice
  private readonly keepBytes: number
  constructor(device: GPUDevice, keepBytes: number) {
    this.device = device
    this.keepBytes = keepBytes
  }

  /** A buffer of at least `bytes` (its class size), reused where one is free. */
  take(bytes: number): GPUBuffer {
    const size = sizeClass(bytes)
    const list = this.free.get(size)
    const reused = list?.pop()
    if (reused !== undefined) {
      const at = this.order.indexOf(reused)
      if (at >= 0) this.order.splice(at, 1)
      this.pooledBytes -= size
      this.liveBytes += size
      return reused
    }
    const buffer = this.device.createBuffer({ size, usage: USAGE })
    this.created++
    this.liveBytes += size
    return buffer
  }

  /** True when `take(bytes)` would create a buffer (none of its class is free). */
  wouldCreate(bytes: number): boolean {
    return (this.free.get(sizeClass(bytes))?.length ?? 0) === 0
  }

  /** Drops a buffer that failed to be created (out of memory): it is destroyed, not pooled. */
  forget(buffer: GPUBuffer): void {
    this.liveBytes -= buffer.size
    buffer.destroy()
  }

  /** Gives a buffer back for reuse. */
  give(buffer: GPUBuffer): void {
    const size = buffer.size
    this.liveBytes -= size
    this.pooledBytes += size
    let list = this.free.get(size)
    if (list === undefined) this.free.set(size, (list = []))
    list.push(buffer)
    this.order.push(buffer)
    while (this.pooledBytes > this.keepBytes && this.order.length > 0) {
      const oldest = this.order.shift()!
      const l = this.free.get(oldest.size)!
      l.splice(l.indexOf(oldest), 1)
      this.pooledBytes -= oldest.size
      this.toDestroy.push(oldest)
    }
  }

  /** True when buffers wait to be destroyed (a submit should follow `trim`). */
  get trimPending(): boolean {
    return this.toDestroy.length > 0
  }

  /** Destroys the buffers beyond the pool's budget; call right after a submit. */
  trim(): void {
    const list = this.toDestroy
    this.toDestroy = []
    for (const b of list) b.destroy()
  }

  /** Destroys every pooled buffer (the device is closing). */
  clear(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy()
    this.free.clear()
    this.order.length = 0
    this.pooledBytes = 0
    this.trim()
  }
}
