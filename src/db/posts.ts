/** Queries on posts, always returning the public {@link Post} shape. */
import { and, desc, eq, gt, max, sql } from "drizzle-orm";
import type { Post } from "../shared/post";
import { CATCH_UP_LIMIT } from "../shared/room-channel";
import type { Database } from "./client";
import { posts, users } from "./schema";

export const RECENT_POSTS_LIMIT = 50;

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

/** The most recent posts of a room, oldest first. */
export async function recentPosts(db: Database, room: string, limit = RECENT_POSTS_LIMIT): Promise<Post[]> {
  const rows = await db
    .select(postColumns)
    .from(posts)
    .innerJoin(users, eq(posts.userId, users.id))
    .where(eq(posts.room, room))
    .orderBy(desc(posts.id))
    .limit(limit);
  return rows.reverse().map(toPost);
}

/** Posts with an id greater than `afterId` (exclusive), oldest first: what a reconnecting client missed. */
export async function postsAfter(db: Database, room: string, afterId: number, limit = CATCH_UP_LIMIT): Promise<Post[]> {
  const rows = await db
    .select(postColumns)
    .from(posts)
    .innerJoin(users, eq(posts.userId, users.id))
    .where(and(eq(posts.room, room), gt(posts.id, afterId)))
    .orderBy(posts.id)
    .limit(limit);
  return rows.map(toPost);
}

/**
 * Stores a post by `user`, but only while the token generation the poster connected with is still the
 * user's current one: one INSERT ... SELECT, so a logout that lands at the same moment cannot slip a post
 * through. Returns undefined when the generation has moved on (the user logged out since).
 */
export async function insertPost(
  db: Database,
  fields: {
    room: string;
    user: { id: number; username: string };
    tokenGeneration: number;
    message: string;
    insertedAt: Date;
  },
): Promise<Post | undefined> {
  const [row] = await db
    .insert(posts)
    .select(
      db
        // INSERT ... SELECT takes every column in table order; a null id lets AUTOINCREMENT choose.
        .select({
          id: sql`null`.as("id"),
          room: sql`${fields.room}`.as("room"),
          userId: users.id,
          message: sql`${fields.message}`.as("message"),
          insertedAt: sql`${fields.insertedAt.getTime()}`.as("inserted_at"),
        })
        .from(users)
        .where(and(eq(users.id, fields.user.id), eq(users.tokenGeneration, fields.tokenGeneration))),
    )
    .returning({ id: posts.id, message: posts.message, insertedAt: posts.insertedAt });
  return row && toPost({ ...row, userId: fields.user.id, username: fields.user.username });
}

export interface RoomSummary {
  room: string;
  lastPostAt: Date;
}

/** Rooms with the most recent activity first, for the home page. */
export async function activeRooms(db: Database, limit = 20): Promise<RoomSummary[]> {
  const lastId = max(posts.id);
  const rows = await db
    .select({ room: posts.room, lastPostAt: sql<number>`max(${posts.insertedAt})` })
    .from(posts)
    .groupBy(posts.room)
    .orderBy(desc(lastId))
    .limit(limit);
  return rows.map((row) => ({ room: row.room, lastPostAt: new Date(row.lastPostAt) }));
}
