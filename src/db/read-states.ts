/**
 * Unread and mention counts: for each room a person has a read position in and may read, how many posts
 * after it are not their own and not deleted, and how many of those mention them. One query for any set of
 * people and rooms, so the rooms API, the pages and the `user:ID` topic count the same way: the home page's
 * 200 rooms are one round trip, not one per room. Counts stop at {@link COUNT_CAP}: "99+" needs no more.
 */
import { type SQL, sql } from "drizzle-orm";
import { SHOWN_COUNT_CAP } from "../shared/counts";
import type { Database } from "./client";
import { readableBy } from "./readable";

/** What the sidebar shows of one room for one person; `user_id` says whose, when asked for several. */
export interface ReadState {
  room: string;
  user_id: number;
  /** The id of the last post they have read (0: none). */
  last_read_id: number;
  /** Posts after it by others, not deleted; at most {@link COUNT_CAP}. */
  unread: number;
  /** Those of them that mention them; at most {@link COUNT_CAP}. */
  mentions: number;
}

/** A count at this value means "this many or more": 100 tells "99+" from 99. */
export const COUNT_CAP = SHOWN_COUNT_CAP;

/** What is shown of one room beside its name: its unread posts and mentions (each at most {@link COUNT_CAP}). */
export type RoomCounts = Pick<ReadState, "unread" | "mentions">;

/**
 * The read states of `userIds` (at least one), in `rooms` if given (else every room they have a position
 * in), leaving out every room a person may not read (removed from a private room, banned): its counts
 * vanish with their access.
 */
export async function readStates(
  db: Database,
  { userIds, rooms }: { userIds: readonly number[]; rooms?: readonly string[] },
): Promise<ReadState[]> {
  if (userIds.length === 0 || rooms?.length === 0) return [];
  const inRooms: SQL = rooms ? sql`AND rp.room IN (SELECT value FROM json_each(${JSON.stringify(rooms)}))` : sql``;
  return db.all<ReadState>(sql`
    SELECT rp.room AS room, rp.user_id AS user_id, rp.last_read_id AS last_read_id,
      (SELECT count(*) FROM (
        SELECT 1 FROM posts AS p
        WHERE p.room = rp.room AND p.seq > rp.last_read_id AND p.user_id != rp.user_id AND p.deleted_at IS NULL
        LIMIT ${COUNT_CAP})) AS unread,
      (SELECT count(*) FROM (
        SELECT 1 FROM post_mentions AS m JOIN posts AS p ON p.id = m.post_id
        WHERE m.user_id = rp.user_id AND m.room = rp.room AND p.seq > rp.last_read_id AND p.deleted_at IS NULL
        LIMIT ${COUNT_CAP})) AS mentions
    FROM read_positions AS rp
    WHERE rp.user_id IN (SELECT value FROM json_each(${JSON.stringify(userIds)})) ${inRooms}
      AND ${readableBy(sql`rp.user_id`, sql`rp.room`)}
    ORDER BY rp.user_id, rp.room`);
}

/** A read position as a room holds it, on its way to D1. */
export interface ReadPosition {
  userId: number;
  lastReadId: number;
  /** When the room last moved it (ms since the epoch). */
  at: number;
}

/**
 * The statement that writes these read positions of `room` (none when there are none), as the room now has
 * them: the room decides each position (forward with `mark_read`, back with `mark_unread`) and copies them
 * in order, so D1 takes each as it comes. A position of a deleted account is dropped.
 */
export function readPositionStatements(room: string, positions: readonly ReadPosition[]): SQL[] {
  if (positions.length === 0) return [];
  return [
    sql`
      INSERT INTO read_positions (room, user_id, last_read_id, updated_at)
      SELECT ${room}, u.id, r.value ->> '$.lastReadId', r.value ->> '$.at'
      FROM json_each(${JSON.stringify(positions)}) AS r
      JOIN users AS u ON u.id = r.value ->> '$.userId'
      WHERE true
      ON CONFLICT (room, user_id) DO UPDATE SET last_read_id = excluded.last_read_id, updated_at = excluded.updated_at`,
  ];
}

/**
 * Every read position D1 holds in `room`, with its holder's username: what a room from before rooms kept
 * positions takes over, once (src/realtime/room/read-positions.ts).
 */
export function roomReadPositions(
  db: Database,
  room: string,
): Promise<Array<{ userId: number; username: string; lastReadId: number; at: number }>> {
  return db.all(sql`
    SELECT rp.user_id AS userId, u.username AS username, rp.last_read_id AS lastReadId, rp.updated_at AS at
    FROM read_positions AS rp JOIN users AS u ON u.id = rp.user_id
    WHERE rp.room = ${room}`);
}
