/**
 * Which rooms a person may read, as D1 knows it: every public room, and the private rooms and direct
 * messages they are a member of (`room_members`, mirrored from each room, which decides), but never a room
 * that banned them (`room_bans`, mirrored the same way). Written once, as
 * one SQL condition, for everything that reads posts across rooms (search, mentions): whatever else a room
 * comes to refuse its readers must be added here, and only here.
 */
import { type SQL, type SQLWrapper, sql } from "drizzle-orm";
import { roomBans, roomMembers, rooms } from "./schema";

/**
 * True for a row whose room (`room`, a column or expression holding a room id) `userId` may read (a user's
 * id, or a column holding one).
 */
export function readableBy(userId: number | SQLWrapper, room: SQLWrapper): SQL {
  return sql`EXISTS (
    SELECT 1 FROM ${rooms} AS readable
    WHERE readable.name = ${room}
      AND (readable.kind = 'public'
        OR EXISTS (SELECT 1 FROM ${roomMembers} AS rm WHERE rm.room = readable.name AND rm.user_id = ${userId}))
      AND NOT EXISTS (SELECT 1 FROM ${roomBans} AS rb WHERE rb.room = readable.name AND rb.user_id = ${userId})
  )`;
}
