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
    // Two files at a time against the one wrangler dev: much of an e2e test is waiting (on the browser, on
    // reconnects, on a typing interval), which the other file fills. Every name a test makes is unique, so
    // files never meet. Each file still has its own module state, in a worker reused file after file.
    fileParallelism: true,
    maxWorkers: 2,
    isolate: false,
  },
});
