/**
 * Placing a graph on a communicator: the stages in an order where every
 * stage comes after its inputs, one actor per replica with its rank, the
 * edges between stages with how items are partitioned, and the checks that
 * make a graph that cannot run fail before anything starts (the same on
 * every rank, since every rank places the same graph).
 */
import { PipelineInvalid } from "../errors.ts"
import type { Stage } from "./Graph.ts"

/** Source positions are `origin * ORIGIN_SCALE + index`: up to 2^12 source replicas of 2^40 items each, exact in a double. */
export const ORIGIN_SCALE = 2 ** 40
const MAX_ORIGINS = 2 ** 12

export type Partition = "balance" | "broadcast" | "keyed"

export interface Actor {
  /** Index in `Placement.actors`, the same on every rank. */
  readonly id: number
  readonly stage: PlacedStage
  readonly replica: number
  readonly rank: number
  /** For source replicas: the origin number in their items' positions. */
  readonly origin: number
}

export interface Edge {
  readonly producer: PlacedStage
  readonly consumer: PlacedStage
  readonly partition: Partition
}

export interface PlacedStage {
  readonly index: number
  readonly stage: Stage
  readonly actors: Array<Actor>
  readonly inputs: Array<Edge>
  readonly outputs: Array<Edge>
}

export interface Placement {
  readonly size: number
  /** The ranks that take part (all of them, unless some failed before a re-run). */
  readonly ranks: ReadonlyArray<number>
  readonly stages: ReadonlyArray<PlacedStage>
  readonly actors: ReadonlyArray<Actor>
  /** Source actors by origin number (for naming an item's position). */
  readonly origins: ReadonlyArray<Actor>
}

/** The source an item's position points into. */
export const positionOf = (placement: Placement, position: number) => {
  const origin = Math.floor(position / ORIGIN_SCALE)
  const actor = placement.origins[origin]
  return actor === undefined ? undefined : { source: actor.stage.stage.name, replica: actor.replica, index: position - origin * ORIGIN_SCALE }
}

const invalid = (message: string, stage?: string) => new PipelineInvalid({ stage, message })

/** Every stage reachable from `sinks`, inputs first. */
const stagesOf = (sinks: ReadonlyArray<Stage>): Array<Stage> => {
  const seen = new Set<Stage>()
  const order: Array<Stage> = []
  const visit = (s: Stage) => {
    if (seen.has(s)) return
    seen.add(s)
    for (const input of s.inputs) visit(input.stage)
    order.push(s)
  }
  for (const s of sinks) visit(s)
  return order
}

const isOneRankSink = (s: Stage) => s.logic._tag === "Sink" && s.kind !== "forEach"

/** Whether each replica of `s` emits items in increasing position. */
const sortedOutput = (s: Stage, memo: Map<Stage, boolean>): boolean => {
  const known = memo.get(s)
  if (known !== undefined) return known
  const sorted = s.logic._tag === "Source" || (s.kind !== "keyBy" && sortedInput(s, memo))
  memo.set(s, sorted)
  return sorted
}

/** Whether each replica of `s` receives its items in increasing position. */
const sortedInput = (s: Stage, memo: Map<Stage, boolean>): boolean => {
  const producers = s.inputs.reduce((n, i) => n + i.stage.replicas, 0)
  if (producers === 1) return sortedOutput(s.inputs[0]!.stage, memo)
  return s.inputs.every((i) => i.stage.ordered && sortedOutput(i.stage, memo))
}

/**
 * Places `sinks` and everything they read from on `size` ranks; fails with
 * `PipelineInvalid` naming the stage when the graph cannot run.
 *
 * `alive` (for a re-run after ranks failed) lists the ranks that take part:
 * replicas go round-robin over them, and a replica placed on a rank that is
 * gone goes to the next living rank in turn.
 */
