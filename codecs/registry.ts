/**
 * Codecs registered by name and by one-byte id. A message header carries the
 * id; the receiver looks the codec up here.
 */
import type { Codec } from "./Codec.ts"

export class UnknownCodec extends Error {
  override readonly name = "UnknownCodec"
}

const byName = new Map<string, Codec>()
const byId: Array<Codec | undefined> = new Array(256).fill(undefined)

/** Registers a codec; its name and id must not be taken by another codec. */
export const register = (codec: Codec): Codec => {
  const sameName = byName.get(codec.name)
  const sameId = byId[codec.id]
  if (sameName === codec && sameId === codec) return codec
  if (sameName !== undefined) throw new UnknownCodec(`a codec named "${codec.name}" is already registered`)
  if (sameId !== undefined) throw new UnknownCodec(`codec id ${codec.id} is already taken by "${sameId.name}"`)
  byName.set(codec.name, codec)
  byId[codec.id] = codec
  return codec
}

export const getByName = (name: string): Codec | undefined => byName.get(name)
export const getById = (id: number): Codec | undefined => byId[id]
export const names = (): ReadonlyArray<string> => [...byName.keys()]
