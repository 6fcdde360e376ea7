/**
 * Requests of non-blocking operations (`isend`, `irecv`, non-blocking
 * collectives): they progress on their own; `wait` and `test` read their
 * outcome.
 *
 * As in MPI, a request whose outcome was returned by a wait or test becomes
 * inactive: `waitAny`, `waitSome`, `testAny` and `testSome` skip inactive
 * requests (and report index -1 / nothing when all are inactive), while
 * `wait` and `test` on it return the same outcome again.
 *
 * @example
 * ```ts
 * const reqs = [yield* world.isend(a, { dest: 1 }), yield* world.irecv({ source: 1 })]
 * const [, b] = yield* Request.waitAll(reqs)
 * ```
 */
import { Cause, Effect, Exit, Option } from "effect"
import { completion, spinWhile, waitsInPlace } from "./completion.ts"
import { InvalidArgument, RequestCancelled } from "../errors.ts"
import type { Settle, Spin } from "./completion.ts"
import type { Status } from "../comm/Status.ts"

const PENDING = 0
const SUCCEEDED = 1
const FAILED = 2
const CANCELLED = 3
const DIED = 4

/** Something that can make progress synchronously while a waiter spins (the transport). */
type Progress = Spin

const noProgress: Progress = { spinMicros: 0, poll: () => false }

/**
 * A pending or completed non-blocking operation yielding `A` or failing with `E`.
 *
 * @example
 * ```ts
 * const req = yield* world.irecv({ source: 0, tag: 7 })   // a Request<unknown, RecvFailure>
 * // … compute while the message travels …
 * const value = yield* Request.wait(req)
 * ```
 */
export class Request<out A = unknown, out E = never> {
  /** @internal */ state = PENDING
  /** @internal */ value: any = undefined
  /** @internal */ error: any = undefined
  /** @internal */ statusSource: { readonly status: Status } | undefined = undefined
  /** @internal */ inactive = false
  /** @internal */ listeners: Array<() => void> | undefined = undefined
  /** @internal */ readonly progress: Progress
  /** @internal */ canceller: (() => boolean) | undefined
  declare readonly _A: () => A
  declare readonly _E: () => E

  constructor(progress: Progress = noProgress, canceller?: () => boolean) {
    this.progress = progress
    this.canceller = canceller
  }

  /** @internal The status may be read lazily from `status` (an object with a `status` getter). */
  succeed(value: unknown, status?: { readonly status: Status }): void {
    if (this.state !== PENDING) return
    this.state = SUCCEEDED
    this.value = value
    this.statusSource = status
    this.notify()
  }

  /** @internal */ fail(error: unknown): void {
    if (this.state !== PENDING) return
    this.state = FAILED
    this.error = error
    this.notify()
  }

  /** @internal */ die(defect: unknown): void {
    if (this.state !== PENDING) return
    this.state = DIED
    this.error = defect
    this.notify()
  }

  /** @internal */ markCancelled(): void {
    if (this.state !== PENDING) return
    this.state = CANCELLED
    this.notify()
  }

  get done(): boolean {
    return this.state !== PENDING
  }

  private notify(): void {
    this.canceller = undefined
    const ls = this.listeners
    this.listeners = undefined
    if (ls !== undefined) for (const l of ls) l()
  }

  /** @internal Calls `l` once the request completes; returns what stops that (a bound method, no closure: see completion.ts). */
  listen(l: () => void): () => void {
    ;(this.listeners ??= []).push(l)
    return this.unlisten.bind(this, l)
  }

  /** @internal */ unlisten(l: () => void): void {
    const ls = this.listeners
    if (ls === undefined) return
    const i = ls.indexOf(l)
    if (i >= 0) ls.splice(i, 1)
  }

  /** @internal */ exit(): Exit.Exit<A, E | RequestCancelled> {
    this.inactive = true
    switch (this.state) {
      case SUCCEEDED:
        return Exit.succeed(this.value)
      case FAILED:
        return Exit.fail(this.error)
      case DIED:
        return Exit.die(this.error)
      default:
        return Exit.fail(new RequestCancelled({ message: "the request was cancelled before it completed" }))
    }
  }
}

