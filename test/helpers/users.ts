/** Users made straight in D1 (through the app's own query code), for tests that are not about signing up. */
import { env } from "cloudflare:workers";
import { hashPassword } from "../../src/auth/password";
import { readTokenSecret, type TokenSecrets } from "../../src/auth/secret";
import { signUserToken, type TokenOptions } from "../../src/auth/token";
import { createDatabase } from "../../src/db/client";
import { storePosts } from "../../src/db/posts";
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
 * Stores a post by `author` straight through the app's query code, as the room would. Only for rooms whose
 * Durable Object has not loaded its history yet: the room is the only writer of its posts once it has.
 */
export async function postAs(author: User, room: string, message: string, insertedAt = new Date()): Promise<Post> {
  const [outcome] = await storePosts(db, [
    { room, user: author, tokenGeneration: author.tokenGeneration, message, clientId: null, insertedAt },
  ]);
  if (outcome?.kind !== "stored") throw new Error(`could not store a post by ${author.username}: ${outcome?.kind}`);
  return outcome.post;
}
