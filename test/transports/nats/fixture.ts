/**
 * Running the fixture runner (fixtures/runner.ts) as a NATS job from tests:
 * launches the ranks, collects each local rank's result, and lets a test act
 * on events as they come (kill a server at some progress, kill a rank).
 */
import { Duration, Effect, Queue } from "effect"
import type { JobEvent } from "../../../transports/Launcher.ts"
import { type NatsJob, NatsLauncher } from "../../../transports/nats/NatsLauncher.ts"
import type { NatsOptions } from "../../../transports/nats/Options.ts"
import type { Scenario } from "./fixtures/runner.ts"

const RUNNER = new URL("./fixtures/runner.ts", import.meta.url).href

export interface FixtureRun extends NatsOptions {
  readonly size: number
  readonly scenario: Scenario
  /** Called on every event (after it is recorded). */
  readonly onEvent?: (event: JobEvent, job: NatsJob) => void | Promise<void>
  /** Whether a rank's exit counts as its result instead of failing the run. */
  readonly allowExit?: boolean
  /**
   * With `allowExit`: the first rank that exits with an error ends the run, as
   * the CLI's launcher does (it then stops this host's other ranks).
   */
  readonly stopOnError?: boolean
  readonly timeoutMs?: number
  readonly prefixOutput?: boolean
}

export interface FixtureOutcome {
  readonly results: ReadonlyMap<number, any>
  readonly events: ReadonlyArray<JobEvent>
  readonly job: NatsJob
}

const tagOf = (event: JobEvent): string | undefined =>
  event._tag === "Message" ? (event.message as { _tag?: string })._tag : undefined

/** Runs the fixture's scenario on a job; fails when a rank reports a failure or exits unexpectedly. */
export const runFixture = (run: FixtureRun): Effect.Effect<FixtureOutcome, Error> =>
  Effect.scoped(
    Effect.gen(function*() {
      const { scenario, onEvent, allowExit, stopOnError, timeoutMs, prefixOutput, ...options } = run
      const job = (yield* NatsLauncher.launch({ ...options, runner: RUNNER, data: scenario, prefixOutput: prefixOutput ?? true })) as NatsJob
      const results = new Map<number, any>()
      const events: Array<JobEvent> = []
      while (results.size < job.localRanks.length) {
        const event = yield* Queue.take(job.events)
        events.push(event)
        if (onEvent !== undefined) yield* Effect.promise(async () => onEvent(event, job))
        if (event._tag === "Exited") {
          if (allowExit === true) {
            results.set(event.rank, { exited: event })
            if (stopOnError === true && event.error !== undefined) break
            continue
          }
          return yield* Effect.fail(new Error(`rank ${event.rank} exited (code ${event.code}): ${event.error ?? "no error"}`))
        }
        const tag = tagOf(event)
        const message = event.message as { result?: unknown; error?: string }
        if (tag === "Done") results.set(event.rank, message.result)
        if (tag === "Failed") return yield* Effect.fail(new Error(`rank ${event.rank}: ${message.error}`))
      }
      return { results, events, job }
    })
  ).pipe(
    Effect.mapError((e) => (e instanceof Error ? e : new Error(String((e as { message?: string }).message ?? e)))),
    Effect.timeoutOrElse({
      duration: Duration.millis(run.timeoutMs ?? 60_000),
      orElse: () => Effect.fail(new Error(`the job did not finish within ${run.timeoutMs ?? 60_000} ms`))
    })
  )
