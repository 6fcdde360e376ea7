/**
 * Rank programs for the point-to-point conformance suite (test/core/p2p.test.ts).
 * Each runs on every rank of a world of any size and checks its rule itself.
 */
import { Duration, Effect, Fiber, Option, Schema } from "effect"
import { ANY_SOURCE, ANY_TAG, Comm, PROC_NULL, Request } from "rankflow"
import { Datatype } from "rankflow/codecs"
import { check, checkEqual } from "./check.ts"

const world = Comm.World

/** A token travels 0 → 1 → … → size-1 → 0, each rank adding its rank. */
export const ringRelay = Effect.gen(function*() {
  const w = yield* world
  const next = (w.rank + 1) % w.size
  const prev = (w.rank - 1 + w.size) % w.size
  if (w.rank === 0) {
    yield* w.send(0, { dest: next, tag: 1 })
    const token = yield* w.recv<number>({ source: prev, tag: 1 })
    yield* checkEqual(token, (w.size * (w.size - 1)) / 2, "token after one lap")
    return token
  }
  const token = yield* w.recv<number>({ source: prev, tag: 1 })
  yield* w.send(token + w.rank, { dest: next, tag: 1 })
  return token + w.rank
})

/** A rank can send to itself, blocking for small messages and non-blocking for any size. */
export const selfSend = Effect.gen(function*() {
  const w = yield* world
  yield* w.send({ from: w.rank }, { dest: w.rank, tag: 3 })
  yield* checkEqual(yield* w.recv({ source: w.rank, tag: 3 }), { from: w.rank }, "small self-send")
  const big = Float64Array.from({ length: 1 << 18 }, (_, i) => i + w.rank)
  const out = yield* w.isend(big, { dest: w.rank, tag: 4 })
  const back = yield* w.recv<Float64Array>({ source: w.rank, tag: 4 })
  yield* Request.wait(out)
  yield* check(back instanceof Float64Array && back.length === big.length && back[12345] === 12345 + w.rank, "large self-send arrives intact")
})

/** Sends to PROC_NULL complete at once; receives from it give undefined with source PROC_NULL. */
export const procNull = Effect.gen(function*() {
  const w = yield* world
  yield* w.send("nowhere", { dest: PROC_NULL, tag: 1 })
  yield* w.ssend("nowhere", { dest: PROC_NULL })
  yield* Request.wait(yield* w.isend("nowhere", { dest: PROC_NULL }))
  const { value, status } = yield* w.recvWithStatus({ source: PROC_NULL, tag: 1 })
  yield* checkEqual(value, undefined, "value from PROC_NULL")
  yield* checkEqual(status.source, PROC_NULL, "status.source of a PROC_NULL receive")
  yield* checkEqual(yield* Request.wait(yield* w.irecv({ source: PROC_NULL })), undefined, "irecv from PROC_NULL")
  const status2 = yield* w.recvInto(new Int32Array(4), { source: PROC_NULL })
  yield* checkEqual(status2.count, 0, "recvInto from PROC_NULL receives nothing")
  yield* checkEqual(yield* w.sendrecv(1, { dest: PROC_NULL, source: PROC_NULL }), undefined, "sendrecv with PROC_NULL")
})

/** ANY_SOURCE / ANY_TAG receives report the actual source, tag, size and codec in Status. */
export const wildcards = Effect.gen(function*() {
  const w = yield* world
  if (w.rank !== 0) {
    yield* w.send({ rank: w.rank, pad: "x".repeat(w.rank) }, { dest: 0, tag: 100 + w.rank })
    yield* w.send(new Int16Array(w.rank), { dest: 0, tag: 200 + w.rank })
    return
  }
  // Each sender's two messages match the same wildcard receive, so they arrive in the order sent.
  const firstSeen = new Set<number>()
  for (let i = 0; i < 2 * (w.size - 1); i++) {
    const { value, status } = yield* w.recvWithStatus<{ rank: number } | Int16Array>({ source: ANY_SOURCE, tag: ANY_TAG })
    const s = status.source
    if (!firstSeen.has(s)) {
      firstSeen.add(s)
      yield* checkEqual(status.tag, 100 + s, `the first message from rank ${s} comes first`)
      yield* checkEqual((value as { rank: number }).rank, s, "status.source is the sender")
      yield* checkEqual(status.codec, "pickle", "status.codec")
      yield* check(status.byteCount > 0, "status.byteCount counts the encoded bytes")
      continue
    }
    yield* checkEqual([status.tag, status.count, status.datatype, status.codec], [200 + s, s, "int16", "raw"], "buffer status")
    yield* checkEqual((value as Int16Array).length, s, "buffer length")
  }
  yield* checkEqual(firstSeen.size, w.size - 1, "messages from every other rank")
})

