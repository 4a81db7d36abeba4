/** Queries on users: accounts (registerable), logins (authenticatable, lockable, trackable), revocation. */
import { eq, sql } from "drizzle-orm";
import type { Database } from "./client";
import { type UserRow, users } from "./schema";

export type User = UserRow;

export function findUserById(db: Database, id: number): Promise<User | undefined> {
  return db.query.users.findFirst({ where: eq(users.id, id) });
}

export function findUserByEmail(db: Database, email: string): Promise<User | undefined> {
  return db.query.users.findFirst({ where: eq(users.email, normalizeEmail(email)) });
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export type CreateUserResult = { ok: true; user: User } | { ok: false; taken: "username" | "email" };

/**
 * Inserts a user. Uniqueness is decided by the database's unique indexes, not a prior SELECT, so two
 * concurrent registrations of the same name cannot both succeed.
 */
export async function createUser(
  db: Database,
  fields: { username: string; email: string; passwordHash: string },
): Promise<CreateUserResult> {
  const now = new Date();
  try {
    const [user] = await db
      .insert(users)
      .values({ ...fields, email: normalizeEmail(fields.email), createdAt: now, updatedAt: now })
      .returning();
    if (!user) throw new Error("INSERT ... RETURNING gave no row");
    return { ok: true, user };
  } catch (error) {
    const taken = takenField(error);
    if (taken) return { ok: false, taken };
    throw error;
  }
}

/** Maps SQLite's unique-constraint failure to the form field it concerns. */
function takenField(error: unknown): "username" | "email" | undefined {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (!e.message.includes("UNIQUE constraint failed")) continue;
    if (e.message.includes("users_username_lower_unique")) return "username";
    if (e.message.includes("users.email")) return "email";
  }
  return undefined;
}

/**
 * Counts a failed login and, on reaching `maxFailures` in a row, locks the account until `lockUntil`.
 * One UPDATE, so concurrent failures cannot lose a count. A lock that has expired starts a fresh count.
 */
export async function recordFailedLogin(
  db: Database,
  id: number,
  now: Date,
  policy: { maxFailures: number; lockUntil: Date },
): Promise<User | undefined> {
  const expired = sql`${users.lockedUntil} is not null and ${users.lockedUntil} <= ${now.getTime()}`;
  const failures = sql`(case when ${expired} then 0 else ${users.failedLoginCount} end) + 1`;
  const [user] = await db
    .update(users)
    .set({
      failedLoginCount: failures,
      lockedUntil: sql`case when ${failures} >= ${policy.maxFailures} then ${policy.lockUntil.getTime()} else null end`,
      updatedAt: now,
    })
    .where(eq(users.id, id))
    .returning();
  return user;
}

export async function recordSuccessfulLogin(db: Database, id: number, now: Date): Promise<void> {
  await db
    .update(users)
    .set({
      failedLoginCount: 0,
      lockedUntil: null,
      signInCount: sql`${users.signInCount} + 1`,
      lastSignInAt: now,
      updatedAt: now,
    })
    .where(eq(users.id, id));
}

/** The user's current token generation; undefined if the user no longer exists. */
export async function currentTokenGeneration(db: Database, id: number): Promise<number | undefined> {
  const [row] = await db.select({ generation: users.tokenGeneration }).from(users).where(eq(users.id, id));
  return row?.generation;
}

/**
 * Revokes every session cookie and socket token the user holds, in D1; returns the new generation (tokens
 * of any lower one are revoked), or undefined if the user no longer exists. See auth/revocation.ts for
 * the whole of it, live sockets included.
 */
export async function bumpTokenGeneration(db: Database, id: number): Promise<number | undefined> {
  const [row] = await db
    .update(users)
    .set({ tokenGeneration: sql`${users.tokenGeneration} + 1`, updatedAt: new Date() })
    .where(eq(users.id, id))
    .returning({ generation: users.tokenGeneration });
  return row?.generation;
}
