import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// End-to-end tests: plain Node (not the workers pool) against one real `wrangler dev` started by
// global-setup.ts, driven by the official phoenix client and headless Chromium. Files are *.e2e.ts so
// the root (workers pool) config never picks them up.
export default defineConfig({
  test: {
    root: fileURLToPath(new URL("../..", import.meta.url)),
    include: ["test/e2e/**/*.e2e.ts"],
    globalSetup: ["test/e2e/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores and one wrangler dev for every file: run files one after another.
    fileParallelism: false,
  },
});