/**
 * A request that is already complete with `value`.
 *
 * @example
 * ```ts
 * const ready = Request.succeeded(42)
 * yield* Request.wait(ready)   // 42, at once
 * ```
 */
export const succeeded = <A>(value: A, status?: Status): Request<A, never> => {
  const r = new Request<A, never>()
  r.succeed(value, status === undefined ? undefined : { status })
  return r
}

/**
 * A request that already failed with `error`.
 *
 * @example
 * ```ts
 * const refused = Request.failed(new InvalidArgument({ argument: "n", message: "n must be positive" }))
 * yield* Effect.flip(Request.wait(refused))   // the InvalidArgument
 * ```
 */
export const failed = <E>(error: E): Request<never, E> => {
  const r = new Request<never, E>()
  r.fail(error)
  return r
}

/**
 * Runs `effect` in the background as a request (how non-blocking collectives
 * are made from their blocking algorithms): it progresses on its own, and is
 * not cancellable. A defect in it is a defect of the waits.
 *
 * @example
 * ```ts
 * const req = yield* Request.fromEffect(Effect.sleep("10 millis").pipe(Effect.as("done")))
 * const [value] = yield* Request.waitAll([req])   // "done"
 * ```
 */
export const fromEffect = <A, E>(effect: Effect.Effect<A, E>, progress: Progress = noProgress): Effect.Effect<Request<A, E>> =>
  Effect.map(Effect.forkDetach(effect), (fiber) => {
    const request = new Request<A, E>(progress)
    fiber.addObserver((exit) => {
      if (Exit.isSuccess(exit)) return request.succeed(exit.value)
      const error = Cause.findErrorOption(exit.cause)
      if (Option.isSome(error)) request.fail(error.value)
      else request.die(Cause.squash(exit.cause))
    })
    return request
  })

const spinUntil = (reqs: ReadonlyArray<Request<any, any>>, done: () => boolean): void => {
  let progress: Progress | undefined
  for (const r of reqs) {
    if (waitsInPlace(r.progress) && (progress === undefined || r.progress.spinMicros > progress.spinMicros)) progress = r.progress
  }
  if (progress === undefined || done()) return
  spinWhile(progress, notDone, done)
}

const notDone = (done: () => boolean): boolean => !done()

/**
 * Waits for the request and returns its value (MPI_Wait).
 *
 * @example
 * ```ts
 * const req = yield* world.isend(data, { dest: 1 })
 * yield* Request.wait(req)   // data may be reused now
 * ```
 */
export const wait = <A, E>(request: Request<A, E>): Effect.Effect<A, E | RequestCancelled> =>
  completion((startWait<A, E>).bind(undefined, request))

// Bound per wait, not closures: a wait is as hot as the blocking calls (completion.ts says why).
function startWait<A, E>(request: Request<A, E>, settle: Settle<A, E | RequestCancelled>): (() => void) | void {
  if (!request.done && waitsInPlace(request.progress)) spinWhile(request.progress, isPending, request)
  if (request.done) return settle(request.exit())
  return request.listen((settleFrom<A, E>).bind(undefined, request, settle))
}

function settleFrom<A, E>(request: Request<A, E>, settle: Settle<A, E | RequestCancelled>): void {
  settle(request.exit())
}

const isPending = (request: Request<any, any>): boolean => !request.done

/**
 * The request's value if it completed (MPI_Test); fails if it failed.
 *
 * @example
 * ```ts
 * const req = yield* world.irecv({ source: 1 })
 * const maybe = yield* Request.test(req)   // Option.none() while the message is on its way
 * if (Option.isSome(maybe)) yield* Effect.log(`got ${maybe.value}`)
 * ```
 */
export const test = <A, E>(request: Request<A, E>): Effect.Effect<Option.Option<A>, E | RequestCancelled> =>
  Effect.suspend(() => {
    if (!request.done) request.progress.poll()
    return request.done ? Effect.map(request.exit(), Option.some) : Effect.succeed(Option.none())
  })

