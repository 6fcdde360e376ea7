/**
 * Runs callbacks after the current synchronous work, in order.
 *
 * Effect 4 resumes a suspended fiber synchronously when its callback fires,
 * so a wake-up issued from inside the matching engine or a transport callback
 * would run user code in the middle of them. Core therefore settles its own
 * state first and defers every wake-up that the transport's progress
 * triggers to a microtask (well under a microsecond).
 */
const queue: Array<() => void> = []
let scheduled = false

const drain = (): void => {
  for (let i = 0; i < queue.length; i++) queue[i]!()
  queue.length = 0
  scheduled = false
}

export const defer = (f: () => void): void => {
  queue.push(f)
  if (!scheduled) {
    scheduled = true
    queueMicrotask(drain)
  }
}

/**
 * Wraps a callback that a transport may call either synchronously, inside
 * the call that received it (run at once), or later from its own progress
 * (deferred). Call `settled()` after the transport call returns.
 */
export const deferLater = <Args extends Array<unknown>>(f: (...args: Args) => void): { readonly callback: (...args: Args) => void; settled(): void } => {
  let sync = true
  return {
    callback: (...args) => (sync ? f(...args) : defer(() => f(...args))),
    settled: () => {
      sync = false
    }
  }
}
