/**
 * Queries on posts, always returning the public {@link Post} shape, whose `id` is the post's number in
 * its room (`seq`). Rooms write their posts here through {@link copyPosts}; everything else only reads.
 */
import { and, desc, eq, gt, inArray, lt, type SQL, sql } from "drizzle-orm";
import type { Post, PostsQuery } from "../shared/post";
import { batchAnswering } from "./batch";
import type { Database } from "./client";
import { mentionStatements } from "./mentions";
import { posts, rooms, users } from "./schema";

const postColumns = {
  seq: posts.seq,
  message: posts.message,
  insertedAt: posts.insertedAt,
  userId: users.id,
  username: users.username,
};

type PostSelection = { seq: number; message: string; insertedAt: Date; userId: number; username: string };

function toPost(row: PostSelection): Post {
  return {
    id: row.seq,
    message: row.message,
    inserted_at: row.insertedAt.toISOString(),
    user: { id: row.userId, username: row.username },
  };
}

function selectPosts(db: Database, where: SQL | undefined) {
  return db.select(postColumns).from(posts).innerJoin(users, eq(posts.userId, users.id)).where(where);
}

/** A page of a room's posts, oldest first, as {@link PostsQuery} describes it. */
export async function postsPage(db: Database, room: string, { after, before, limit }: PostsQuery): Promise<Post[]> {
  if (after !== undefined) {
    const rows = await selectPosts(db, and(eq(posts.room, room), gt(posts.seq, after)))
      .orderBy(posts.seq)
      .limit(limit);
    return rows.map(toPost);
  }
  const where = before === undefined ? eq(posts.room, room) : and(eq(posts.room, room), lt(posts.seq, before));
  const rows = await selectPosts(db, where).orderBy(desc(posts.seq)).limit(limit);
  return rows.reverse().map(toPost);
}

/** The highest number a room has given a post in D1 (0 for a room without posts). */
export async function lastSeq(db: Database, room: string): Promise<number> {
  const [row] = await db
    .select({ seq: sql<number | null>`max(${posts.seq})` })
    .from(posts)
    .where(eq(posts.room, room));
  return row?.seq ?? 0;
}

/** A post as a room's log holds it, on its way to D1. */
export interface LoggedPost {
  post: Post;
  clientId: string | null;
}

/** What D1 holds for a logged post once the copy is done. */
export type CopyOutcome =
  /** Stored under its number (now, or by an earlier attempt whose answer was lost). */
  | { kind: "copied" }
  /** Its `client_id` had been used in this room before: D1 keeps that original, and this one is dropped. */
  | { kind: "duplicate"; original: Post }
  /** Its author no longer exists: dropped. */
  | { kind: "gone" };

/**
 * Copies a room's logged posts into D1 in one statement, whatever their number: the posts travel as one
 * JSON parameter and `json_each` turns them back into rows (D1 allows 100 parameters per statement, and
 * one statement per post would cost a statement's overhead per post). Each row takes its author from
 * `users`, so a post by a deleted user cannot block the copy; one already there (a retried copy) or whose
 * `client_id` the author already used in this room is left alone. What became of each post is read back
 * only for the posts that were not inserted.
 */
export async function copyPosts(db: Database, room: string, logged: readonly LoggedPost[]): Promise<CopyOutcome[]> {
  if (logged.length === 0) return [];
  const rows = JSON.stringify(
    logged.map(({ post, clientId }) => ({
      seq: post.id,
      uid: post.user.id,
      message: post.message,
      at: Date.parse(post.inserted_at),
      cid: clientId,
    })),
  );
  // Whom the posts mention goes in with them, in the same batch (src/db/mentions.ts).
  const inserted = await batchAnswering<{ seq: number }>(
    db,
    sql`
    INSERT INTO ${posts} (room, seq, user_id, message, inserted_at, client_id)
    SELECT ${room}, p.value ->> '$.seq', u.id, p.value ->> '$.message', p.value ->> '$.at', p.value ->> '$.cid'
    FROM json_each(${rows}) AS p JOIN ${users} AS u ON u.id = p.value ->> '$.uid'
    WHERE true ORDER BY p.key
    ON CONFLICT DO NOTHING
    RETURNING seq`,
    mentionStatements(
      room,
      logged.map(({ post }) => ({ seq: post.id, message: post.message })),
    ),
  );
  const insertedSeqs = new Set(inserted.map((row) => row.seq));
  const missing = logged.filter((entry) => !insertedSeqs.has(entry.post.id));
  if (missing.length === 0) return logged.map(() => ({ kind: "copied" }));

  const present = await db
    .select({ seq: posts.seq })
    .from(posts)
    .where(
      and(
        eq(posts.room, room),
        inArray(
          posts.seq,
          missing.map((entry) => entry.post.id),
        ),
      ),
    );
  const presentSeqs = new Set([...insertedSeqs, ...present.map((row) => row.seq)]);
  return Promise.all(
    logged.map(async (entry): Promise<CopyOutcome> => {
      if (presentSeqs.has(entry.post.id)) return { kind: "copied" };
      if (entry.clientId === null) return { kind: "gone" };
      const [original] = await selectPosts(
        db,
        and(eq(posts.room, room), eq(posts.userId, entry.post.user.id), eq(posts.clientId, entry.clientId)),
      );
      return original ? { kind: "duplicate", original: toPost(original) } : { kind: "gone" };
    }),
  );
}

export interface RoomSummary {
  room: string;
  postCount: number;
  lastPostAt: Date;
}

/** Public rooms with the most recent activity first, for the home page (never a private room). */
export async function activeRooms(db: Database, limit = 20): Promise<RoomSummary[]> {
  const rows = await db
    .select()
    .from(rooms)
    .where(eq(rooms.kind, "public"))
    .orderBy(desc(rooms.lastPostAt))
    .limit(limit);
  return rows.map((row) => ({ room: row.id, postCount: row.postCount, lastPostAt: row.lastPostAt }));
}