type Values<T extends ReadonlyArray<Request<any, any>>> = { -readonly [K in keyof T]: T[K] extends Request<infer A, any> ? A : never }
type Errors<T extends ReadonlyArray<Request<any, any>>> = T[number] extends Request<any, infer E> ? E : never

/**
 * Waits for every request; values in order (MPI_Waitall). Fails with the first failure in order.
 *
 * @example
 * ```ts
 * const sends = yield* Effect.forEach([1, 2, 3], (dest) => world.isend(`hi ${dest}`, { dest }))
 * const recv = yield* world.irecv<string>({ source: 0 })
 * const [, , , greeting] = yield* Request.waitAll([...sends, recv])
 * ```
 */
export const waitAll = <const T extends ReadonlyArray<Request<any, any>>>(
  requests: T
): Effect.Effect<Values<T>, Errors<T> | RequestCancelled> =>
  Effect.flatMap(
    completion<void, never>((settle) => {
      const allDone = () => requests.every((r) => r.done)
      spinUntil(requests, allDone)
      let left = 0
      const unlisten: Array<() => void> = []
      for (const r of requests) {
        if (r.done) continue
        left++
        unlisten.push(r.listen(() => {
          if (--left === 0) settle(Exit.void)
        }))
      }
      if (left === 0) return settle(Exit.void)
      return () => unlisten.forEach((u) => u())
    }),
    () => Effect.forEach(requests, (r) => r.exit()) as any
  )

/**
 * Every value if all requests completed, else none (MPI_Testall).
 *
 * @example
 * ```ts
 * const reqs = yield* Effect.forEach([1, 2], (source) => world.irecv<number>({ source }))
 * const all = yield* Request.testAll(reqs)   // Option.some([a, b]) once both arrived
 * ```
 */
export const testAll = <const T extends ReadonlyArray<Request<any, any>>>(
  requests: T
): Effect.Effect<Option.Option<Values<T>>, Errors<T> | RequestCancelled> =>
  Effect.suspend(() => {
    if (!requests.every((r) => r.done)) requests[0]?.progress.poll()
    if (!requests.every((r) => r.done)) return Effect.succeed(Option.none())
    return Effect.map(Effect.forEach(requests, (r) => r.exit()), (vs) => Option.some(vs as any))
  })

/**
 * The index and value of a completed request.
 *
 * @example
 * ```ts
 * const { index, value }: Request.Completed<number> = yield* Request.waitAny(reqs)
 * ```
 */
export interface Completed<A> {
  readonly index: number
  readonly value: A
}

const firstDone = (requests: ReadonlyArray<Request<any, any>>): number =>
  requests.findIndex((r) => r.done && !r.inactive)

const allInactive = (requests: ReadonlyArray<Request<any, any>>): boolean => requests.every((r) => r.inactive)

/**
 * Waits until one active request completes and returns it (MPI_Waitany);
 * `index` is -1 when every request is inactive.
 *
 * @example
 * ```ts
 * const reqs = yield* Effect.forEach([1, 2, 3], (source) => world.irecv<number>({ source, tag: 0 }))
 * const first = yield* Request.waitAny(reqs)   // { index, value } of whichever arrived first
 * ```
 */
export const waitAny = <A, E>(
  requests: ReadonlyArray<Request<A, E>>
): Effect.Effect<Completed<A | undefined>, E | RequestCancelled | InvalidArgument> =>
  Effect.suspend((): Effect.Effect<Completed<A | undefined>, E | RequestCancelled | InvalidArgument> => {
    if (requests.length === 0) return Effect.fail(new InvalidArgument({ argument: "requests", message: "waitAny needs at least one request" }))
    if (allInactive(requests)) return Effect.succeed({ index: -1, value: undefined })
    return Effect.flatMap(
      completion<number, never>((settle) => {
        spinUntil(requests, () => firstDone(requests) >= 0)
        const i = firstDone(requests)
        if (i >= 0) return settle(Exit.succeed(i))
        const unlisten = requests.map((r) => r.listen(() => {
          unlisten.forEach((u) => u())
          settle(Exit.succeed(firstDone(requests)))
        }))
        return () => unlisten.forEach((u) => u())
      }),
      (index) => Effect.map(requests[index]!.exit(), (value) => ({ index, value }))
    )
  })

