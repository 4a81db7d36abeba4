import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// `npm run bench`: the same real `wrangler dev` the e2e tests use (test/e2e/global-setup.ts), measured
// with vitest's bench mode (tinybench). Numbers are for local workerd and its in-process D1: compare
// runs with each other, not with production.
export default defineConfig({
  test: {
    root: fileURLToPath(new URL("..", import.meta.url)),
    globalSetup: ["test/e2e/global-setup.ts"],
    hookTimeout: 60_000,
    fileParallelism: false,
    benchmark: { include: ["bench/**/*.bench.ts"] },
  },
});
