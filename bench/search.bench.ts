/**
 * Search over 100,000 posts: `GET /search` as an app calls it (Bearer token, JSON), against a `wrangler dev`
 * of its own whose local D1 is seeded first with 100,000 posts in 50 public rooms and 10 private ones
 * (one SQL statement through `wrangler d1 execute`, then one indexing them all as rooms index their posts
 * after each copy: src/db/search-index.ts). Each query kind is timed by vitest's bench and, for the record,
 * its own p50 and p99 are printed.
 *
 * Words and how many posts hold them: `kraken` 100 (rare), `deploy` 10,000 (common), `deploy w5` the two
 * together (about 10), `update` every post (the worst a single word can be: every post ranked).
 */
import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, inject, test } from "vitest";
import { registerUser, uniqueName } from "../test/e2e/helpers";
import { run, startWranglerDev } from "../test/e2e/wrangler-dev";
import { Latencies } from "./latencies";

const POSTS = 100_000;
const PUBLIC_ROOMS = 50;
const PRIVATE_ROOMS = 10;
const AUTHORS = 20;
const OPTIONS = { time: 3_000, warmupTime: 300 };

/**
 * Authors, rooms (the private ones with two of the authors as members, so the searcher, not a member,
 * reads only the public ones) and the posts, numbered per room. Message i holds `status update`, a word
 * of 997 (`wN`), one of 5,003 (`xN`), `deploy` in every tenth, `kraken` in every thousandth.
 */
const SEED = `
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${AUTHORS})
INSERT INTO users (username, email, password_hash) SELECT 'author' || i, 'author' || i || '@example.com', 'x' FROM n;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${PRIVATE_ROOMS - 1})
INSERT INTO rooms (name, kind, title, owner_id, created_by, created_at, post_count, last_post_at)
SELECT '~private_room_for_the_search_bench' || i, 'private', 'Private ' || i, 1, 1, 0, 0, 0 FROM n;
INSERT INTO room_members (room, user_id, role, added_at)
SELECT name, 1, 'owner', 0 FROM rooms WHERE kind = 'private'
UNION ALL SELECT name, 2, 'member', 0 FROM rooms WHERE kind = 'private';
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${POSTS})
INSERT INTO posts (room, seq, user_id, message, inserted_at)
SELECT
  CASE WHEN i % ${PUBLIC_ROOMS + PRIVATE_ROOMS} < ${PUBLIC_ROOMS}
    THEN 'search_' || (i % ${PUBLIC_ROOMS + PRIVATE_ROOMS})
    ELSE '~private_room_for_the_search_bench' || (i % ${PUBLIC_ROOMS + PRIVATE_ROOMS} - ${PUBLIC_ROOMS}) END,
  i / ${PUBLIC_ROOMS + PRIVATE_ROOMS} + 1,
  1 + i % ${AUTHORS},
  'status update w' || (i * 7 % 997) || ' and x' || (i * 13 % 5003)
    || CASE WHEN i % 10 = 0 THEN ' deploy' ELSE '' END
    || CASE WHEN i % 1000 = 7 THEN ' kraken' ELSE '' END
    || ' about topic ' || (i % 101),
  1767225600000 + i * 1000
FROM n;
INSERT INTO posts_fts (rowid, message)
SELECT id, message FROM posts WHERE id > (SELECT through FROM posts_fts_indexed) ORDER BY id;
UPDATE posts_fts_indexed SET through = (SELECT max(id) FROM posts);
`;

const stateDir = mkdtempSync(join(tmpdir(), "pyre-search-bench-"));
const persistTo = join(stateDir, "state");
const envFile = join(stateDir, "secrets.env");
writeFileSync(envFile, `TOKEN_SECRET=${randomBytes(36).toString("base64url")}\n`, { mode: 0o600 });
cpSync(inject("migratedState"), persistTo, { recursive: true });
const seedFile = join(stateDir, "seed.sql");
writeFileSync(seedFile, SEED);
const seedStart = performance.now();
await run("npx", [
  "wrangler",
  "d1",
  "execute",
  "DB",
  "--local",
  "--persist-to",
  persistTo,
  "--file",
  seedFile,
  "--yes",
]);
console.log(
  `search bench: ${POSTS} posts seeded and indexed in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`,
);

const dev = await startWranglerDev({ persistTo, envFile, echo: Boolean(process.env.E2E_SHOW_WRANGLER) });
const searcher = await registerUser(dev.baseUrl, uniqueName("searcher"));

/** Milliseconds of every search timed, per query, for the p50 and p99 printed at the end. */
const samples = new Latencies();

async function search(query: string, expectAtLeast: number): Promise<void> {
  const started = performance.now();
  const response = await fetch(`${dev.baseUrl}/search?${query}`, {
    headers: { Accept: "application/json", Authorization: `Bearer ${searcher.token}` },
  });
  const body = (await response.json()) as { results?: unknown[]; error?: string };
  const elapsed = performance.now() - started;
  if (response.status !== 200 || (body.results?.length ?? 0) < expectAtLeast) {
    throw new Error(`GET /search?${query}: ${response.status} ${JSON.stringify(body).slice(0, 300)}`);
  }
  samples.add(query, elapsed);
}

afterAll(async () => {
  for (const line of samples.lines("search bench", "searches")) console.log(line);
  await dev.stop();
  rmSync(stateDir, { recursive: true, force: true });
}, 60_000);

describe(`search over ${POSTS.toLocaleString("en")} posts`, () => {
  test("a rare word (100 posts): q=kraken", async ({ bench }) => {
    await bench("a rare word (100 posts): q=kraken", () => search("q=kraken", 20)).run(OPTIONS);
  });
  test("a common word (10,000 posts): q=deploy", async ({ bench }) => {
    await bench("a common word (10,000 posts): q=deploy", () => search("q=deploy", 20)).run(OPTIONS);
  });
  test("two words (about 10 posts): q=deploy w5", async ({ bench }) => {
    await bench("two words (about 10 posts): q=deploy w5", () => search("q=deploy%20w5", 1)).run(OPTIONS);
  });
  test("a common word in one room: q=deploy&room=search_10", async ({ bench }) => {
    await bench("a common word in one room: q=deploy&room=search_10", () => search("q=deploy&room=search_10", 20)).run(
      OPTIONS,
    );
  });
  test("a word in every post: q=update", async ({ bench }) => {
    await bench("a word in every post: q=update", () => search("q=update", 20)).run(OPTIONS);
  });
});