const payloadOf = (k: number, seq: number, from: number): unknown => {
  switch (k % 5) {
    case 0:
      return seq
    case 1:
      return { seq, from, text: "m".repeat(seq % 64) }
    case 2: {
      const a = new Int32Array(1 + (seq % 300))
      a[0] = seq
      return a
    }
    case 3: {
      // Every 97th of these is large enough to take the rendezvous path.
      const a = new Float64Array(seq % 97 === 0 ? 40_000 : 2 + (seq % 50))
      a[0] = seq
      a[a.length - 1] = from
      return a
    }
    default:
      return [seq, new Uint8Array(seq % 17)]
  }
}

const seqOf = (v: unknown): number =>
  typeof v === "number" ? v : ArrayBuffer.isView(v) ? Number((v as Float64Array)[0]) : Array.isArray(v) ? v[0] : (v as { seq: number }).seq

/**
 * Every rank sends `total / size` messages of mixed sizes and two tags, spread
 * over all ranks (itself included); every receiver checks that per sender and
 * tag they arrive exactly once and in order.
 */
export const nonOvertaking = (total: number) =>
  Effect.gen(function*() {
    const w = yield* world
    const perRank = Math.floor(total / w.size)
    // How many messages each rank sends to each destination.
    const countTo = (dest: number) => Math.floor(perRank / w.size) + (dest < perRank % w.size ? 1 : 0)
    const sender = yield* Effect.forkChild(Effect.gen(function*() {
      const seqs = new Array(w.size * 2).fill(0)
      let sent = 0
      const todo = Array.from({ length: w.size }, (_, d) => countTo(d))
      while (sent < perRank) {
        for (let dest = 0; dest < w.size; dest++) {
          if (todo[dest] === 0) continue
          todo[dest]--
          const tag = sent % 3 === 0 ? 1 : 2
          const key = dest * 2 + (tag - 1)
          const seq = seqs[key]++
          yield* w.send(payloadOf(sent, seq, w.rank), { dest, tag })
          sent++
        }
      }
    }))
    // Every rank sends countTo(r) messages to rank r.
    const incoming = w.size * countTo(w.rank)
    const next = new Map<string, number>()
    for (let i = 0; i < incoming; i++) {
      const { value, status } = yield* w.recvWithStatus({ source: ANY_SOURCE, tag: ANY_TAG })
      const key = `${status.source}/${status.tag}`
      const want = next.get(key) ?? 0
      const got = seqOf(value)
      if (got !== want) return yield* check(false, `from rank ${status.source} tag ${status.tag}: expected message #${want}, got #${got}`)
      next.set(key, want + 1)
    }
    yield* Fiber.join(sender)
    yield* w.barrier()
    yield* checkEqual(Option.isNone(yield* w.iprobe()), true, "no message left over (no duplicates)")
    return incoming
  })

