/**
 * The search index taking posts after their copy to D1 (src/db/search-index.ts, migration
 * `search_index_after_copy`), over a real local D1: a post is found only once indexed, then each once; a post
 * edited or deleted before it was indexed is found by its new text only, or never, and the index stays in
 * step (FTS5's own integrity check); a backlog goes in bounded batches, missing none; and any mix of copies,
 * edits, deletions and indexing leaves search finding exactly the posts that hold the word now.
 */
import { sql } from "drizzle-orm";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { batch } from "../../src/db/batch";
import { copyLogged, type Logged } from "../../src/db/posts";
import { ftsQuery, searchPosts } from "../../src/db/search";
import { indexAllPosts, indexNewPosts } from "../../src/db/search-index";
import type { User } from "../../src/db/users";
import { type Post, tombstone } from "../../src/shared/post";
import { FUZZ_SEED, runsOr } from "../fuzz/settings";
import { db, makeUser } from "../helpers/users";

let made = 0;

/** A room of its own for each test (and each fuzz run), so none finds another's posts. */
function roomName(prefix: string): string {
  made += 1;
  return `${prefix}_${made}`;
}

async function found(viewer: User, room: string, word: string): Promise<string[]> {
  const results = await searchPosts(db, viewer.id, { match: ftsQuery(word) as string, room, limit: 50 });
  return results.map((result) => result.post.message).sort();
}

/**
 * The index holds exactly what `posts` holds, every post once, as it is now: FTS5's integrity check (each
 * word of each post where it should be), and its totals (rows and words, which bm25 ranks by) equal to what
 * rebuilding it from `posts` makes: a post indexed twice, or a deletion of a post never indexed, passes the
 * first but not the second. Read, rebuilt and read again in one transaction, so no other test's writes
 * fall between.
 */
async function expectIndexInStep(): Promise<void> {
  await db.run(sql`INSERT INTO posts_fts (posts_fts) VALUES ('integrity-check')`);
  const totals = sql`SELECT hex(block) AS totals FROM posts_fts_data WHERE id = 1`;
  const [before, , , after] = await batch(db, [
    totals,
    sql`INSERT INTO posts_fts (posts_fts) VALUES ('rebuild')`,
    sql`UPDATE posts_fts_indexed SET through = (SELECT coalesce(max(id), 0) FROM posts)`,
    totals,
  ]);
  expect(before?.results).toEqual(after?.results);
}

function postOf(author: User, id: number, message: string): Post {
  return { id, message, inserted_at: new Date().toISOString(), user: { id: author.id, username: author.username } };
}

/** Copies new posts as a room's group commit does (the statement whose success answers the posters). */
async function copyNew(room: string, author: User, firstId: number, messages: string[]): Promise<Post[]> {
  const created = messages.map((message, n) => postOf(author, firstId + n, message));
  await copyLogged(
    db,
    room,
    created.map((post) => ({ post, clientId: null })),
  );
  return created;
}

/** Copies a change to a post (an edit, or a deletion), as a room does. */
async function copyChange(room: string, seq: number, type: "edit" | "delete", post: Post): Promise<void> {
  const change: Logged = { change: { seq, type, postSeq: post.id, at: Date.now(), post, data: null } };
  await copyLogged(db, room, [change]);
}

function edited(post: Post, message: string): Post {
  return { ...post, message, edited_at: new Date().toISOString() };
}

function deleted(post: Post): Post {
  return tombstone(post, { deleted_by: "author", deleted_at: new Date().toISOString() });
}

