import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

// Tests run inside workerd with the real bindings from wrangler.toml: a local D1 with our migrations
// applied (test/setup/apply-migrations.ts) and the real Room Durable Object.
export default defineConfig(async () => {
  const migrations = await readD1Migrations("./migrations");
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            TEST_MIGRATIONS: migrations,
            // A test-only key; real ones come from `wrangler secret put` or .dev.vars.
            TOKEN_SECRET: "test-secret-that-is-long-enough-for-hs256-0123456789",
            // The fault tests make D1 slower than this on purpose; 5 s (the default) would only slow them.
            POST_STORE_TIMEOUT_MS: "1000",
            // An app scheme (Capacitor's), whose URL origin is the opaque "null": test/http/origins.test.ts
            // proves it admits the app and not every page that sends `Origin: null`.
            ALLOWED_ORIGINS: "capacitor://localhost",
            // LongPoll's 10 s window and 30 s idle time, shortened so test/http/longpoll.test.ts waits briefly.
            LONGPOLL_WINDOW_MS: "500",
            LONGPOLL_IDLE_MS: "3000",
          },
        },
      }),
    ],
    test: {
      include: ["test/**/*.test.ts", "test/**/*.test.tsx"],
      exclude: ["test/e2e/**"],
      setupFiles: ["./test/setup/apply-migrations.ts"],
    },
  };
});
