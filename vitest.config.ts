import { defineConfig } from "vitest/config";

// Tests start real sshd and PostgreSQL processes: long timeouts, and few files at once on 2 cores.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: "forks",
    maxWorkers: 3,
    reporters: ["default"],
  },
});