describe("indexNewPosts", () => {
  it("finds a copied post only once it is indexed, then once, however often indexing runs", async () => {
    const author = await makeUser("index_once");
    const room = roomName("index_once");
    await indexAllPosts(db);
    await copyNew(room, author, 1, ["pelicans over the harbour", "nothing to see"]);
    expect(await found(author, room, "pelicans")).toEqual([]);

    expect(await indexNewPosts(db)).toBe(false);
    expect(await found(author, room, "pelicans")).toEqual(["pelicans over the harbour"]);
    expect(await indexNewPosts(db)).toBe(false);
    expect(await found(author, room, "pelicans")).toEqual(["pelicans over the harbour"]);
    await expectIndexInStep();
  });

  it("finds a post edited before it was indexed by its new text only, and one deleted before it never", async () => {
    const author = await makeUser("index_late");
    const room = roomName("index_late");
    await indexAllPosts(db);
    const [kept, rewritten, removed] = await copyNew(room, author, 1, [
      "walrus one stays",
      "walrus two is rewritten",
      "walrus three is deleted",
    ]);
    await copyChange(room, 4, "edit", edited(rewritten as Post, "narwhal two now"));
    await copyChange(room, 5, "delete", deleted(removed as Post));
    // A post deleted in the room before its copy reaches D1 as its tombstone.
    await copyNew(room, author, 6, [""]);

    await indexAllPosts(db);
    expect(await found(author, room, "walrus")).toEqual([kept?.message]);
    expect(await found(author, room, "narwhal")).toEqual(["narwhal two now"]);
    expect(await found(author, room, "rewritten")).toEqual([]);
    expect(await found(author, room, "deleted")).toEqual([]);
    await expectIndexInStep();

    // Once indexed, edits and deletions reach the index in the statement that writes them.
    await copyChange(room, 7, "edit", edited(kept as Post, "seal one now"));
    await copyChange(room, 8, "delete", deleted(edited(rewritten as Post, "narwhal two now")));
    expect(await found(author, room, "walrus")).toEqual([]);
    expect(await found(author, room, "seal")).toEqual(["seal one now"]);
    expect(await found(author, room, "narwhal")).toEqual([]);
    await expectIndexInStep();
  });

  it("indexes a backlog in bounded batches, oldest first, missing none", async () => {
    const author = await makeUser("index_backlog");
    const room = roomName("index_backlog");
    await indexAllPosts(db);
    await copyNew(
      room,
      author,
      1,
      Array.from({ length: 25 }, (_, n) => `otter ${n}`),
    );
    expect(await indexNewPosts(db, 10)).toBe(true);
    expect(await found(author, room, "otter")).toHaveLength(10);
    expect(await indexNewPosts(db, 10)).toBe(true);
    expect(await indexNewPosts(db, 10)).toBe(false);
    expect(await found(author, room, "otter")).toHaveLength(25);
    await expectIndexInStep();
  });

  it("whatever mix of copies, edits, deletions and indexing: the index in step, search finding the posts as they are", async () => {
    const author = await makeUser("index_fuzz");
    const step = fc.oneof(
      fc.record({ kind: fc.constant("post" as const), word: fc.constantFrom("heron", "egret") }),
      fc.record({ kind: fc.constant("edit" as const), pick: fc.nat(), word: fc.constantFrom("heron", "egret") }),
      fc.record({ kind: fc.constant("delete" as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant("index" as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), async (steps) => {
        const room = roomName("index_fuzz");
        let seq = 0;
        const current = new Map<number, Post>();
        for (const action of steps) {
          const live = [...current.values()].filter((post) => post.deleted_at === undefined);
          if (action.kind === "post") {
            seq += 1;
            const [post] = await copyNew(room, author, seq, [`a ${action.word} ${seq}`]);
            current.set(seq, post as Post);
          } else if (action.kind === "index") {
            await indexAllPosts(db);
          } else if (live.length > 0) {
            const target = live[action.pick % live.length] as Post;
            const after = action.kind === "edit" ? edited(target, `now ${action.word} ${target.id}`) : deleted(target);
            seq += 1;
            await copyChange(room, seq, action.kind, after);
            current.set(target.id, after);
          }
        }
        await indexAllPosts(db);
        await expectIndexInStep();
        for (const word of ["heron", "egret"]) {
          const holding = [...current.values()].filter((post) => post.message.includes(word)).map((p) => p.message);
          expect(await found(author, room, word)).toEqual(holding.sort());
        }
      }),
      { seed: FUZZ_SEED, numRuns: runsOr(20) },
    );
  });
});
