/**
 * The room's post log over real storage: a real Durable Object's SQLite and the real D1. Numbering, group
 * commit to D1, answering only once D1 has a post, the timeout, retries when D1 fails, client_id
 * originals, and pruning. Slowness is network-like latency put in front of the real D1 call (local D1 runs
 * on the room's own thread, so slow SQL would stop the room's clock as well).
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { copyPosts, type LoggedPost, lastSeq } from "../../../src/db/posts";
import { posts, users } from "../../../src/db/schema";
import type { User } from "../../../src/db/users";
import { LOG_KEEP, type PostDraft, PostLog } from "../../../src/realtime/room/post-log";
import type { Post } from "../../../src/shared/post";
import { roomStub } from "../../helpers/socket";
import { db, makeUser, seedPosts } from "../../helpers/users";

afterEach(() => env.DB.exec("DROP TRIGGER IF EXISTS fail_log_copies"));

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface Harness {
  log: PostLog;
  /** Sizes of the copies made so far. */
  copies: number[];
  problems: unknown[];
}

/**
 * Runs `body` inside the Durable Object named `room` with a PostLog over its own storage. `latency` is put in
 * front of each copy to D1 (a number, or one per copy in turn).
 */
function withLog(
  room: string,
  body: (harness: Harness) => Promise<void>,
  { latency = 0, timeoutMs = 1_000 }: { latency?: number | number[]; timeoutMs?: number } = {},
): Promise<void> {
  return runInDurableObject(roomStub(room), async (_room, state) => {
    const copies: number[] = [];
    const problems: unknown[] = [];
    const log = new PostLog(state.storage, {
      lastSeqInD1: () => lastSeq(db, room),
      copy: async (logged: readonly LoggedPost[]) => {
        copies.push(logged.length);
        await delay(typeof latency === "number" ? latency : (latency[copies.length - 1] ?? 0));
        return copyPosts(db, room, logged);
      },
      log: (_where, problem) => problems.push(problem),
      timeoutMs,
    });
    await log.ready();
    await body({ log, copies, problems });
  });
}

/** Appends a post that must be new (not a retry), and answers it. */
function appendNew(log: PostLog, entry: PostDraft): { post: Post } {
  const appended = log.append(entry);
  if (appended.kind !== "stored") throw new Error(`expected a new post, got a ${appended.kind}`);
  return appended;
}

function draft(user: User, message: string, clientId: string | null = null): PostDraft {
  return { user: { id: user.id, username: user.username }, message, clientId, insertedAt: new Date() };
}

async function inD1(room: string) {
  return db.select().from(posts).where(eq(posts.room, room)).orderBy(posts.seq);
}

