#!/usr/bin/env node
// The rankflow CLI. The sources are TypeScript run by Node's type stripping
// (Node >= 22.18), so check the version before loading them.
const [major, minor] = process.versions.node.split(".").map(Number)
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(
    `rankflow needs Node.js 22.19 or newer (this is ${process.version}).\n` +
      "In a checkout of rankflow, `npm ci` installs Node 24 for npm scripts and npx.\n"
  )
  process.exit(1)
}
// Reuse compiled code across runs (Node's on-disk compile cache), in the rank threads and
// processes too: they inherit the cache's directory through the environment.
const { enableCompileCache } = await import("node:module")
const cache = enableCompileCache?.()
if (cache?.directory !== undefined) process.env.NODE_COMPILE_CACHE ??= cache.directory
// The CLI's ~400 modules load from one cached bundle (transports/Bundle.ts) in a quarter of
// the time they take one by one; from their files where no bundle can be made.
const main = new URL("../core/cli/main.ts", import.meta.url).href
const { bundle } = await import("../transports/Bundle.ts")
const { pathToFileURL } = await import("node:url")
const outcome = await bundle({ entry: main, modules: [] })
await import(outcome._tag === "Bundled" ? pathToFileURL(outcome.path).href : main)
