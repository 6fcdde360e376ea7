/**
 * Device memory a rank holds (the GPU layer's buffers), for the dashboard:
 * layers above core register a reader while their device lives, and the
 * rank's status reports the sum. Internal to rankflow.
 */

/** Readers of bytes held on devices (each gives its device's live and pooled buffers). */
const readers = new Set<() => number>()

/** Adds a reader; returns its removal. */
export const register = (reader: () => number): (() => void) => {
  readers.add(reader)
  return () => void readers.delete(reader)
}

/** Bytes held on devices now (0 where no device is open). */
export const held = (): number => {
  let bytes = 0
  for (const r of readers) bytes += r()
  return bytes
}
