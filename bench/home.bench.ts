/**
 * The pages and endpoint that count what is new in every room (issue 17): the home page and `GET /api/rooms`
 * for a person in 200 rooms (150 public, 50 private) holding 50,000 posts, with read positions that leave
 * anything from nothing to well past "99+" unread in each room, and a mention in every twentieth post. The
 * counts come from one D1 query for all the rooms (src/db/read-states.ts), not one per room: this shows what
 * that query costs a page view. Against a `wrangler dev` of its own whose local D1 is seeded first (one SQL
 * file through `wrangler d1 execute`); the reader is a real account (its password hashed here as the worker
 * does) that logs in through the form.
 */
import { pbkdf2Sync, randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, inject, test } from "vitest";

// src/auth/password.ts's PBKDF2_ITERATIONS (that module needs the Workers types, not Node's).
const PBKDF2_ITERATIONS = 100_000;

import { PASSWORD } from "../test/e2e/helpers";
import { run, startWranglerDev } from "../test/e2e/wrangler-dev";
import { Latencies } from "./latencies";

const ROOMS = 200;
const PRIVATE_ROOMS = 50;
const POSTS_PER_ROOM = 250;
const AUTHORS = 20;
const READER_ID = AUTHORS + 1;
const OPTIONS = { time: 3_000, warmupTime: 300 };

/** Room i is `home_i` (public) or a private room's identifier; its posts are numbered 1..250. */
const seed = (readerHash: string) => `
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${AUTHORS})
INSERT INTO users (username, email, password_hash) SELECT 'author' || i, 'author' || i || '@example.com', 'x' FROM n;
INSERT INTO users (id, username, email, password_hash) VALUES (${READER_ID}, 'reader', 'reader@example.com', '${readerHash}');
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${ROOMS - 1})
INSERT INTO rooms (name, kind, title, owner_id, created_by, created_at, post_count, last_post_at)
SELECT CASE WHEN i < ${ROOMS - PRIVATE_ROOMS} THEN 'home_' || i ELSE '~home_bench_private_room_' || i END,
  CASE WHEN i < ${ROOMS - PRIVATE_ROOMS} THEN 'public' ELSE 'private' END,
  CASE WHEN i < ${ROOMS - PRIVATE_ROOMS} THEN NULL ELSE 'Private ' || i END,
  1, 1, 0, 0, 0
FROM n;
INSERT INTO room_members (room, user_id, role, added_at) SELECT name, ${READER_ID}, 'member', 0 FROM rooms;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${POSTS_PER_ROOM})
INSERT INTO posts (room, seq, user_id, message, inserted_at)
SELECT r.name, n.i, CASE WHEN n.i % 7 = 0 THEN ${READER_ID} ELSE 1 + n.i % ${AUTHORS} END,
  'post ' || n.i || CASE WHEN n.i % 20 = 0 THEN ' for @reader' ELSE '' END, 1767225600000 + n.i * 1000
FROM rooms AS r, n;
INSERT INTO post_mentions (user_id, post_id, room, at)
SELECT ${READER_ID}, id, room, inserted_at FROM posts WHERE message LIKE '%@reader' AND user_id != ${READER_ID};
INSERT INTO read_positions (room, user_id, last_read_id, updated_at)
SELECT name, ${READER_ID}, (rowid * 37) % ${POSTS_PER_ROOM}, 0 FROM rooms;
`;

/** A password hash as src/auth/password.ts stores it (`pbkdf2-sha256$<iterations>$<salt>$<hash>`). */
function hashPassword(password: string): string {
  const salt = randomBytes(16);
  const hash = pbkdf2Sync(password, salt, PBKDF2_ITERATIONS, 32, "sha256");
  return ["pbkdf2-sha256", PBKDF2_ITERATIONS, salt.toString("base64"), hash.toString("base64")].join("$");
}

const stateDir = mkdtempSync(join(tmpdir(), "pyre-home-bench-"));
const persistTo = join(stateDir, "state");
const envFile = join(stateDir, "secrets.env");
writeFileSync(envFile, `TOKEN_SECRET=${randomBytes(36).toString("base64url")}\n`, { mode: 0o600 });
cpSync(inject("migratedState"), persistTo, { recursive: true });
const seedFile = join(stateDir, "seed.sql");
writeFileSync(seedFile, seed(hashPassword(PASSWORD)));
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

const dev = await startWranglerDev({ persistTo, envFile, echo: Boolean(process.env.E2E_SHOW_WRANGLER) });

/** Logs the seeded reader in through the form: its session cookie, and the socket token the page embeds. */
async function logIn(): Promise<{ cookie: string; token: string }> {
  const response = await fetch(`${dev.baseUrl}/login`, {
    method: "POST",
    redirect: "manual",
    headers: { Origin: dev.baseUrl },
    body: new URLSearchParams({ email: "reader@example.com", password: PASSWORD }),
  });
  const cookie = response.headers
    .getSetCookie()
    .map((header) => header.split(";")[0] ?? "")
    .find((pair) => pair.startsWith("pyre_session="));
  if (response.status !== 303 || cookie === undefined) throw new Error(`POST /login answered ${response.status}`);
  const home = await (await fetch(`${dev.baseUrl}/`, { headers: { Cookie: cookie } })).text();
  const token = /<meta name="user_token" content="([^"]+)"/.exec(home)?.[1];
  if (token === undefined) throw new Error("the home page has no user_token");
  return { cookie, token };
}
const reader = await logIn();

/** Milliseconds of every request timed, per kind, for the p50 and p99 printed at the end. */
const samples = new Latencies();

async function timed(kind: string, path: string, headers: Record<string, string>, check: (body: string) => boolean) {
  const started = performance.now();
  const response = await fetch(`${dev.baseUrl}${path}`, { headers });
  const body = await response.text();
  const elapsed = performance.now() - started;
  if (response.status !== 200 || !check(body)) throw new Error(`GET ${path}: ${response.status} ${body.slice(0, 300)}`);
  samples.add(kind, elapsed);
}

afterAll(async () => {
  for (const line of samples.lines("home bench", "requests")) console.log(line);
  await dev.stop();
  rmSync(stateDir, { recursive: true, force: true });
}, 60_000);

describe(`a person in ${ROOMS} rooms of ${(ROOMS * POSTS_PER_ROOM).toLocaleString("en")} posts`, () => {
  test("the home page", async ({ bench }) => {
    await bench("the home page", () =>
      timed(
        "the home page",
        "/",
        { Cookie: reader.cookie },
        (html) => html.includes("home_149") && html.includes(">99+</span>"),
      ),
    ).run(OPTIONS);
  });
  test("GET /api/rooms", async ({ bench }) => {
    await bench("GET /api/rooms", () =>
      timed(
        "GET /api/rooms",
        "/api/rooms",
        { Accept: "application/json", Authorization: `Bearer ${reader.token}` },
        (json) => {
          const { rooms } = JSON.parse(json) as { rooms: Array<{ unread: number | null; mentions: number | null }> };
          // Every room counted: some past "99+", some with nothing unread.
          return (
            rooms.length >= ROOMS &&
            rooms.some((room) => room.unread === 100) &&
            rooms.some((room) => room.unread === 0)
          );
        },
      ),
    ).run(OPTIONS);
  });
});
