/** Users made straight in D1 (through the app's own query code), for tests that are not about signing up. */
import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { expect } from "vitest";
import { hashPassword } from "../../src/auth/password";
import { readTokenSecret, type TokenSecrets } from "../../src/auth/secret";
import { signUserToken, type TokenOptions } from "../../src/auth/token";
import { createDatabase } from "../../src/db/client";
import { copyPosts, lastSeq } from "../../src/db/posts";
import { posts, roomMembers, rooms } from "../../src/db/schema";
import { indexAllPosts } from "../../src/db/search-index";
import { createUser, type User } from "../../src/db/users";
import type { Post } from "../../src/shared/post";

export const db = createDatabase(env.DB);

/** The pool's TOKEN_SECRET, as the worker reads it (no previous secret). */
export function testSecrets(): TokenSecrets {
  const result = readTokenSecret(env.TOKEN_SECRET);
  if (!result.ok) throw new Error("vitest.config.ts must bind a TOKEN_SECRET");
  return { current: result.secret };
}

let passwordHash: Promise<string> | undefined;

export async function makeUser(username: string): Promise<User> {
  passwordHash ??= hashPassword("correct horse battery");
  const created = await createUser(db, {
    username,
    email: `${username.toLowerCase()}@example.com`,
    passwordHash: await passwordHash,
  });
  if (!created.ok) throw new Error(`could not create ${username}: ${created.taken} taken`);
  return created.user;
}

export function tokenFor(user: User, options?: TokenOptions): Promise<string> {
  return signUserToken(user, testSecrets(), options);
}

/**
 * History written straight into D1, numbered after the room's last post: `count` posts ("seed 1", "seed 2",
 * …) or the given messages. Only for rooms whose Durable Object has not woken yet: once awake, a room is
 * the only writer of its posts (it numbers them). Returns the posts' ids (their numbers in the room).
 */
export async function seedPosts(
  author: User,
  room: string,
  messages: number | string[],
  insertedAt = new Date(),
): Promise<number[]> {
  const texts = typeof messages === "number" ? Array.from({ length: messages }, (_, n) => `seed ${n + 1}`) : messages;
  const first = (await lastSeq(db, room)) + 1;
  const rows = texts.map((message, n) => ({ room, seq: first + n, userId: author.id, message, insertedAt }));
  for (let start = 0; start < rows.length; start += 10) await db.insert(posts).values(rows.slice(start, start + 10));
  // Indexed for search, as a room's copy is right after it.
  await indexAllPosts(db);
  return rows.map((row) => row.seq);
}

/**
 * Posts copied to D1 as a room copies its log (mentions included, unlike {@link seedPosts}), numbered from
 * `first`, each a millisecond after the one before.
 */
export async function copiedPosts(room: string, entries: Array<[User, string]>, first: number): Promise<void> {
  await copyPosts(
    db,
    room,
    entries.map(([author, message], n) => ({
      post: {
        id: first + n,
        message,
        inserted_at: new Date(Date.now() + n).toISOString(),
        user: { id: author.id, username: author.username },
      },
      clientId: null,
    })),
  );
}

/**
 * Resolves once the search index holds every post D1 has. Rooms index their posts right after each copy,
 * off the poster's path, so a search just after an `ok` may not find the post yet (docs/search.md).
 */
export async function searchIndexCaughtUp(): Promise<void> {
  const waiting = async () => {
    const [row] = await db.all<{ waiting: number }>(
      sql`SELECT EXISTS (SELECT 1 FROM posts WHERE id > (SELECT through FROM posts_fts_indexed)) AS waiting`,
    );
    return row?.waiting;
  };
  await expect.poll(waiting, { timeout: 5_000, interval: 20 }).toBe(0);
}

/** One post by `author`, written straight into D1 as {@link seedPosts} does; returns it as clients see it. */
export async function postAs(author: User, room: string, message: string, insertedAt = new Date()): Promise<Post> {
  const [id] = await seedPosts(author, room, [message], insertedAt);
  return {
    id: id as number,
    message,
    inserted_at: insertedAt.toISOString(),
    user: { id: author.id, username: author.username },
  };
}

/**
 * Public rooms `owner` opened earlier, written straight into D1 as rooms from before rooms had owners
 * are: each room adopts its row when it is first joined, so joining them counts against nobody's allowance.
 */
export async function seedRooms(owner: User, names: readonly string[]): Promise<void> {
  const at = new Date(Date.now() - 2 * 24 * 60 * 60 * 1000);
  const rows = names.map((name) => ({
    id: name,
    kind: "public" as const,
    ownerId: owner.id,
    createdBy: owner.id,
    createdAt: at,
    postCount: 0,
    lastPostAt: at,
  }));
  for (let start = 0; start < rows.length; start += 10) await db.insert(rooms).values(rows.slice(start, start + 10));
  // As the migration does for such rooms: the owner is a member too.
  const owners = names.map((name) => ({ room: name, userId: owner.id, role: "owner" as const, addedAt: at }));
  for (let start = 0; start < owners.length; start += 10) {
    await db.insert(roomMembers).values(owners.slice(start, start + 10));
  }
}