/** Many requests, completed with every wait and test variant. */
export const requestVariants = Effect.gen(function*() {
  const w = yield* world
  const to = (w.rank + 1) % w.size
  const from = (w.rank - 1 + w.size) % w.size
  const N = 40
  const sendAll = (base: number) => Effect.forEach(Array.from({ length: N }, (_, i) => i), (i) => w.isend(base + i, { dest: to, tag: i }))
  const recvAll = Effect.forEach(Array.from({ length: N }, (_, i) => i), (i) => w.irecv<number>({ source: from, tag: i }))

  // waitAll
  let sends = yield* sendAll(0)
  let recvs = yield* recvAll
  yield* checkEqual(yield* Request.waitAll(recvs), Array.from({ length: N }, (_, i) => i), "waitAll values in order")
  yield* Request.waitAll(sends)

  // waitAny until all are inactive
  sends = yield* sendAll(1000)
  recvs = yield* recvAll
  const seen = new Set<number>()
  for (;;) {
    const { index, value } = yield* Request.waitAny(recvs)
    if (index === -1) break
    yield* checkEqual(value, 1000 + index, "waitAny value belongs to its index")
    seen.add(index)
  }
  yield* checkEqual(seen.size, N, "waitAny returns every request once")
  yield* Request.waitAll(sends)

  // waitSome
  sends = yield* sendAll(2000)
  recvs = yield* recvAll
  let count = 0
  for (;;) {
    const done = yield* Request.waitSome(recvs)
    if (done.length === 0) break
    for (const d of done) yield* checkEqual(d.value, 2000 + d.index, "waitSome value")
    count += done.length
  }
  yield* checkEqual(count, N, "waitSome returns every request once")
  yield* Request.waitAll(sends)

  // test / testAll / testAny / testSome, polled until done
  sends = yield* sendAll(3000)
  recvs = yield* recvAll
  let all = yield* Request.testAll(recvs)
  while (Option.isNone(all)) {
    yield* Effect.yieldNow
    all = yield* Request.testAll(recvs)
  }
  yield* checkEqual(all.value, Array.from({ length: N }, (_, i) => 3000 + i), "testAll values")
  for (const r of sends) {
    while (Option.isNone(yield* Request.test(r))) yield* Effect.yieldNow
  }
  sends = yield* sendAll(4000)
  recvs = yield* recvAll
  let got = 0
  while (got < N) {
    const one = yield* Request.testAny(recvs)
    if (Option.isSome(one)) {
      got++
      continue
    }
    const some = yield* Request.testSome(recvs)
    got += some.length
    if (some.length === 0) yield* Effect.yieldNow
  }
  yield* Request.waitAll(sends)

  // cancel: a receive nobody sends to is cancelled, and waiting on it says so
  const lonely = yield* w.irecv({ source: from, tag: 9999 })
  yield* checkEqual(yield* Request.cancel(lonely), true, "a pending receive can be cancelled")
  const outcome = yield* Effect.flip(Request.wait(lonely))
  yield* checkEqual(outcome._tag, "RequestCancelled", "waiting on a cancelled request")
  // A completed request cannot be cancelled.
  const done = yield* w.isend(1, { dest: w.rank, tag: 77 })
  yield* Request.wait(done)
  yield* checkEqual(yield* Request.cancel(done), false, "a completed request is not cancelled")
  yield* w.recv({ source: w.rank, tag: 77 })
  yield* w.barrier()
})

/** probe and iprobe report a message without taking it. */
export const probes = Effect.gen(function*() {
  const w = yield* world
  const to = (w.rank + 1) % w.size
  const from = (w.rank - 1 + w.size) % w.size
  yield* checkEqual(Option.isNone(yield* w.iprobe({ source: from, tag: 5 })), true, "iprobe before anything was sent")
  yield* w.barrier()
  yield* w.send(new Float32Array(7), { dest: to, tag: 5 })
  yield* w.send("text", { dest: to, tag: 6 })
  const st = yield* w.probe({ source: from, tag: 5 })
  yield* checkEqual([st.source, st.tag, st.count, st.datatype], [from, 5, 7, "float32"], "probe's status")
  yield* w.probe({ source: from, tag: 6 })
  const again = yield* w.iprobe({ source: ANY_SOURCE, tag: 6 })
  yield* check(Option.isSome(again) && again.value.codec === "pickle", "iprobe sees the second message once it has arrived")
  // Probing did not consume: both are still there, in order.
  const first = yield* w.recv<Float32Array>({ source: from, tag: ANY_TAG })
  yield* checkEqual(first.length, 7, "first message after probing")
  yield* checkEqual(yield* w.recv({ source: from }), "text", "second message after probing")
  // A blocking probe waits for a message that is sent later.
  yield* w.barrier()
  const waiting = yield* Effect.forkChild(w.probe({ source: from, tag: 8 }))
  yield* w.send(42, { dest: to, tag: 8 })
  const late = yield* Fiber.join(waiting)
  yield* checkEqual(late.tag, 8, "blocking probe")
  yield* checkEqual(yield* w.recv({ source: from, tag: 8 }), 42, "message after a blocking probe")
})

/**
 * An interrupted receive (a timeout) takes nothing: the message sent after it
 * gave up goes to the next receive. Repeated with timeouts racing arrivals,
 * every message is received exactly once and in order.
 */
