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
await import("../core/cli/main.ts")
