/**
 * The Python 3 that the interop tests run: Debian's (`/usr/bin/python3`, where
 * `python3-cbor2` and `python3-msgpack` install) when it has both modules,
 * else the first `python3` on PATH that has them. Throws the setup script's
 * advice when none has.
 */
import { execFileSync } from "node:child_process"

const ADVICE = `the interop tests need Python 3 with the cbor2 and msgpack modules.
  Debian/Ubuntu:  apt-get install python3 python3-cbor2 python3-msgpack   (or, as root: npm run setup:system)
  elsewhere:      pip install cbor2 msgpack`

let found: string | undefined

export const pythonWithCodecs = (): string => {
  if (found !== undefined) return found
  for (const candidate of ["/usr/bin/python3", "python3"]) {
    try {
      execFileSync(candidate, ["-c", "import cbor2, msgpack"], { stdio: "ignore" })
      return (found = candidate)
    } catch {
      // Try the next one.
    }
  }
  throw new Error(ADVICE)
}
