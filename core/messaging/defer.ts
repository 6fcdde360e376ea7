/**
 * Runs callbacks after the current synchronous work, in order.
 *
 * Effect 4 resumes a suspended fiber synchronously when its callback fires,
 * so a wake-up issued from inside the matching engine or a transport callback
 * would run user code in the middle of them. Core therefore settles its own
 * state first and defers every wake-up to a microtask (well under a
 * microsecond): the matching engine's, and every `completion` that settles
 * after its fiber suspended.
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
