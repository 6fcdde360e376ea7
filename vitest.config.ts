import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Generous: a test only ever meets it when it hangs, and files run two at a time on two cores.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two test files at a time even on two cores: most of a file's time is ranks starting and
    // waiting, not computing (vitest's default is one fewer worker than cores).
    maxWorkers: 2,
    reporters: process.env.CI ? ["default"] : ["default"]
  }
})
