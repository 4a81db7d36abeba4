/**
 * The room's post log over real storage: a real Durable Object's SQLite and the real D1. Numbering, group
 * commit to D1, answering only once D1 has a post, the timeout, retries when D1 fails, client_id
 * originals, and pruning; and the room's other changes (edits, deletions, any later kind) in the same
 * sequence and the same copies. Slowness is network-like latency put in front of the real D1 call (local D1 runs
 * on the room's own thread, so slow SQL would stop the room's clock as well).
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { copyLogged, type Logged, lastSeq } from "../../../src/db/posts";
import type { ReadPosition } from "../../../src/db/read-states";
import { changes, posts, users } from "../../../src/db/schema";
import type { User } from "../../../src/db/users";
import {
  CHANGE_LOG_KEEP,
  LOG_KEEP,
  POSITIONS_WAIT_MS,
  type PositionsToCopy,
  type PostDraft,
  PostLog,
  UNSENT_KEPT,
} from "../../../src/realtime/room/post-log";
import { type Post, tombstone } from "../../../src/shared/post";
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
      copy: async (logged: readonly Logged[]) => {
        copies.push(logged.length);
        await delay(typeof latency === "number" ? latency : (latency[copies.length - 1] ?? 0));
        return copyLogged(db, room, logged);
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

  it("answers each waiting poster unavailable at its own deadline (one timer serves them all), and a copy answers the rest", async () => {
    const user = await makeUser("log_deadlines");
    await withLog(
      "log_deadlines",
      async ({ log }) => {
        const first = appendNew(log, draft(user, "first"));
        const answers: string[] = [];
        const firstAnswer = log.confirmed(first.post).then((c) => answers.push(`first ${c.kind}`));
        await delay(700);
        const second = appendNew(log, draft(user, "second"));
        const secondAnswer = log.confirmed(second.post).then((c) => answers.push(`second ${c.kind}`));
        await firstAnswer;
        expect(answers).toEqual(["first unavailable"]); // the second's deadline is 700 ms later
        await secondAnswer;
        expect(answers).toEqual(["first unavailable", "second unavailable"]);
        // The copy came back meanwhile: a poster asking now is answered from D1.
        await delay(1_000);
        expect(await log.confirmed(second.post)).toEqual({ kind: "in D1", post: second.post });
      },
      { latency: [1_600, 0], timeoutMs: 500 },
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
        appendNew(log, draft(user, "during the outage 2"));
        expect(await log.confirmed(first.post)).toEqual({ kind: "unavailable" });
        expect(problems.length).toBeGreaterThan(0);
        expect(await inD1("log_failing")).toEqual([]);
        // More than memory keeps for the copy: the copy reads the rest from the log.
        const more = Array.from({ length: UNSENT_KEPT + 20 }, (_, n) => appendNew(log, draft(user, `later ${n}`)));
        await env.DB.exec("DROP TRIGGER fail_log_copies");
        const last = (more.at(-1) as (typeof more)[number]).post;
        expect(await log.confirmed(last)).toEqual({ kind: "in D1", post: last });
        expect((await inD1("log_failing")).map((row) => row.message)).toEqual([
          "during the outage 1",
          "during the outage 2",
          ...more.map(({ post }) => post.message),
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
    // A woken room counts its log again: it keeps the newest LOG_KEEP, no more, no fewer.
    await withLog("log_prune", async ({ log }) => {
      const more = Array.from({ length: 30 }, (_, n) => appendNew(log, draft(user, `q${n}`)));
      await log.confirmed((more.at(-1) as (typeof more)[number]).post);
      const kept = log.range({ limit: 10 * LOG_KEEP });
      expect(kept).toHaveLength(LOG_KEEP);
      expect(kept.at(-1)?.message).toBe("q29");
    });
  });

  it("numbers other changes in the posts' sequence, stores them before D1, and copies them with the posts in one batch", async () => {
    const user = await makeUser("log_changes");
    const [seeded] = await seedPosts(user, "log_changes", ["from D1"]);
    await withLog(
      "log_changes",
      async ({ log, copies }) => {
        const first = appendNew(log, draft(user, "first"));
        const edited = { ...first.post, message: "first, edited", edited_at: new Date().toISOString() };
        const edit = log.appendChange({ type: "edit", post: edited, at: new Date() });
        const second = appendNew(log, draft(user, "second"));
        const other = log.appendChange({ type: "note", data: { says: "hello" }, at: new Date() });
        if (edit.kind !== "stored" || other.kind !== "stored") throw new Error("expected new changes");
        expect([first.post.id, edit.change.seq, second.post.id, other.change.seq]).toEqual(
          [1, 2, 3, 4].map((n) => (seeded as number) + n),
        );
        // In the room at once, as it is now, before D1 has anything.
        expect(log.current(first.post.id)).toEqual(edited);
        expect(log.range({ limit: 5 }).map((post) => post.message)).toEqual(["first, edited", "second"]);
        expect(await log.copied(other.change.seq)).toBe(true);
        expect(copies).toEqual([1, 3]); // the first post alone, then what was logged during its copy
        expect((await inD1("log_changes")).map((row) => [row.seq, row.message, row.editedAt?.toISOString()])).toEqual([
          [seeded, "from D1", undefined],
          [first.post.id, "first, edited", edited.edited_at],
          [second.post.id, "second", undefined],
        ]);
        const rows = await db.select().from(changes).where(eq(changes.room, "log_changes")).orderBy(changes.seq);
        expect(rows.map((row) => [row.seq, row.type, row.postSeq, row.data])).toEqual([
          [edit.change.seq, "edit", first.post.id, null],
          [other.change.seq, "note", null, JSON.stringify({ says: "hello" })],
        ]);
        // The same log answers for a room new to it: the next number counts the changes too.
        expect(await lastSeq(db, "log_changes")).toBe(other.change.seq);
        expect(log.changesAfter(first.post.id, 10)).toEqual([
          { seq: edit.change.seq, type: "edit", post: edited },
          { seq: second.post.id, type: "post", post: second.post },
          { seq: other.change.seq, type: "note", says: "hello" },
        ]);
      },
      { latency: 30 },
    );
  });

  it("forgets a deleted post's text: its row, its earlier changes; a D1 read is overlaid with what the log has", async () => {
    const user = await makeUser("log_forgets");
    const [old] = await seedPosts(user, "log_forgets", ["old secret"]);
    await withLog("log_forgets", async ({ log }) => {
      const fromD1 = (await db.select().from(posts).where(eq(posts.room, "log_forgets")))[0];
      const oldPost: Post = {
        id: old as number,
        message: "old secret",
        inserted_at: fromD1?.insertedAt.toISOString() ?? "",
        user: { id: user.id, username: user.username },
      };
      const fresh = appendNew(log, draft(user, "new secret"));
      for (const post of [oldPost, fresh.post]) {
        log.appendChange({
          type: "edit",
          post: { ...post, message: `${post.message}!`, edited_at: "2026-12-06T10:00:00.000Z" },
          at: new Date(),
        });
        log.appendChange({
          type: "delete",
          post: tombstone(post, { deleted_by: "author", deleted_at: new Date().toISOString() }),
          at: new Date(),
        });
      }
      const texts = await runInDurableObject(roomStub("log_forgets"), (_room, state) =>
        JSON.stringify([
          ...state.storage.sql.exec("SELECT * FROM post_log"),
          ...state.storage.sql.exec("SELECT * FROM change_log"),
        ]),
      );
      expect(texts).not.toMatch(/secret/);
      expect(log.current(oldPost.id)).toMatchObject({ message: "", deleted_by: "author" });
      // A page read from D1 before the copy: the log's version wins.
      expect(log.overlay([oldPost])).toEqual([log.current(oldPost.id)]);
      const { changes: recent, coveredAfter } = log.recentChanges(3);
      expect([recent.map((change) => change.type), coveredAfter]).toEqual([
        ["delete", "edit", "delete"],
        (recent[0]?.seq ?? 0) - 1,
      ]);
      expect(recent.every((change) => change.post?.message === "")).toBe(true);
    });
  });

  it(`keeps the newest ${CHANGE_LOG_KEEP} other changes once D1 has them, and says how far back the rest reach`, async () => {
    const user = await makeUser("log_prune_changes");
    await withLog("log_prune_changes", async ({ log }) => {
      const { post } = appendNew(log, draft(user, "edited over and over"));
      let last = 0;
      for (let n = 0; n < CHANGE_LOG_KEEP + 40; n++) {
        const appended = log.appendChange({ type: "edit", post: { ...post, message: `take ${n}` }, at: new Date() });
        if (appended.kind === "stored") last = appended.change.seq;
      }
      expect(await log.copied(last)).toBe(true);
      const kept = log.recentChanges(10 * CHANGE_LOG_KEEP);
      expect(kept.changes).toHaveLength(CHANGE_LOG_KEEP);
      expect(kept.coveredAfter).toBe((kept.changes[0]?.seq ?? 0) - 1);
      expect(log.current(post.id)?.message).toBe(`take ${CHANGE_LOG_KEEP + 39}`);
    });
  });

  it("adds the edit columns to a room's post log from before edits existed, keeping its posts", async () => {
    const user = await makeUser("log_upgrade");
    await runInDurableObject(roomStub("log_upgrade"), (_room, state) => {
      state.storage.sql.exec(`CREATE TABLE post_log (
        seq INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, username TEXT NOT NULL, message TEXT NOT NULL,
        inserted_at INTEGER NOT NULL, client_id TEXT
      )`);
      state.storage.sql.exec(
        "INSERT INTO post_log VALUES (1, ?, ?, 'before edits', ?, NULL)",
        user.id,
        user.username,
        Date.now(),
      );
      state.storage.kv.put("copiedThrough", 1);
    });
    await withLog("log_upgrade", async ({ log }) => {
      const [before] = log.newest(1);
      expect(before).toMatchObject({ id: 1, message: "before edits" });
      log.appendChange({
        type: "edit",
        post: { ...(before as Post), message: "after", edited_at: new Date().toISOString() },
        at: new Date(),
      });
      expect(log.current(1)).toMatchObject({ message: "after", edited_at: expect.any(String) });
    });
  });

  describe("read positions", () => {
    /** Positions in memory standing in for the room's (read-positions.ts): what moved and is not in D1. */
    function movingPositions(): PositionsToCopy & { move(userId: number, lastReadId: number): void } {
      const dirty = new Map<number, ReadPosition>();
      return {
        get pending() {
          return dirty.size > 0;
        },
        toCopy: () => [...dirty.values()],
        copied: (positions) => {
          for (const position of positions) if (dirty.get(position.userId) === position) dirty.delete(position.userId);
        },
        move: (userId, lastReadId) => dirty.set(userId, { userId, lastReadId, at: Date.now() }),
      };
    }

    it("copies moved positions with the next post, or on their own once they have waited, several in one copy", async () => {
      const room = "positions_ride_along";
      const author = await makeUser("pos_author");
      await runInDurableObject(roomStub(room), async (_room, state) => {
        const copies: Array<{ posts: number; positions: number[] }> = [];
        const positions = movingPositions();
        const log = new PostLog(state.storage, {
          lastSeqInD1: () => lastSeq(db, room),
          copy: async (logged, moved) => {
            copies.push({ posts: logged.length, positions: moved.map((position) => position.userId) });
            return copyLogged(db, room, logged);
          },
          positions,
          log: (_where, problem) => {
            throw problem;
          },
          timeoutMs: 5_000,
        });
        await log.ready();

        // Three reports in a row: nothing goes to D1 at once; after the wait, one copy carries all three.
        const movedAt = Date.now();
        for (const userId of [11, 12, 13]) {
          positions.move(userId, 0);
          log.positionsChanged();
        }
        expect(copies).toEqual([]);
        while (positions.pending) await delay(10);
        expect(Date.now() - movedAt).toBeGreaterThanOrEqual(POSITIONS_WAIT_MS - 5);
        expect(copies).toEqual([{ posts: 0, positions: [11, 12, 13] }]);

        // A report, then a post: the position rides along with the post's copy, without waiting.
        positions.move(14, 0);
        log.positionsChanged();
        const posted = appendNew(log, draft(author, "with a position"));
        await log.confirmed(posted.post);
        expect(copies.slice(1)).toEqual([{ posts: 1, positions: [14] }]);
        expect(positions.pending).toBe(false);
      });
    });
  });
});
