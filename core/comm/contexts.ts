/**
 * Agreeing on a new communicator: its context ids and, for `split`, its
 * group, with one collective on the parent communicator.
 *
 * Each rank hands out context ids in increasing order (`Engine.contextCounter`,
 * its next free id). A new communicator takes the largest next-free id among
 * the parent's ranks (an allreduce of MAX), and every rank then reserves past
 * it. So the id is free on every member, and no rank ever has two
 * communicators with the same context: messages of different communicators
 * never match. Ranks that do not join the new communicator reserve the ids
 * too, which costs nothing (ids are plentiful).
 *
 * A rank's creation calls run one at a time: two creation calls in flight
 * at once on one rank (from concurrent fibers) could each agree on an id
 * that the other then takes. That breaks MPI's ordering rule for
 * collectives, and is reported as a defect naming the cause rather than
 * left to mismatch messages.
 */
import { Effect, Option } from "effect"
import type { Codec, DecodeOptions } from "../../codecs/Codec.ts"
import * as CollectiveCalls from "../collectives/Collectives.ts"
import type { CollectiveError, Collectives } from "../collectives/Collectives.ts"
import * as CommState from "./CommState.ts"
import type { CommState as State } from "./CommState.ts"
import { InvalidArgument } from "../errors.ts"
import { UNDEFINED } from "./Group.ts"
import * as Op from "../op/Op.ts"
import { enable } from "../collectives/shared/setup.ts"

/** Ids a communicator uses: point-to-point at `context`, collectives at `context + 1`. */
export const CONTEXTS_PER_COMM = 2

const derived = new WeakSet<State>()

/** Whether a communicator was made from another (and so may be freed). */
export const isDerived = (c: State): boolean => derived.has(c)

const collectivesOf = (c: State): Collectives => CollectiveCalls.make(c)

/** Reserves the agreed ids on this rank. */
const reserve = (c: State, agreed: number): Effect.Effect<number> =>
  Effect.suspend(() => {
    const first = c.engine.reserveContexts(agreed, CONTEXTS_PER_COMM)
    if (first === agreed) return Effect.succeed(first)
    return Effect.die(
      new Error(
        `rankflow: communicator creation calls overlapped on rank ${c.engine.rank} (context ${agreed} was taken meanwhile); ` +
          "make dup/split/createFromGroup/createCart calls one at a time on each rank, in the same order on every member"
      )
    )
  })

/** What a new communicator takes from its parent unless the creation call says otherwise (`dup(options)`). */
export interface Settings {
  readonly codec?: Codec | undefined
  readonly decodeOptions?: DecodeOptions | undefined
}

const child = (parent: State, context: number, members: ReadonlyArray<number>, settings?: Settings): Option.Option<State> => {
  if (!members.includes(parent.engine.rank)) return Option.none()
  const state = CommState.make(parent.engine, context, members, settings?.codec ?? parent.codec, settings?.decodeOptions ?? parent.decodeOptions)
  derived.add(state)
  return Option.some(state)
}

/**
 * Agrees with the parent's ranks on a new context and returns the state of
 * the communicator of `members` (world ranks, in rank order) on the ranks
 * among them; none on the others. Collective over the parent; every rank
 * passes the same members.
 */
export const derive = (parent: State, members: ReadonlyArray<number>, settings?: Settings): Effect.Effect<Option.Option<State>, CollectiveError> =>
  Effect.suspend(() =>
    collectivesOf(parent).allreduce(parent.engine.contextCounter, Op.MAX).pipe(
      Effect.flatMap((agreed: number) => reserve(parent, agreed)),
      Effect.map((context) => child(parent, context, members, settings)),
      Effect.tap(withBoard)
    )
  )

/** The new communicator's board (see collectives/shared/setup.ts), on its members. */
const withBoard = (state: Option.Option<State>): Effect.Effect<void, CollectiveError> =>
  Option.isSome(state) ? enable(state.value) : Effect.void

type Choice = readonly [color: number, key: number, nextContext: number]

const invalidChoice = (choices: ReadonlyArray<Choice>): InvalidArgument | undefined => {
  for (let r = 0; r < choices.length; r++) {
    const [color, key] = choices[r]!
    if (!(color === UNDEFINED || (Number.isInteger(color) && color >= 0))) {
      return new InvalidArgument({ argument: "color", message: `split: rank ${r} passed color ${String(color)}; a color is a non-negative integer, or UNDEFINED for no communicator` })
    }
    if (!Number.isInteger(key)) {
      return new InvalidArgument({ argument: "key", message: `split: rank ${r} passed key ${String(key)}; a key is an integer` })
    }
  }
  return undefined
}

/**
 * `split(color, key)`: every rank's (color, key, next free context) gathered
 * in one allgather; the ranks of each color ordered by key, then by their
 * rank in the parent. A bad color or key on any rank fails the call on
 * every rank, naming that rank.
 */
export const split = (parent: State, color: number, key: number): Effect.Effect<Option.Option<State>, CollectiveError> =>
  Effect.suspend(() => {
    const mine: Choice = [color, key, parent.engine.contextCounter]
    return Effect.flatMap(collectivesOf(parent).allgather(mine) as Effect.Effect<Array<Choice>, CollectiveError>, (choices) => {
      const invalid = invalidChoice(choices)
      if (invalid !== undefined) return Effect.fail(invalid)
      const agreed = choices.reduce((max, choice) => Math.max(max, choice[2]), 0)
      return Effect.map(reserve(parent, agreed), (context) => {
        if (color === UNDEFINED) return Option.none()
        const ranks = choices.flatMap(([c], r) => (c === color ? [r] : []))
        ranks.sort((a, b) => choices[a]![1] - choices[b]![1] || a - b)
        return child(parent, context, ranks.map((r) => parent.group[r]!))
      }).pipe(Effect.tap(withBoard))
    })
  })
