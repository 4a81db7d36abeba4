/**
 * The lockout's state (lockable), per normalised email. A login attempt is claimed before its password is
 * checked: one statement counts it only while the email is unlocked, so parallel guesses cannot all read
 * "unlocked" first and each get a real check.
 */
import { eq, sql } from "drizzle-orm";
import type { Database } from "./client";
import { loginFailures } from "./schema";
import { normalizeEmail } from "./users";

export interface LockoutPolicy {
  /** Failures in a row that lock the email; the attempt that reaches it is still checked. */
  maxFailures: number;
  durationMs: number;
}

export type LoginClaim =
  /** Counted: go on and check the password. `lockedUntil` is set when this attempt completed the count. */
  | { claimed: true; lockedUntil: Date | null }
  /** Not counted, not to be checked: the email is locked. */
  | { claimed: false; lockedUntil: Date };

/**
 * Counts an attempt for `email` unless it is locked, in one INSERT ... ON CONFLICT DO UPDATE ... WHERE:
 * the update (and so the RETURNING row) happens only while the email is unlocked, and sets the lock when
 * the count reaches the limit. A lock that has expired starts a fresh count at this attempt.
 */
export async function claimLoginAttempt(
  db: Database,
  email: string,
  now: Date,
  policy: LockoutPolicy,
): Promise<LoginClaim> {
  const key = normalizeEmail(email);
  const nowMs = now.getTime();
  const lockUntilMs = nowMs + policy.durationMs;
  // In the update, column names are the stored row; only a lock that has expired passes the WHERE.
  const failures = sql`case when ${loginFailures.lockedUntil} is not null then 1 else ${loginFailures.failures} + 1 end`;
  const [claimed] = await db
    .insert(loginFailures)
    .values({
      email: key,
      failures: 1,
      lockedUntil: policy.maxFailures <= 1 ? new Date(lockUntilMs) : null,
      updatedAt: now,
    })
    .onConflictDoUpdate({
      target: loginFailures.email,
      set: {
        failures,
        lockedUntil: sql`case when ${failures} >= ${policy.maxFailures} then ${lockUntilMs} else null end`,
        updatedAt: now,
      },
      setWhere: sql`${loginFailures.lockedUntil} is null or ${loginFailures.lockedUntil} <= ${nowMs}`,
    })
    .returning({ lockedUntil: loginFailures.lockedUntil });
  if (claimed) return { claimed: true, lockedUntil: claimed.lockedUntil };

  const [locked] = await db
    .select({ lockedUntil: loginFailures.lockedUntil })
    .from(loginFailures)
    .where(eq(loginFailures.email, key));
  // The row can vanish between the two statements only if the attempt that locked it then succeeded;
  // this attempt was refused all the same, and "now" says the lock is over.
  return { claimed: false, lockedUntil: locked?.lockedUntil ?? now };
}

/** A successful login: the email's count starts again from nothing. */
export async function clearLoginFailures(db: Database, email: string): Promise<void> {
  await db.delete(loginFailures).where(eq(loginFailures.email, normalizeEmail(email)));
}