export const interruptedRecv = Effect.gen(function*() {
  const w = yield* world
  const to = (w.rank + 1) % w.size
  const from = (w.rank - 1 + w.size) % w.size
  const timedOut = yield* Effect.timeoutOption(w.recv({ source: from, tag: 5 }), Duration.millis(30))
  yield* checkEqual(Option.isNone(timedOut), true, "nothing was sent yet")
  yield* w.barrier()
  yield* w.send("after", { dest: to, tag: 5 })
  yield* checkEqual(yield* w.recv({ source: from, tag: 5 }), "after", "the next receive gets the message")

  const N = 300
  const sender = yield* Effect.forkChild(Effect.forEach(Array.from({ length: N }, (_, i) => i), (i) =>
    Effect.andThen(i % 7 === 0 ? Effect.sleep(Duration.millis(1)) : Effect.void, w.send(i, { dest: to, tag: 6 }))))
  let expected = 0
  while (expected < N) {
    const r = yield* Effect.timeoutOption(w.recv<number>({ source: from, tag: 6 }), Duration.millis(expected % 3 === 0 ? 0 : 1))
    if (Option.isNone(r)) continue
    if (r.value !== expected) return yield* check(false, `expected ${expected}, got ${r.value}`)
    expected++
  }
  yield* Fiber.join(sender)
  yield* w.barrier()
  yield* checkEqual(Option.isNone(yield* w.iprobe({ tag: 6 })), true, "nothing received twice or left behind")
})

/** Probes that time out take nothing and withdraw themselves: later probes and receives see every message once, in order. */
export const interruptedProbe = Effect.gen(function*() {
  const w = yield* world
  const to = (w.rank + 1) % w.size
  const from = (w.rank - 1 + w.size) % w.size
  const N = 300
  const sender = yield* Effect.forkChild(Effect.forEach(Array.from({ length: N }, (_, i) => i), (i) =>
    Effect.andThen(i % 7 === 0 ? Effect.sleep(Duration.millis(1)) : Effect.void, w.send(i, { dest: to, tag: 7 }))))
  let expected = 0
  let timedOut = 0
  while (expected < N) {
    const status = yield* Effect.timeoutOption(w.probe({ source: from, tag: 7 }), Duration.millis(expected % 3 === 0 ? 0 : 1))
    if (Option.isNone(status)) {
      timedOut++
      continue
    }
    const got = yield* w.recv<number>({ source: from, tag: 7 })
    if (got !== expected) return yield* check(false, `expected ${expected}, got ${got}`)
    expected++
  }
  yield* Fiber.join(sender)
  yield* w.barrier()
  yield* checkEqual(Option.isNone(yield* w.iprobe({ tag: 7 })), true, "nothing received twice or left behind")
  yield* w.barrier()
  // A probe withdrawn long ago does not stand in a later one's way.
  yield* w.send("last", { dest: to, tag: 7 })
  yield* checkEqual((yield* w.probe({ source: from, tag: 7 })).tag, 7, "the last probe sees the message")
  yield* checkEqual(yield* w.recv({ source: from, tag: 7 }), "last", "and the receive takes it")
  return timedOut
})

const checksum = (a: Float64Array): number => {
  let s = 0
  for (let i = 0; i < a.length; i += 4099) s += a[i]!
  return s + a[a.length - 1]!
}

