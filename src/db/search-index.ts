/**
 * Puts new posts into the search index (`posts_fts`, searched by search.ts), after their copy to D1 rather
 * than inside it: the copy is what answers a poster `ok`, and indexing there made every post slower. The
 * index holds exactly the posts whose D1 row id is at or below `posts_fts_indexed.through` (migration
 * `search_index_after_copy`: its triggers keep those in step through edits and deletions), each as it is
 * now; a post above it is indexed, as it is by then, by the next call here. Rooms call it after each copy
 * (src/realtime/room/search-indexing.ts); any call indexes every room's posts waiting, so it is idempotent
 * and never indexes a post twice.
 */
import { sql } from "drizzle-orm";
import { batch } from "./batch";
import type { Database } from "./client";
import { posts } from "./schema";

/** Posts indexed per call at most, so a backlog (after an outage) goes in bounded statements. */
export const INDEX_BATCH = 1_000;

/**
 * Indexes the oldest posts not in the index yet (at most `limit`), with their text as it is now (a deleted
 * post's is empty: it is never found), and moves the watermark past them, in one transaction. Row ids only
 * grow and every write is serialized, so no post can later appear below the watermark. Answers whether
 * posts are still waiting (call again).
 */
export async function indexNewPosts(db: Database, limit = INDEX_BATCH): Promise<boolean> {
  const waiting = sql`SELECT ${posts.id} AS id, ${posts.message} AS message FROM ${posts}
    WHERE ${posts.id} > (SELECT through FROM posts_fts_indexed) ORDER BY ${posts.id} LIMIT ${limit}`;
  const results = await batch(db, [
    sql`INSERT INTO posts_fts (rowid, message) SELECT id, message FROM (${waiting})`,
    sql`UPDATE posts_fts_indexed SET through = coalesce((SELECT max(id) FROM (${waiting})), through)`,
    sql`SELECT EXISTS (SELECT 1 FROM ${posts} WHERE ${posts.id} > (SELECT through FROM posts_fts_indexed)) AS more`,
  ]);
  const [row] = (results[2]?.results ?? []) as Array<{ more: number }>;
  return row?.more === 1;
}

/** Indexes every post waiting, a batch at a time (tests and tools that write `posts` themselves). */
export async function indexAllPosts(db: Database): Promise<void> {
  while (await indexNewPosts(db));
}
