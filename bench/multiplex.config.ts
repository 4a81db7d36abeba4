import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// `npm run bench:multiplex`: what the two other ways in cost next to a room-bound socket, measured on the
// same real `wrangler dev` the e2e tests use. Not part of `npm test`: it measures, it does not judge.
export default defineConfig({
  test: {
    root: fileURLToPath(new URL("..", import.meta.url)),
    include: ["bench/multiplex-overhead.ts"],
    globalSetup: ["test/e2e/global-setup.ts"],
    testTimeout: 600_000,
    hookTimeout: 60_000,
  },
});