/** Messages of 0 bytes, 1 byte and 64 MiB travel intact. */
export const sizes = Effect.gen(function*() {
  const w = yield* world
  const to = (w.rank + 1) % w.size
  const from = (w.rank - 1 + w.size) % w.size
  const big = new Float64Array((64 * 1024 * 1024) / 8)
  for (let i = 0; i < big.length; i += 4099) big[i] = i + w.rank
  big[big.length - 1] = w.rank
  const reqs = [
    yield* w.isend(new Uint8Array(0), { dest: to, tag: 0 }),
    yield* w.isend(Uint8Array.of(7), { dest: to, tag: 1 }),
    yield* w.isend(big, { dest: to, tag: 2 }),
    yield* w.isend({ nested: big.subarray(0, 1 << 17) }, { dest: to, tag: 3 })
  ]
  const zero = yield* w.recv<Uint8Array>({ source: from, tag: 0 })
  yield* checkEqual(zero.length, 0, "0-byte message")
  yield* checkEqual(Array.from(yield* w.recv<Uint8Array>({ source: from, tag: 1 })), [7], "1-byte message")
  const got = yield* w.recv<Float64Array>({ source: from, tag: 2 })
  const want = new Float64Array(big.length)
  for (let i = 0; i < want.length; i += 4099) want[i] = i + from
  want[want.length - 1] = from
  yield* checkEqual([got.length, checksum(got)], [want.length, checksum(want)], "64 MiB message")
  const nested = yield* w.recv<{ nested: Float64Array }>({ source: from, tag: 3 })
  yield* checkEqual(nested.nested[4099], 4099 + from, "out-of-band buffer inside a pickled object")
  const into = new Float64Array(big.length)
  yield* w.send(big, { dest: to, tag: 4 }).pipe(Effect.forkChild)
  const st = yield* w.recvInto(into, { source: from, tag: 4 })
  yield* checkEqual([st.count, checksum(into)], [want.length, checksum(want)], "64 MiB into a caller's buffer")
  yield* Request.waitAll(reqs)
  // Large received arrays may live in the shared arena: give them back rather than wait for GC.
  yield* w.release(got)
  yield* w.release(nested.nested)
  yield* w.barrier()
})

/**
 * The zero-copy path: an array from `alloc` is not copied, so the receiver
 * sees the sender's memory — a write by the receiver is visible to the sender
 * after they synchronize.
 */
export const zeroCopy = Effect.gen(function*() {
  const w = yield* world
  const to = (w.rank + 1) % w.size
  const from = (w.rank - 1 + w.size) % w.size
  const mine = yield* w.alloc(Float64Array, 1 << 20)
  mine.fill(w.rank)
  yield* w.send(mine, { dest: to, tag: 1 })
  const theirs = yield* w.recv<Float64Array>({ source: from, tag: 1 })
  yield* checkEqual([theirs.length, theirs[0], theirs[theirs.length - 1]], [1 << 20, from, from], "the receiver sees the sender's data")
  theirs[0] = 1000 + w.rank
  yield* w.barrier()
  yield* checkEqual(mine[0], 1000 + to, "the receiver's write shows in the sender's array: no copy was made")
  yield* w.release(theirs)
  yield* w.release(mine)
})

/** Without shared memory (NATS), `alloc` fails with an error that says what to do instead. */
export const noSharedMemory = Effect.gen(function*() {
  const w = yield* world
  const e = yield* Effect.flip(w.alloc(Float64Array, 16))
  yield* checkEqual(e._tag, "AllocationFailed", "alloc without shared memory")
  yield* check(e.message.includes("ordinary typed array"), e.message)
})

const Point = Schema.Struct({ x: Schema.Number, y: Schema.Number, label: Schema.String })

/** A schema types a message: a bad message fails its receive with MessageInvalid naming the field; the next receive works. */
export const schemas = Effect.gen(function*() {
  const w = yield* world
  const to = (w.rank + 1) % w.size
  const from = (w.rank - 1 + w.size) % w.size
  yield* w.send({ x: 1, y: "two", label: "bad" }, { dest: to, tag: 1 })
  yield* w.send({ x: 1, y: 2, label: "good" }, { dest: to, tag: 1, schema: Point })
  const bad = yield* Effect.flip(w.recv({ source: from, tag: 1, schema: Point }))
  yield* checkEqual(bad._tag, "MessageInvalid", "a bad message fails with MessageInvalid")
  yield* check(bad.message.includes("y"), `the error names the field: ${bad.message}`)
  const good = yield* w.recv({ source: from, tag: 1, schema: Point })
  yield* checkEqual(good, { x: 1, y: 2, label: "good" }, "the next receive works")
  const encodeFails = yield* Effect.flip(w.send({ x: "no" } as never, { dest: to, schema: Point }))
  yield* checkEqual(encodeFails._tag, "EncodeError", "a value that does not match the send's schema is not sent")
})

/**
 * A communicator's decoding limit: a value that would decode past it fails its
 * receive (and a collective) with a DecodeError naming the limit; the next
 * message arrives as if nothing happened; bad options fail on every rank.
 */
