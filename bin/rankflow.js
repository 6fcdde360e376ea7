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
// Reuse compiled code across runs (Node's on-disk compile cache).
const { enableCompileCache } = await import("node:module")
enableCompileCache?.()
await import("../core/cli/main.ts")
