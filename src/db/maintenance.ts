/**
 * What the maintenance cron reads and prunes in D1: users whose sockets UserSockets was not told to end,
 * and the rows of the account limits that have run their course.
 */
import { and, isNull, lt, lte, or, sql } from "drizzle-orm";
import type { Database } from "./client";
import { ipAttempts, loginFailures, users } from "./schema";

/** A lockout count that nobody has added to for this long is forgotten (the lock itself ended long ago). */
export const LOGIN_FAILURES_KEEP_MS = 24 * 60 * 60 * 1000;

/** Users whose latest revocation UserSockets has not confirmed, a batch at a time. */
export function unconfirmedRevocations(db: Database, limit = 100) {
  return db
    .select({ id: users.id, generation: users.tokenGeneration })
    .from(users)
    .where(sql`${users.tokenGeneration} > ${users.socketsRevokedThrough}`)
    .limit(limit);
}

/** UserSockets has been told of `generation` (never moves back). */
export async function markSocketsRevoked(db: Database, userId: number, generation: number): Promise<void> {
  await db
    .update(users)
    .set({ socketsRevokedThrough: sql`max(${users.socketsRevokedThrough}, ${generation})` })
    .where(sql`${users.id} = ${userId}`);
}

/**
 * Deletes what no longer decides anything: per-address windows that have closed (the next attempt starts a
 * fresh one anyway), and lockout counts whose lock has ended and that nobody added to for a day.
 */
export async function pruneAccountLimits(db: Database, now: Date, windowMs: number): Promise<number> {
  const closedWindows = await db
    .delete(ipAttempts)
    .where(lte(ipAttempts.windowStartedAt, new Date(now.getTime() - windowMs)))
    .returning({ ip: ipAttempts.ip });
  const staleCounts = await db
    .delete(loginFailures)
    .where(
      and(
        or(isNull(loginFailures.lockedUntil), lte(loginFailures.lockedUntil, now)),
        lt(loginFailures.updatedAt, new Date(now.getTime() - LOGIN_FAILURES_KEEP_MS)),
      ),
    )
    .returning({ email: loginFailures.email });
  return closedWindows.length + staleCounts.length;
}
