import { tmpdir } from "node:os"
import { join } from "node:path"
import { defineConfig } from "vitest/config"

// Rank threads and processes started by the tests reuse compiled code across starts (Node's
// on-disk compile cache, as bin/rankflow.js enables it): a quarter less CPU per job start.
process.env.NODE_COMPILE_CACHE ??= join(tmpdir(), "node-compile-cache")

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Generous: a test only ever meets it when it hangs. Files run one at a time on two cores
    // (vitest's default, cores − 1): two at a time saved 1.5 of 13 minutes but starved a rank
    // process of a GPU test for 4 s, which its peers then took for dead.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: process.env.CI ? ["default"] : ["default"]
  }
})
