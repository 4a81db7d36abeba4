/**
 * Who each post mentions, in D1 (`post_mentions`), and each person's mentions across the rooms they can
 * read: newest first, paged by a cursor, and the count the top bar shows. A post's mentions are written
 * with the post, in the room's copy to D1 (src/db/posts.ts copyPosts), by the one mention rule
 * (src/shared/mentions.ts); the names are resolved to users in SQL. A trigger drops a post's mentions when
 * its text changes, so an edit must write the new text's: `mentionStatements(room, [{seq, message}])`
 * after its UPDATE, in the same batch (src/db/batch.ts). A deleted post (text emptied, or row gone) mentions nobody.
 */
import { type SQL, sql } from "drizzle-orm";
import { mentionedNames } from "../shared/mentions";
import type { Database } from "./client";
import { FOUND_JOINS, type FoundPost, type FoundRow, foundColumns, toFoundPost } from "./found-posts";
import { readableBy } from "./readable";

/** A post's text and its number in its room, as the copy and an edit know them. */
export interface PostText {
  seq: number;
  message: string;
}

/**
 * The statement that records whom these posts of `room` mention (none when no post mentions anyone): run
 * after the posts are in D1, in the same batch. Each name becomes the user of that name in any case, if
 * there is one; the post's own author never; a mention already recorded (a retried copy) is left alone.
 */
export function mentionStatements(room: string, posts: readonly PostText[]): SQL[] {
  const mentioned = posts.flatMap(({ seq, message }) => mentionedNames(message).map((name) => ({ seq, name })));
  if (mentioned.length === 0) return [];
  return [
    sql`
      INSERT INTO post_mentions (user_id, post_id, room, at)
      SELECT u.id, p.id, p.room, p.inserted_at
      FROM json_each(${JSON.stringify(mentioned)}) AS m
      JOIN posts AS p ON p.room = ${room} AND p.seq = m.value ->> '$.seq'
      JOIN users AS u ON lower(u.username) = m.value ->> '$.name'
      WHERE u.id != p.user_id
      ON CONFLICT DO NOTHING`,
  ];
}

export const MENTIONS_DEFAULT_LIMIT = 50;
export const MENTIONS_MAX_LIMIT = 100;

/**
 * Where a page of mentions ends: the last post's `inserted_at` (ms) and D1 row id, as `AT.ID`. Opaque to
 * clients, which only pass back `next_before`; a post's time alone would not do (two posts can share a
 * millisecond), and its number is only unique within its room.
 */
export interface MentionCursor {
  at: number;
  postId: number;
}

const CURSOR_PATTERN = /^(0|[1-9][0-9]{0,15})\.([1-9][0-9]{0,15})$/;

export function parseMentionCursor(raw: string): MentionCursor | null {
  const match = CURSOR_PATTERN.exec(raw);
  if (!match) return null;
  const at = Number(match[1]);
  const postId = Number(match[2]);
  return Number.isSafeInteger(at) && Number.isSafeInteger(postId) ? { at, postId } : null;
}

export function formatMentionCursor(cursor: MentionCursor): string {
  return `${cursor.at}.${cursor.postId}`;
}

export interface MentionsPage {
  mentions: FoundPost[];
  /** Where the next (older) page starts; null when this page holds the oldest. */
  next: MentionCursor | null;
}

/** The posts mentioning `userId` in rooms they can read, newest first, `limit` of them before `before`. */
export async function mentionsOf(
  db: Database,
  userId: number,
  { before, limit }: { before?: MentionCursor | undefined; limit: number },
): Promise<MentionsPage> {
  const older: SQL = before ? sql`AND (m.at, m.post_id) < (${before.at}, ${before.postId})` : sql``;
  // One more than asked for says whether there is a next page.
  const rows = await db.all<FoundRow & { post_id: number; at: number }>(sql`
    SELECT ${foundColumns(userId)}, m.post_id AS post_id, m.at AS at
    FROM post_mentions AS m
    JOIN posts AS p ON p.id = m.post_id
    ${FOUND_JOINS}
    WHERE m.user_id = ${userId} ${older} AND ${readableBy(userId, sql`m.room`)}
    ORDER BY m.at DESC, m.post_id DESC
    LIMIT ${limit + 1}`);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    mentions: page.map(toFoundPost),
    next: rows.length > limit && last ? { at: last.at, postId: last.post_id } : null,
  };
}

/** The top bar shows at most this many ("99+" above 99): counting further would only cost time. */
export const UNSEEN_MENTIONS_CAP = 100;

/**
 * How many posts mentioning `userId`, in rooms they can read, reached D1 after they last opened their
 * mentions page (up to {@link UNSEEN_MENTIONS_CAP}). One query, reading where they left off itself.
 */
export async function unseenMentionCount(db: Database, userId: number): Promise<number> {
  const [row] = await db.all<{ count: number }>(sql`
    SELECT count(*) AS count FROM (
      SELECT 1 FROM post_mentions AS m
      WHERE m.user_id = ${userId}
        AND m.post_id > (SELECT mentions_seen_through FROM users WHERE id = ${userId})
        AND ${readableBy(userId, sql`m.room`)}
      LIMIT ${UNSEEN_MENTIONS_CAP})`);
  return row?.count ?? 0;
}

/**
 * Opening the mentions page: everything in D1 now counts as seen, then the newest page is read. In that
 * order, a mention that reaches D1 meanwhile is shown, or counted as new afterwards, or both; never neither.
 */
export async function openMentions(db: Database, userId: number, limit: number): Promise<MentionsPage> {
  await db.run(sql`
    UPDATE users SET mentions_seen_through = max(mentions_seen_through, (SELECT coalesce(max(id), 0) FROM posts))
    WHERE id = ${userId}`);
  return mentionsOf(db, userId, { limit });
}
