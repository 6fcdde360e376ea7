/**
 * What a communicator is underneath its methods: the rank's engine, its
 * context ids, and its group (the world ranks of its members, in rank order).
 */
import type { Codec, DecodeOptions } from "../../codecs/Codec.ts"
import type { Board } from "../collectives/shared/Board.ts"
import type { Engine } from "../messaging/Engine.ts"

export interface CommState {
  readonly engine: Engine
  /** Point-to-point context; collectives use `context + 1`, so the two never match. */
  readonly context: number
  readonly rank: number
  readonly size: number
  /** World rank of each member, by communicator rank. */
  readonly group: ReadonlyArray<number>
  /** Communicator rank of each world rank, or -1 for non-members. */
  readonly worldToComm: Int32Array
  /** The codec values go through unless a call names another. */
  readonly codec: Codec
  /** What received values may decode to (`maxDecodedBytes`; the codecs' default when absent). */
  readonly decodeOptions: DecodeOptions | undefined
  freed: boolean
  /** Sequence number of the next collective call: its tag on the collective context. */
  collectiveSeq: number
  /** Where the collectives meet in shared memory, when the transport offers it (see collectives/shared). */
  shared: Board | undefined
}

export const make = (
  engine: Engine,
  context: number,
  group: ReadonlyArray<number>,
  codec: Codec,
  decodeOptions?: DecodeOptions,
  name?: string
): CommState => {
  const worldToComm = new Int32Array(engine.extent).fill(-1)
  group.forEach((w, r) => (worldToComm[w] = r))
  engine.comms.set(context, { name: name ?? `the communicator of world ranks ${ranges(group)}`, group })
  return { engine, context, rank: worldToComm[engine.rank]!, size: group.length, group, worldToComm, codec, decodeOptions, freed: false, collectiveSeq: 0, shared: undefined }
}

/** World ranks as short ranges: `0-3,6`. */
const ranges = (ranks: ReadonlyArray<number>): string => {
  const parts: Array<string> = []
  for (let i = 0; i < ranks.length; i++) {
    let j = i
    while (j + 1 < ranks.length && ranks[j + 1] === ranks[j]! + 1) j++
    parts.push(j === i ? `${ranks[i]}` : `${ranks[i]}-${ranks[j]}`)
    i = j
  }
  return parts.join(",")
}
