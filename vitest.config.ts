import { readdirSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import type { VitestPluginContext } from "vitest/node";

/**
 * Packages made of many small modules. Unbundled, every test file's workerd fetches them one module at a
 * time from Vite (about 200 sequential round trips for these three); pre-bundled, a handful.
 */
const PREBUNDLED = ["hono", "drizzle-orm", "jose"];

/**
 * Every entry of those packages that src/ or test/ imports (e.g. "hono/csrf", "drizzle-orm/d1"), found
 * by reading the imports, so a newly used entry is bundled too. All of them are bundled together, sharing
 * one copy of each package's internals: an entry left out would load the package's files a second time,
 * and an error class thrown by one copy would fail `instanceof` against the other.
 */
function prebundledEntries(): string[] {
  const entries = new Set<string>();
  const specifier = new RegExp(`\\bfrom\\s+"((?:${PREBUNDLED.join("|")})(?:/[^"]*)?)"`, "g");
  for (const dir of ["src", "test"]) {
    for (const file of readdirSync(dir, { recursive: true, encoding: "utf8" })) {
      if (!/\.tsx?$/.test(file) || file.startsWith("client/") || file.startsWith("e2e/")) continue;
      for (const [line] of readFileSync(join(dir, file), "utf8").matchAll(/^\s*import\s[^;]*;/gm)) {
        if (/^\s*import\s+type\s/.test(line)) continue; // erased: loads nothing
        for (const [, entry] of line.matchAll(specifier)) if (entry) entries.add(entry);
      }
    }
  }
  return [...entries].sort();
}

/**
 * Files that need `SOCKET_IDLE_MS` short enough to watch a silent socket close within a test (1 s instead of
 * 60 s). They run as a project of their own: in the main one, any socket a test leaves quiet for a second
 * (waiting on D1, hashing a password on a loaded machine) would be closed under it.
 */
const SHORT_IDLE_FILES = ["test/realtime/shell/idle.test.ts"];

/**
 * Files that make no Durable Object: units, and HTTP routes that reach only D1. Starting a workerd for a
 * file (a Miniflare, the runner, the setup files' imports) costs about 2 s, most of a small file's time, so
 * these share one per pool worker, file after file (`isolate: false`); test/setup/shared-workerd.ts empties
 * D1 before each and fails a file that leaves a Durable Object behind. Files that make objects stay in
 * `pool`, each in a workerd of its own: the pool's reset() cannot empty an object that has been evicted (its
 * storage outlives it), so objects could not be made fresh for the next file. A new file goes to `pool`
 * unless it is listed here.
 */
const NO_OBJECT_FILES = [
  "test/auth/password.test.ts",
  "test/auth/token.test.ts",
  "test/db/mentions.test.ts",
  "test/db/read-states.test.ts",
  "test/db/search-index.test.ts",
  "test/db/search.test.ts",
  "test/fuzz/decoder.test.ts",
  "test/http/client-address.test.ts",
  "test/http/ip-limits.test.ts",
  "test/http/key-rotation.test.ts",
  "test/http/lockout.test.ts",
  "test/http/redirect.test.ts",
  "test/http/ways-in/credentials.test.ts",
  "test/http/ways-in/longpoll-body.test.ts",
  "test/log.test.ts",
  "test/realtime/phoenix/serializer.test.ts",
  "test/realtime/phoenix/socket-replies.test.ts",
  "test/realtime/phoenix/transport.test.ts",
  "test/realtime/phoenix/v1.test.ts",
  "test/realtime/phoenix/v2.test.ts",
  "test/realtime/phoenix/vsn.test.ts",
  "test/realtime/room/allowance-slices.test.ts",
  "test/realtime/room/fanout.test.ts",
  "test/realtime/room/join-replies.test.ts",
  "test/realtime/room/read-state-notices.test.ts",
  "test/realtime/room/recent-posts.test.ts",
  "test/realtime/room/write-turns.test.ts",
  "test/realtime/session/join-tracker.test.ts",
  "test/realtime/session/poll-buffer.test.ts",
  "test/realtime/shell/guarded-alarm.test.ts",
  "test/realtime/shell/socket-object.test.ts",
  "test/shared/mentions.test.ts",
  "test/shared/post.test.ts",
];

/**
 * Vitest 5 keeps transformed modules on disk between runs (`fsModuleCache`, on by default), and a module's
 * `import.meta.env` is written into its transform: without the `VITE_` variables in the cache key, a run
 * with `VITE_FUZZ_SEED` set would reuse test/fuzz/settings.ts as transformed by a run without it.
 */
const viteVariablesInCacheKey = {
  name: "pyre:vite-variables-in-cache-key",
  configureVitest({ defineCacheKeyGenerator }: VitestPluginContext) {
    const variables = JSON.stringify(
      Object.entries(process.env)
        .filter(([name]) => name.startsWith("VITE_"))
        .sort(([a], [b]) => a.localeCompare(b)),
    );
    defineCacheKeyGenerator(({ sourceCode }) => (sourceCode.includes("import.meta") ? variables : undefined));
  },
};

// Tests run inside workerd with the real bindings from wrangler.toml: a local D1 with our migrations
// applied (test/setup/) and the real Durable Objects.
export default defineConfig(async () => {
  const migrations = await readD1Migrations("./migrations");
  const pool = (
    name: string,
    files: { include: string[]; exclude: string[] },
    { vars = {}, shared = false }: { vars?: Record<string, string>; shared?: boolean } = {},
  ) => ({
    plugins: [
      viteVariablesInCacheKey,
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
            // LongPoll's 10 s window and 20 s idle time, shortened so test/http/ways-in/longpoll.test.ts waits briefly.
            LONGPOLL_WINDOW_MS: "500",
            LONGPOLL_IDLE_MS: "3000",
            // One post token every 2 s, not 5 a second: a test that empties a bucket finds it still empty
            // however slowly a loaded machine runs its next few steps (burst stays at wrangler.toml's 10).
            POSTS_PER_SECOND: "0.5",
            // A user's allowance across rooms refills one post per 20 s instead of 10 a second, far longer
            // than the tests that spend it post for (test/realtime/user-sockets/allowance.test.ts,
            // session/post-gate.test.ts), so they count exactly the burst of 30 on a slow machine too. No
            // other test posts 30 times as one user.
            USER_POSTS_PER_SECOND: "0.05",
            // The channel fuzzer (test/fuzz/channel.test.ts) joins one user up to ~60 times in a run's room;
            // test/realtime/room/rate-limit.test.ts floods past whatever JOINS_BURST is here.
            JOINS_BURST: "100",
            ...vars,
          },
        },
      }),
    ],
    test: {
      name,
      ...files,
      setupFiles: shared
        ? ["./test/setup/shared-workerd.ts"]
        : ["./test/setup/apply-migrations.ts", "./test/setup/reuse-main-module.ts"],
      isolate: !shared,
      deps: { optimizer: { ssr: { enabled: true, include: prebundledEntries() } } },
    },
  });
  return {
    test: {
      projects: [
        pool("pool", {
          include: ["test/**/*.test.ts", "test/**/*.test.tsx"],
          exclude: ["test/e2e/**", ...SHORT_IDLE_FILES, ...NO_OBJECT_FILES],
        }),
        pool("short-idle", { include: SHORT_IDLE_FILES, exclude: [] }, { vars: { SOCKET_IDLE_MS: "1000" } }),
        pool("no-objects", { include: NO_OBJECT_FILES, exclude: [] }, { shared: true }),
      ],
      // In `pool` each file runs in a workerd of its own (its own storage), started afresh: about 2 s per
      // file that is mostly waiting, not computing, as is much of a test (D1, alarms, sockets). Vitest's
      // default for `run` is one file at a time on a 2-core machine (cores - 1); on 2 shared cores three
      // at a time ran the suite faster than two or four (measured side by side).
      maxWorkers: Math.max(3, availableParallelism() - 1),
    },
  };
});
