/**
 * `rankflow/codecs`: the Codec interface, the codec registry, the built-in
 * codecs (pickle, marshal, cbor, msgpack) and the raw buffer path.
 */
export * as Codec from "./Codec.ts"
export type { Frames } from "./Codec.ts"
export * as CodecRegistry from "./registry.ts"
export * from "./errors.ts"
export * as Pickle from "./pickle/Pickle.ts"
export { pickle, registerClass } from "./pickle/Pickle.ts"
export { marshal } from "./marshal/Marshal.ts"
export { cbor, Tag as CborTag } from "./cbor.ts"
export { msgpack } from "./msgpack.ts"
export * as Datatype from "./Datatype.ts"
export type { DatatypeName, TypedArray } from "./Datatype.ts"
export * as RawBuffer from "./buffer.ts"
export { raw, isBufferSpec, type BufferSpec } from "./buffer.ts"
