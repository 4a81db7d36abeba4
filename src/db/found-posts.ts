/**
 * A post found across rooms (by search, or as a mention) with what a page needs to name its room: one
 * select list and one mapping, shared by src/db/search.ts and src/db/mentions.ts. Queries alias the post
 * `p`, its author `a` and its room `r`.
 */
import { type SQL, sql } from "drizzle-orm";
import type { Post } from "../shared/post";
import type { RoomKind } from "./rooms";

export interface FoundRoom {
  id: string;
  kind: RoomKind;
  /** A private room's title (or a public room's, when it has one). */
  title: string | null;
  /** A direct message's other person, as the viewer sees it. */
  partner: { username: string } | null;
}

export interface FoundPost {
  room: FoundRoom;
  post: Post;
}

/** What {@link foundColumns} selects. */
export interface FoundRow {
  room: string;
  seq: number;
  message: string;
  inserted_at: number;
  author_id: number;
  author: string;
  kind: RoomKind;
  title: string | null;
  partner: string | null;
}

/**
 * The columns of a {@link FoundRow}, from `posts p JOIN users a ON a.id = p.user_id JOIN rooms r ON r.name =
 * p.room`. A direct message's partner is whichever of its pair (`dm_pair`, "smaller id:larger id") is not
 * the viewer, so they are named even after they left.
 */
export function foundColumns(viewerId: number): SQL {
  return sql`p.room AS room, p.seq AS seq, p.message AS message, p.inserted_at AS inserted_at,
    a.id AS author_id, a.username AS author, r.kind AS kind, r.title AS title,
    (SELECT du.username FROM users AS du
      WHERE du.id != ${viewerId}
        AND du.id IN (CAST(substr(r.dm_pair, 1, instr(r.dm_pair, ':') - 1) AS INTEGER),
                      CAST(substr(r.dm_pair, instr(r.dm_pair, ':') + 1) AS INTEGER))) AS partner`;
}

/** The joins {@link foundColumns} reads from, after `FROM` a table that yields `p` (or joins it). */
export const FOUND_JOINS = sql`JOIN users AS a ON a.id = p.user_id JOIN rooms AS r ON r.name = p.room`;

export function toFoundPost(row: FoundRow): FoundPost {
  return {
    room: { id: row.room, kind: row.kind, title: row.title, partner: row.partner ? { username: row.partner } : null },
    post: {
      id: row.seq,
      message: row.message,
      inserted_at: new Date(row.inserted_at).toISOString(),
      user: { id: row.author_id, username: row.author },
    },
  };
}
