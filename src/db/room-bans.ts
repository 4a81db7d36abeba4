/**
 * Bans in D1: the mirror of each room's bans (the room decides; room/moderation.ts), for what reads D1
 * rather than the room: search and mentions leave out rooms a user is banned from.
 */
import { and, eq, inArray } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Database } from "./client";
import { roomBans } from "./schema";

export interface MirroredBan {
  /** Milliseconds since the epoch. */
  bannedAt: number;
  bannedBy: number;
}

/** Makes D1 say what the room says of these users: banned (since when, by whom) or not (null). One batch. */
export async function mirrorBans(
  db: Database,
  room: string,
  bans: ReadonlyArray<{ userId: number; ban: MirroredBan | null }>,
): Promise<void> {
  const lifted = bans.filter(({ ban }) => ban === null).map(({ userId }) => userId);
  const statements: BatchItem<"sqlite">[] = bans.flatMap(({ userId, ban }) =>
    ban
      ? [
          db
            .insert(roomBans)
            .values({ room, userId, bannedAt: new Date(ban.bannedAt), bannedBy: ban.bannedBy })
            .onConflictDoUpdate({
              target: [roomBans.room, roomBans.userId],
              set: { bannedAt: new Date(ban.bannedAt), bannedBy: ban.bannedBy },
            }),
        ]
      : [],
  );
  if (lifted.length > 0) {
    statements.push(db.delete(roomBans).where(and(eq(roomBans.room, room), inArray(roomBans.userId, lifted))));
  }
  const [first, ...rest] = statements;
  if (first) await db.batch([first, ...rest]);
}