/**
 * One completed active request if any (MPI_Testany).
 *
 * @example
 * ```ts
 * const one = yield* Request.testAny(reqs)   // Option.some({ index, value }) or Option.none()
 * ```
 */
export const testAny = <A, E>(
  requests: ReadonlyArray<Request<A, E>>
): Effect.Effect<Option.Option<Completed<A>>, E | RequestCancelled> =>
  Effect.suspend(() => {
    let i = firstDone(requests)
    if (i < 0 && requests.length > 0) {
      requests[0]!.progress.poll()
      i = firstDone(requests)
    }
    if (i < 0) return Effect.succeed(Option.none())
    return Effect.map(requests[i]!.exit(), (value) => Option.some({ index: i, value }))
  })

const collectDone = <A, E>(requests: ReadonlyArray<Request<A, E>>) =>
  Effect.forEach(
    requests.flatMap((r, index) => (r.done && !r.inactive ? [index] : [])),
    (index) => Effect.map(requests[index]!.exit(), (value): Completed<A> => ({ index, value }))
  )

/**
 * Waits until at least one active request completes and returns every one
 * that has (MPI_Waitsome); empty when every request is inactive.
 *
 * @example
 * ```ts
 * let pending = yield* Effect.forEach(workers, (source) => world.irecv<Result>({ source }))
 * const done = yield* Request.waitSome(pending)   // at least one { index, value }
 * ```
 */
export const waitSome = <A, E>(
  requests: ReadonlyArray<Request<A, E>>
): Effect.Effect<Array<Completed<A>>, E | RequestCancelled> =>
  Effect.suspend(() => {
    if (allInactive(requests)) return Effect.succeed([])
    return Effect.flatMap(
      completion<void, never>((settle) => {
        spinUntil(requests, () => firstDone(requests) >= 0)
        if (firstDone(requests) >= 0) return settle(Exit.void)
        const unlisten = requests.map((r) => r.listen(() => {
          unlisten.forEach((u) => u())
          settle(Exit.void)
        }))
        return () => unlisten.forEach((u) => u())
      }),
      () => collectDone(requests)
    )
  })

/**
 * Every active request that has completed, possibly none (MPI_Testsome).
 *
 * @example
 * ```ts
 * const ready = yield* Request.testSome(reqs)   // every completed one now, maybe none
 * for (const { index, value } of ready) yield* Effect.log(`request ${index}: ${value}`)
 * ```
 */
export const testSome = <A, E>(
  requests: ReadonlyArray<Request<A, E>>
): Effect.Effect<Array<Completed<A>>, E | RequestCancelled> =>
  Effect.suspend(() => {
    if (requests.length > 0 && firstDone(requests) < 0) requests[0]!.progress.poll()
    return collectDone(requests)
  })

/**
 * Cancels a pending request (MPI_Cancel): true when it was cancelled before
 * completing (a later wait fails with `RequestCancelled`), false when it had
 * already completed or cannot be cancelled (a send in flight).
 *
 * @example
 * ```ts
 * const req = yield* world.irecv({ source: 3, tag: 99 })
 * const cancelled = yield* Request.cancel(req)   // true: the receive was withdrawn unmatched
 * ```
 */
export const cancel = <A, E>(request: Request<A, E>): Effect.Effect<boolean> =>
  Effect.sync(() => {
    if (request.done || request.canceller === undefined) return false
    const cancelled = request.canceller()
    if (cancelled) request.markCancelled()
    return cancelled
  })

/**
 * The status of a completed receive request, if it has one.
 *
 * @example
 * ```ts
 * const req = yield* world.irecv({ source: Comm.ANY_SOURCE })
 * yield* Request.wait(req)
 * const from = Request.status(req).pipe(Option.map((s) => s.source))
 * ```
 */
export const status = <A, E>(request: Request<A, E>): Option.Option<Status> => Option.fromNullishOr(request.statusSource?.status)