export const decodeLimit = Effect.gen(function*() {
  const w = yield* world
  const guarded = yield* w.dup({ maxDecodedBytes: 1024 * 1024 })
  const to = (w.rank + 1) % w.size
  const from = (w.rank - 1 + w.size) % w.size
  const maps = Array.from({ length: 100_000 }, () => new Map())
  const big = yield* guarded.isend(maps, { dest: to, tag: 1 })
  yield* guarded.send("after", { dest: to, tag: 1 })
  const error = yield* Effect.flip(guarded.recv({ source: from, tag: 1 }))
  yield* checkEqual(error._tag, "DecodeError", "a value past the limit")
  yield* check(error.message.includes("maxDecodedBytes (1.0 MiB)"), `the error names the limit: ${error.message}`)
  yield* checkEqual(yield* guarded.recv({ source: from, tag: 1 }), "after", "the next message is still there")
  yield* Request.wait(big)
  // The parent keeps its own (default) limit: the same value arrives whole there.
  const whole = yield* w.isend(maps, { dest: to, tag: 2 })
  yield* checkEqual((yield* w.recv<Array<Map<never, never>>>({ source: from, tag: 2 })).length, 100_000, "the world's default limit")
  yield* Request.wait(whole)
  // A collective on the guarded communicator: every rank that decodes the value fails.
  const bcast = yield* Effect.exit(guarded.bcast(w.rank === 0 ? maps : undefined, { root: 0 }))
  if (w.rank !== 0) yield* check(bcast._tag === "Failure" && String(bcast.cause).includes("maxDecodedBytes"), "bcast past the limit fails")
  yield* guarded.barrier()
  const bad = yield* Effect.flip(w.dup({ maxDecodedBytes: -1 }))
  yield* checkEqual(bad._tag, "InvalidArgument", "a negative limit")
  const unknown = yield* Effect.flip(w.dup({ codec: "json" }))
  yield* check(unknown._tag === "InvalidArgument" && unknown.message.includes("known:"), `an unknown codec: ${unknown.message}`)
  const compact = yield* w.dup({ codec: "marshal" })
  yield* compact.send({ a: [1, 2] }, { dest: to, tag: 3 })
  const { value, status } = yield* compact.recvWithStatus({ source: from, tag: 3 })
  yield* checkEqual([value, status.codec], [{ a: [1, 2] }, "marshal"], "dup({ codec }) changes the communicator's codec")
})

/**
 * Pending isends of large strings hold their encoded bytes and nothing more:
 * rank 0 returns the ArrayBuffer memory held per pending send (MiB) while
 * rank 1 sleeps.
 */
export const pendingStrings = Effect.gen(function*() {
  const w = yield* world
  const n = 200
  if (w.rank === 0) {
    const before = process.memoryUsage().arrayBuffers
    const requests = []
    for (let i = 0; i < n; i++) requests.push(yield* w.isend("x".repeat(1 << 20) + i, { dest: 1, tag: 1 }))
    const held = (process.memoryUsage().arrayBuffers - before) / n / (1 << 20)
    yield* Request.waitAll(requests)
    return held
  }
  if (w.rank === 1) {
    // A receiver that sleeps, then receives (the sender's measurement is taken before the first receive can run).
    yield* Effect.sleep(Duration.millis(1000))
    for (let i = 0; i < n; i++) yield* checkEqual((yield* w.recv<string>({ source: 0, tag: 1 })).length, (1 << 20) + String(i).length, "a string")
  }
  return 0
})

/** recvInto's DatatypeMismatch and Truncated leave the message queued for a fitting receive. */
export const recvIntoErrors = Effect.gen(function*() {
  const w = yield* world
  const to = (w.rank + 1) % w.size
  const from = (w.rank - 1 + w.size) % w.size
  yield* w.send(Int32Array.from([1, 2, 3, 4, 5]), { dest: to, tag: 2 })
  const mismatch = yield* Effect.flip(w.recvInto(new Float64Array(5), { source: from, tag: 2 }))
  yield* checkEqual(mismatch._tag, "DatatypeMismatch", "wrong element type")
  yield* check(mismatch.message.includes("int32") && mismatch.message.includes("float64"), `names both types: ${mismatch.message}`)
  const truncated = yield* Effect.flip(w.recvInto(new Int32Array(3), { source: from, tag: 2 }))
  yield* checkEqual(truncated._tag, "Truncated", "buffer too small")
  yield* check(truncated.message.includes("5") && truncated.message.includes("3"), `names both sizes: ${truncated.message}`)
  const fits = new Int32Array(8)
  const st = yield* w.recvInto(fits, { source: from, tag: 2 })
  yield* checkEqual([st.count, Array.from(fits.subarray(0, 5))], [5, [1, 2, 3, 4, 5]], "the message was still there")
  yield* w.send({ not: "a buffer" }, { dest: to, tag: 3 })
  const notBuffer = yield* Effect.flip(w.recvInto(new Int32Array(3), { source: from, tag: 3 }))
  yield* checkEqual(notBuffer._tag, "DatatypeMismatch", "an encoded value cannot be received into a buffer")
  yield* checkEqual(yield* w.recv({ source: from, tag: 3 }), { not: "a buffer" }, "and is still there for recv")
})