export const place = (sinks: ReadonlyArray<Stage>, size: number, alive?: ReadonlyArray<number>): PipelineInvalid | Placement => {
  if (!Number.isInteger(size) || size < 1) return invalid(`a pipeline runs on at least one rank; got ${size}`)
  if (sinks.length === 0) return invalid("a pipeline needs at least one sink (collect, fold, forEach or toStream)")
  const stages = stagesOf(sinks)
  const byName = new Map<string, Stage>()
  const memo = new Map<Stage, boolean>()
  for (const s of stages) {
    if (typeof s.name !== "string" || s.name.length === 0) return invalid(`every stage needs a name; a ${s.kind} stage has ${JSON.stringify(s.name)}`)
    const other = byName.get(s.name)
    if (other !== undefined) {
      return invalid(`two stages are named "${s.name}" (a ${other.kind} and a ${s.kind}); stage names name actors, metrics and errors, so give each stage its own`, s.name)
    }
    byName.set(s.name, s)
    if (!Number.isInteger(s.replicas) || s.replicas < 1 || s.replicas > 65536) {
      return invalid(`stage "${s.name}": replicas must be an integer from 1 to 65536; got ${s.replicas}`, s.name)
    }
    if (s.ranks !== undefined) {
      if (s.ranks.length === 0) return invalid(`stage "${s.name}": ranks is empty; name at least one rank, or leave it out for round-robin placement`, s.name)
      const bad = s.ranks.find((r) => !Number.isInteger(r) || r < 0 || r >= size)
      if (bad !== undefined) {
        return invalid(`stage "${s.name}" is placed on rank ${bad}, but the communicator has ${size} rank${size === 1 ? "" : "s"} (0..${size - 1})`, s.name)
      }
    }
    if (isOneRankSink(s) && s.replicas !== 1) return invalid(`stage "${s.name}": a ${s.kind} sink has one replica (its result is at one rank)`, s.name)
    if (s.logic._tag === "Sink" && sinks.indexOf(s) < 0) return invalid(`stage "${s.name}" is a sink, so nothing can read from it`, s.name)
    if (s.logic._tag !== "Source" && s.inputs.length === 0) return invalid(`stage "${s.name}" has no input`, s.name)
    if (s.ordered && !sortedInput(s, memo)) {
      const culprit = s.inputs.find((i) => !(i.stage.replicas === 1 || i.stage.ordered))?.stage ?? s.inputs[0]!.stage
      return invalid(
        `stage "${s.name}" is ordered, but its input is not in source order: "${culprit.name}" has ${culprit.replicas} replicas; give "${culprit.name}" ordered: true too, or one replica`,
        s.name
      )
    }
  }

  const placed: Array<PlacedStage> = []
  const index = new Map<Stage, PlacedStage>()
  const actors: Array<Actor> = []
  const origins: Array<Actor> = []
  const ranks = alive ?? Array.from({ length: size }, (_, r) => r)
  const living = new Set(ranks)
  let cursor = 1 % ranks.length
  let substitute = 0
  for (const s of stages) {
    const p: PlacedStage = { index: placed.length, stage: s, actors: [], inputs: [], outputs: [] }
    for (let replica = 0; replica < s.replicas; replica++) {
      let rank: number
      if (s.ranks !== undefined) rank = s.ranks[replica % s.ranks.length]!
      else if ((s.logic._tag === "Source" && s.replicas === 1) || isOneRankSink(s)) rank = ranks[0]!
      else {
        rank = ranks[cursor]!
        cursor = (cursor + 1) % ranks.length
      }
      if (!living.has(rank)) rank = ranks[substitute++ % ranks.length]!
      const actor: Actor = { id: actors.length, stage: p, replica, rank, origin: s.logic._tag === "Source" ? origins.length : -1 }
      actors.push(actor)
      p.actors.push(actor)
      if (s.logic._tag === "Source") origins.push(actor)
    }
    for (const input of s.inputs) {
      const producer = index.get(input.stage)!
      const partition: Partition = s.logic._tag === "Transform" && s.logic.keyOf !== undefined
        ? "keyed"
        : input.partition
      const edge: Edge = { producer, consumer: p, partition }
      producer.outputs.push(edge)
      p.inputs.push(edge)
    }
    index.set(s, p)
    placed.push(p)
  }
  if (origins.length > MAX_ORIGINS) return invalid(`the sources have ${origins.length} replicas in all; at most ${MAX_ORIGINS} are supported`)
  return { size, ranks, stages: placed, actors, origins }
}

/** The placed graph in words: one line per stage, its replicas' ranks and where its items go. */
export const describe = (placement: Placement): string => {
  const rows = placement.stages.map((p) => [
    p.stage.name,
    p.stage.kind + (p.stage.ordered ? " (ordered)" : ""),
    `×${p.actors.length}`,
    `rank${p.actors.length === 1 ? "" : "s"} ${p.actors.map((a) => a.rank).join(", ")}`,
    p.outputs.length === 0 ? "(sink)" : "→ " + p.outputs.map((e) => `${e.consumer.stage.name} (${e.partition})`).join(", ")
  ])
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)))
  const lines = rows.map((r) => "  " + r.map((cell, c) => c === r.length - 1 ? cell : cell.padEnd(widths[c]!)).join("  "))
  const on = placement.ranks.length === placement.size
    ? `${placement.size} rank${placement.size === 1 ? "" : "s"}`
    : `ranks ${placement.ranks.join(", ")} of ${placement.size}`
  const header = `pipeline on ${on}: ${placement.stages.length} stages, ${placement.actors.length} actors`
  return [header, ...lines].join("\n")
}
