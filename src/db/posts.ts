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

export async function insertPost(
  db: Database,
  fields: { room: string; user: { id: number; username: string }; message: string; insertedAt: Date },
): Promise<Post> {
  const [row] = await db
    .insert(posts)
    .values({ room: fields.room, userId: fields.user.id, message: fields.message, insertedAt: fields.insertedAt })
    .returning({ id: posts.id, message: posts.message, insertedAt: posts.insertedAt });
  if (!row) throw new Error("INSERT ... RETURNING gave no row");
  return toPost({ ...row, userId: fields.user.id, username: fields.user.username });
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
