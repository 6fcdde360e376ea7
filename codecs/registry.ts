/**
 * Codecs registered by name and by one-byte id. A message header carries the
 * id; the receiver looks the codec up here.
 */
import type { Codec } from "./Codec.ts"

/**
 * The error of registering a codec whose name or id another codec already has.
 *
 * @example
 * ```ts
 * try { CodecRegistry.register(Codec.make({ name: "pickle", id: 17, encodeSync, decodeSync })) }
 * catch (e) { console.error((e as Error).message) }   // a codec named "pickle" is already registered
 * ```
 */
export class UnknownCodec extends Error {
  override readonly name = "UnknownCodec"
}

const byName = new Map<string, Codec>()
const byId: Array<Codec | undefined> = new Array(256).fill(undefined)

/**
 * Registers a codec; its name and id must not be taken by another codec.
 *
 * @example
 * ```ts
 * CodecRegistry.register(myCodec)   // then: world.send(x, { dest: 1, codec: myCodec.name })
 * ```
 */
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

/**
 * The codec registered under `name`, if any.
 *
 * @example
 * ```ts
 * CodecRegistry.getByName("marshal")?.id   // 2
 * ```
 */
export const getByName = (name: string): Codec | undefined => byName.get(name)
/**
 * The codec registered under the one-byte `id`, if any.
 *
 * @example
 * ```ts
 * CodecRegistry.getById(1)?.name   // "pickle"
 * ```
 */
export const getById = (id: number): Codec | undefined => byId[id]
/**
 * The names of every registered codec.
 *
 * @example
 * ```ts
 * CodecRegistry.names()   // ["raw", "pickle", "marshal", "cbor", "msgpack", …]
 * ```
 */
export const names = (): ReadonlyArray<string> => [...byName.keys()]