/** ssend completes only once the receiver has matched the message. */
export const synchronousSend = Effect.gen(function*() {
  const w = yield* world
  if (w.size < 2) return
  if (w.rank === 0) {
    const req = yield* w.issend("sync", { dest: 1, tag: 1 })
    yield* Effect.sleep(Duration.millis(20))
    yield* checkEqual(Option.isNone(yield* Request.test(req)), true, "issend is pending while no receive matches it")
    yield* w.send("go", { dest: 1, tag: 2 })
    yield* Request.wait(req)
    yield* w.ssend("blocking", { dest: 1, tag: 3 })
  } else if (w.rank === 1) {
    yield* checkEqual(yield* w.recv({ source: 0, tag: 2 }), "go", "go")
    yield* checkEqual(yield* w.recv({ source: 0, tag: 1 }), "sync", "synchronous message")
    yield* checkEqual(yield* w.recv({ source: 0, tag: 3 }), "blocking", "blocking ssend")
  }
})

/** Bad ranks and tags fail with errors that say what is wrong. */
export const invalidArguments = Effect.gen(function*() {
  const w = yield* world
  const badRank = yield* Effect.flip(w.send(1, { dest: w.size + 3 }))
  yield* checkEqual(badRank._tag, "InvalidRank", "send to a rank outside the communicator")
  yield* check(badRank.message.includes(`rank ${w.size + 3}`) && badRank.message.includes(`${w.size} rank`), badRank.message)
  const badTag = yield* Effect.flip(w.send(1, { dest: 0, tag: -5 }))
  yield* checkEqual(badTag._tag, "InvalidTag", "negative tag")
  const anyTagSend = yield* Effect.flip(w.send(1, { dest: 0, tag: ANY_TAG }))
  yield* checkEqual(anyTagSend._tag, "InvalidTag", "ANY_TAG on a send")
  const badSource = yield* Effect.flip(w.recv({ source: -7 }))
  yield* checkEqual(badSource._tag, "InvalidRank", "receive from a rank outside the communicator")
  const fn = yield* Effect.flip(w.send({ f: () => 1 }, { dest: w.rank }))
  yield* checkEqual(fn._tag, "EncodeError", "a function cannot be sent")
  const codec = yield* Effect.flip(w.send(1, { dest: w.rank, codec: "nope" }))
  yield* checkEqual(codec._tag, "UnknownCodec", "an unknown codec")
  const cycle = yield* Effect.flip(w.send((() => {
    const a: Record<string, unknown> = {}
    a.self = a
    return a
  })(), { dest: w.rank, codec: "marshal" }))
  yield* checkEqual(cycle._tag, "EncodeError", "marshal refuses a cycle")
})

/** Every codec carries a message; the status names it. */
export const codecs = Effect.gen(function*() {
  const w = yield* world
  const to = (w.rank + 1) % w.size
  const from = (w.rank - 1 + w.size) % w.size
  const value = { key1: [7, 2.72, "x"], key2: ["abc", "xyz"], n: -3 }
  for (const codec of ["pickle", "marshal", "cbor", "msgpack"]) {
    yield* w.send(value, { dest: to, tag: 1, codec })
    const { value: got, status } = yield* w.recvWithStatus({ source: from, tag: 1 })
    yield* checkEqual(got, value, `${codec} round trip`)
    yield* checkEqual(status.codec, codec, `${codec} status`)
  }
})

