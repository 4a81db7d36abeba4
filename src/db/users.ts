/** Queries on users: accounts (registerable), logins (authenticatable, trackable), revocation. */
import { eq, sql } from "drizzle-orm";
import type { Database } from "./client";
import { type UserRow, users } from "./schema";

export type User = UserRow;

export function findUserById(db: Database, id: number): Promise<User | undefined> {
  return db.query.users.findFirst({ where: eq(users.id, id) });
}

/** Usernames are unique regardless of case, and found that way: `@Bob` is `@bob`. */
export async function findUserByUsername(db: Database, username: string): Promise<User | undefined> {
  const [user] = await db.select().from(users).where(sql`lower(${users.username}) = lower(${username})`).limit(1);
  return user;
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

/** Trackable: one more sign-in, and when. (The lockout's count is in login-failures.ts.) */
export async function recordSuccessfulLogin(db: Database, id: number, now: Date): Promise<void> {
  await db
    .update(users)
    .set({
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
 * of any lower one are revoked), or undefined if the user no longer exists. Call it through
 * auth/end-sessions.ts, which also ends the user's live sockets.
 */
export async function bumpTokenGeneration(db: Database, id: number): Promise<number | undefined> {
  const [row] = await db
    .update(users)
    .set({ tokenGeneration: sql`${users.tokenGeneration} + 1`, updatedAt: new Date() })
    .where(eq(users.id, id))
    .returning({ generation: users.tokenGeneration });
  return row?.generation;
}

export async function setPasswordHash(db: Database, id: number, passwordHash: string, now: Date): Promise<void> {
  await db.update(users).set({ passwordHash, updatedAt: now }).where(eq(users.id, id));
}
