/** Queries on posts, always returning the public {@link Post} shape. */
import { and, desc, eq, gt, lt, or, type SQL, sql } from "drizzle-orm";
import type { Post } from "../shared/post";
import type { Database } from "./client";
import { posts, rooms, users } from "./schema";

const postColumns = {
  id: posts.id,
  message: posts.message,
  insertedAt: posts.insertedAt,
  userId: users.id,
  username: users.username,
};

type PostSelection = { id: number; message: string; insertedAt: Date; userId: number; username: string };

function toPost(row: PostSelection): Post {
  return {
    id: row.id,
    message: row.message,
    inserted_at: row.insertedAt.toISOString(),
    user: { id: row.userId, username: row.username },
  };
}

function selectPosts(db: Database, where: SQL | undefined) {
  return db.select(postColumns).from(posts).innerJoin(users, eq(posts.userId, users.id)).where(where);
}

/** The newest `limit` posts of a room, oldest first. */
export async function recentPosts(db: Database, room: string, limit: number): Promise<Post[]> {
  const rows = await selectPosts(db, eq(posts.room, room)).orderBy(desc(posts.id)).limit(limit);
  return rows.reverse().map(toPost);
}

/** The `limit` oldest posts with an id greater than `afterId`, oldest first: what a reconnecting client missed. */
export async function postsAfter(db: Database, room: string, afterId: number, limit: number): Promise<Post[]> {
  const rows = await selectPosts(db, and(eq(posts.room, room), gt(posts.id, afterId)))
    .orderBy(posts.id)
    .limit(limit);
  return rows.map(toPost);
}

/** The `limit` newest posts with an id less than `beforeId`, oldest first: scrolling back through history. */
export async function postsBefore(db: Database, room: string, beforeId: number, limit: number): Promise<Post[]> {
  const rows = await selectPosts(db, and(eq(posts.room, room), lt(posts.id, beforeId)))
    .orderBy(desc(posts.id))
    .limit(limit);
  return rows.reverse().map(toPost);
}

/** A post on its way to D1: what the room knows when a member pushes `new_post`. */
export interface PostDraft {
  room: string;
  user: { id: number; username: string };
  /** The token generation the poster connected with; a post from a revoked token is not stored. */
  tokenGeneration: number;
  message: string;
  clientId: string | null;
  insertedAt: Date;
}

export type StoreOutcome =
  /** A new row. */
  | { kind: "stored"; post: Post }
  /** The user posted this `client_id` before: the original, stored earlier. */
  | { kind: "duplicate"; post: Post }
  /** The user used this `client_id` for a post in another room. */
  | { kind: "client_id taken"; room: string }
  /** The user's token generation moved on (logout, password change) or the user is gone: nothing stored. */
  | { kind: "revoked" };

/**
 * Stores posts in one D1 round trip (a batch: one transaction, statements in order, so ids ascend in
 * draft order), and says for each draft what became of it.
 *
 * Each insert takes its user from `users` only while the generation the poster connected with is still
 * current, so a logout that lands at the same moment cannot slip a post through; and it does nothing on a
 * `client_id` the user has used before, which a second query (only then) resolves to the original post.
 */
export async function storePosts(db: Database, drafts: readonly PostDraft[]): Promise<StoreOutcome[]> {
  const [first, ...rest] = drafts.map((draft) => insertStatement(db, draft));
  if (!first) return [];
  const inserted = await db.batch([first, ...rest]);
  const outcomes: (StoreOutcome | undefined)[] = inserted.map((rows, index) => {
    const row = rows[0];
    const draft = drafts[index] as PostDraft;
    return row
      ? { kind: "stored", post: toPost({ ...row, userId: draft.user.id, username: draft.user.username }) }
      : undefined;
  });

  const unresolved = drafts.filter((draft, index) => outcomes[index] === undefined && draft.clientId !== null);
  const originals = unresolved.length > 0 ? await postsByClientId(db, unresolved) : [];
  return outcomes.map((outcome, index) => {
    if (outcome) return outcome;
    const draft = drafts[index] as PostDraft;
    const original = originals.find((row) => row.userId === draft.user.id && row.clientId === draft.clientId);
    if (!original) return { kind: "revoked" };
    if (original.room !== draft.room) return { kind: "client_id taken", room: original.room };
    return { kind: "duplicate", post: toPost(original) };
  });
}

function insertStatement(db: Database, draft: PostDraft) {
  return db
    .insert(posts)
    .select(
      db
        // INSERT ... SELECT takes every column in table order; a null id lets AUTOINCREMENT choose.
        .select({
          id: sql`null`.as("id"),
          room: sql`${draft.room}`.as("room"),
          userId: users.id,
          message: sql`${draft.message}`.as("message"),
          insertedAt: sql`${draft.insertedAt.getTime()}`.as("inserted_at"),
          clientId: sql`${draft.clientId}`.as("client_id"),
        })
        .from(users)
        .where(and(eq(users.id, draft.user.id), eq(users.tokenGeneration, draft.tokenGeneration))),
    )
    .onConflictDoNothing()
    .returning({ id: posts.id, message: posts.message, insertedAt: posts.insertedAt });
}

function postsByClientId(db: Database, drafts: readonly PostDraft[]) {
  const keys = drafts.map((draft) => and(eq(posts.userId, draft.user.id), eq(posts.clientId, draft.clientId ?? "")));
  return db
    .select({ ...postColumns, room: posts.room, clientId: posts.clientId })
    .from(posts)
    .innerJoin(users, eq(posts.userId, users.id))
    .where(or(...keys));
}

export interface RoomSummary {
  room: string;
  postCount: number;
  lastPostAt: Date;
}

/** Rooms with the most recent activity first, for the home page (the `rooms` table a trigger keeps). */
export async function activeRooms(db: Database, limit = 20): Promise<RoomSummary[]> {
  const rows = await db.select().from(rooms).orderBy(desc(rooms.lastPostAt)).limit(limit);
  return rows.map((row) => ({ room: row.name, postCount: row.postCount, lastPostAt: row.lastPostAt }));
}