/** A rank that fails ends the run; peers blocked on it are stopped. */
export const failing = (how: "error" | "defect" | "exit" | "uncaught") =>
  Effect.gen(function*() {
    const w = yield* world
    if (w.rank === w.size - 1) {
      yield* Effect.sleep(Duration.millis(20))
      switch (how) {
        case "error":
          return yield* check(false, "rank gave up on purpose")
        case "defect":
          return yield* Effect.sync(() => {
            throw new Error("thrown on purpose")
          })
        case "exit":
          return yield* Effect.sync(() => process.exit(3))
        case "uncaught":
          setTimeout(() => {
            throw new Error("uncaught on purpose")
          }, 0)
          return yield* Effect.never
      }
    }
    // Everyone else waits for a message that never comes.
    return yield* w.recv({ source: w.size - 1, tag: 1 })
  })

/**
 * Derived datatypes: each rank sends column (rank mod 4) of its 5×4 matrix and
 * the inner 2×2 block of a 4×4 array to the next rank, which scatters the
 * column into a column of its own (the guards around it stay untouched) and
 * takes the block both as a plain array and into a block elsewhere.
 */
export const derivedDatatypes = Effect.gen(function*() {
  const w = yield* world
  const next = (w.rank + 1) % w.size
  const prev = (w.rank - 1 + w.size) % w.size
  const column = Datatype.vector(5, 1, 4, "float64")
  const mine = Float64Array.from({ length: 20 }, (_, i) => w.rank * 100 + i)
  const block = Datatype.subarray([4, 4], [2, 2], [1, 1], "int32")
  const grid = Int32Array.from({ length: 16 }, (_, i) => w.rank * 1000 + i)
  yield* w.send([mine.subarray(w.rank % 4), column, 1], { dest: next, tag: 40 })
  yield* w.send([grid, block, 1], { dest: next, tag: 41 })
  yield* w.send([grid, block, 1], { dest: next, tag: 42 })

  const theirs = new Float64Array(20).fill(-1)
  const status = yield* w.recvInto([theirs.subarray(3), column, 1], { source: prev, tag: 40 })
  yield* checkEqual(status.count, 5, "elements of the column received")
  const expected = new Float64Array(20).fill(-1)
  for (let r = 0; r < 5; r++) expected[r * 4 + 3] = prev * 100 + r * 4 + (prev % 4)
  yield* checkEqual(Array.from(theirs), Array.from(expected), "the column, scattered into column 3; the rest untouched")

  const plain = yield* w.recv<Int32Array>({ source: prev, tag: 41 })
  yield* checkEqual(Array.from(plain), [5, 6, 9, 10].map((i) => prev * 1000 + i), "the block as a plain Int32Array")
  const target = new Int32Array(16)
  yield* w.recvInto([target, Datatype.subarray([4, 4], [2, 2], [2, 0], "int32"), 1], { source: prev, tag: 42 })
  yield* checkEqual(Array.from(target), [0, 0, 0, 0, 0, 0, 0, 0, ...[5, 6].map((i) => prev * 1000 + i), 0, 0, ...[9, 10].map((i) => prev * 1000 + i), 0, 0],
    "the block, received into the bottom-left block")

  // An overrunning layout is refused, as a send and as a receive buffer, and nothing is lost.
  const tooSmall = new Float64Array(10)
  const sendError = yield* Effect.flip(w.send([tooSmall, column, 1], { dest: next, tag: 43 }))
  yield* check(/overruns the buffer/.test(sendError.message), `an overrunning send fails with a message: ${sendError.message}`)
  const recvError = yield* Effect.flip(w.recvInto([tooSmall, column, 1], { source: prev, tag: 43 }))
  yield* check(/overruns the buffer/.test(recvError.message), `an overrunning receive buffer fails with a message: ${recvError.message}`)

  // Collectives send derived layouts too: the root's column reaches every rank as its elements.
  const spec = [mine.subarray(1), column, 1] as const
  const fromRoot: unknown = yield* w.bcast<unknown>(w.rank === 0 ? spec : undefined, { root: 0 })
  if (w.rank === 0) yield* check(fromRoot === spec, "the root gets its own buffer spec back")
  else yield* checkEqual(Array.from(fromRoot as Float64Array), [1, 5, 9, 13, 17], "the root's column 1, broadcast")
})
