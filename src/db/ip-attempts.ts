/** Counting attempts per client address for the abuse limits (see http/attempt-limit.ts). */
import { sql } from "drizzle-orm";
import type { Database } from "./client";
import { ipAttempts } from "./schema";

export type LimitedAction = (typeof ipAttempts.action.enumValues)[number];

export interface AttemptCount {
  /** This attempt included. */
  attempts: number;
  windowStartedAt: Date;
}

/**
 * Counts one attempt in one INSERT ... ON CONFLICT DO UPDATE, so concurrent attempts cannot lose a count.
 * Fixed window, not sliding: it opens at the first attempt after the previous one closed and lasts
 * `windowMs`, so at most `limit` attempts pass per window (up to twice that across a window's edge).
 * Refused attempts are counted too; they cannot stretch the window.
 */
export async function countIpAttempt(
  db: Database,
  action: LimitedAction,
  ip: string,
  now: Date,
  windowMs: number,
): Promise<AttemptCount> {
  // In the update, column names are the stored row: a window that has closed starts again at this attempt.
  const closed = sql`${ipAttempts.windowStartedAt} <= ${now.getTime() - windowMs}`;
  const [row] = await db
    .insert(ipAttempts)
    .values({ action, ip, windowStartedAt: now, attempts: 1 })
    .onConflictDoUpdate({
      target: [ipAttempts.action, ipAttempts.ip],
      set: {
        attempts: sql`case when ${closed} then 1 else ${ipAttempts.attempts} + 1 end`,
        windowStartedAt: sql`case when ${closed} then ${now.getTime()} else ${ipAttempts.windowStartedAt} end`,
      },
    })
    .returning({ attempts: ipAttempts.attempts, windowStartedAt: ipAttempts.windowStartedAt });
  if (!row) throw new Error("INSERT ... ON CONFLICT DO UPDATE ... RETURNING gave no row");
  return row;
}