describe("PostLog", () => {
  it("numbers posts after the room's last post in D1, and stores them in the room before D1", async () => {
    const user = await makeUser("log_numbers");
    const seeded = await seedPosts(user, "log_numbers", 3);
    await withLog("log_numbers", async ({ log }) => {
      const first = appendNew(log, draft(user, "fourth"));
      const second = appendNew(log, draft(user, "fifth"));
      expect([first.post.id, second.post.id]).toEqual([(seeded.at(-1) as number) + 1, (seeded.at(-1) as number) + 2]);
      expect(log.newest(2).map((post) => post.message)).toEqual(["fourth", "fifth"]); // in the room already
      const confirmed = await log.confirmed(second.post);
      expect(confirmed).toEqual({ kind: "in D1", post: second.post });
      // Acknowledged means in D1: both are there by now, in order, with their numbers.
      expect((await inD1("log_numbers")).map((row) => [row.seq, row.message]).slice(-2)).toEqual([
        [first.post.id, "fourth"],
        [second.post.id, "fifth"],
      ]);
    });
  });

  it("copies to D1 by group commit: posts logged during a copy share the next one", async () => {
    const user = await makeUser("log_batches");
    await withLog(
      "log_batches",
      async ({ log, copies }) => {
        const appended = Array.from({ length: 12 }, (_, n) => appendNew(log, draft(user, `post ${n}`)));
        await Promise.all(appended.map((entry) => log.confirmed(entry.post)));
        expect(copies).toEqual([1, 11]);
        expect((await inD1("log_batches")).map((row) => row.message)).toEqual(appended.map((a) => a.post.message));
      },
      { latency: 30 },
    );
  });

  it("answers unavailable after the timeout, and the post reaches D1 anyway, once", async () => {
    const user = await makeUser("log_slow");
    await withLog(
      "log_slow",
      async ({ log }) => {
        const appended = appendNew(log, draft(user, "slow", "slow-1"));
        const startedAt = Date.now();
        expect(await log.confirmed(appended.post)).toEqual({ kind: "unavailable" });
        expect(Date.now() - startedAt).toBeLessThan(1_400); // answered before the copy came back
        await delay(1_300);
        // The retry finds the original in the room, and D1 has it now.
        const retry = log.append(draft(user, "slow", "slow-1"));
        expect(retry).toEqual({ kind: "duplicate", seq: appended.post.id, post: appended.post });
        expect(await log.confirmed(appended.post)).toEqual({ kind: "in D1", post: appended.post });
        expect(await inD1("log_slow")).toHaveLength(1);
      },
      { latency: [1_500, 0], timeoutMs: 500 },
    );
  });

  it("keeps posts while D1 fails and copies them, in order, once it is back", async () => {
    const user = await makeUser("log_failing");
    await env.DB.exec(
      "CREATE TRIGGER fail_log_copies BEFORE INSERT ON posts WHEN NEW.room = 'log_failing' BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
    );
    await withLog(
      "log_failing",
      async ({ log, problems }) => {
        const first = appendNew(log, draft(user, "during the outage 1"));
        const second = appendNew(log, draft(user, "during the outage 2"));
        expect(await log.confirmed(first.post)).toEqual({ kind: "unavailable" });
        expect(problems.length).toBeGreaterThan(0);
        expect(await inD1("log_failing")).toEqual([]);
        await env.DB.exec("DROP TRIGGER fail_log_copies");
        expect(await log.confirmed(second.post)).toEqual({ kind: "in D1", post: second.post });
        expect((await inD1("log_failing")).map((row) => row.message)).toEqual([
          "during the outage 1",
          "during the outage 2",
        ]);
      },
      { timeoutMs: 1_500 },
    );
  });

  it("answers a client_id older than the room's log with the original D1 kept", async () => {
    const user = await makeUser("log_old_client_id");
    const [original] = await seedPosts(user, "log_old_client_id", ["from long ago"]);
    await db
      .update(posts)
      .set({ clientId: "ancient-1" })
      .where(and(eq(posts.room, "log_old_client_id"), eq(posts.seq, original as number)));
    await withLog("log_old_client_id", async ({ log, problems }) => {
      const again = appendNew(log, draft(user, "from long ago", "ancient-1")); // the room has never seen it
      const confirmed = await log.confirmed(again.post);
      expect(confirmed).toMatchObject({ kind: "in D1", post: { id: original, message: "from long ago" } });
      expect(await inD1("log_old_client_id")).toHaveLength(1);
      expect(String(problems[0])).toMatch(/client_id/);
    });
  });

  it("drops the posts of a user who no longer exists instead of blocking the copy", async () => {
    const [gone, stays] = [await makeUser("log_deleted"), await makeUser("log_stays")];
    await withLog("log_deleted_user", async ({ log }) => {
      await db.delete(users).where(eq(users.id, gone.id));
      const lost = appendNew(log, draft(gone, "from a deleted account"));
      const kept = appendNew(log, draft(stays, "after it"));
      expect(await log.confirmed(lost.post)).toEqual({ kind: "gone" });
      expect(await log.confirmed(kept.post)).toEqual({ kind: "in D1", post: kept.post });
    });
  });

  it(`keeps the newest ${LOG_KEEP} posts once D1 has them, and prunes the rest; client_ids for a day`, async () => {
    const user = await makeUser("log_prune");
    await withLog("log_prune", async ({ log }) => {
      const first = appendNew(log, draft(user, "the very first", "first-1"));
      const appended = Array.from({ length: LOG_KEEP + 60 }, (_, n) => appendNew(log, draft(user, `p${n}`)));
      await log.confirmed((appended.at(-1) as (typeof appended)[number]).post);
      const kept = log.range({ limit: 10 * LOG_KEEP });
      expect(kept).toHaveLength(LOG_KEEP);
      expect(kept.at(-1)?.message).toBe(`p${LOG_KEEP + 59}`);
      expect(await inD1("log_prune")).toHaveLength(LOG_KEEP + 61);
      // The post is gone from the log, but its client_id is still known: a late retry is not a new post.
      expect(log.append(draft(user, "the very first", "first-1"))).toEqual({
        kind: "duplicate",
        seq: first.post.id,
        post: undefined,
      });
    });
  });
});
