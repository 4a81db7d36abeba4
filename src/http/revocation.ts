/**
 * The one place a user's sessions are revoked: logging out and changing the password both come here.
 * Bumping the token generation makes every session cookie and socket token the user holds stop verifying
 * (each carries the generation it was signed under); rooms re-check it on every join and post.
 */
import type { Context } from "hono";
import { bumpTokenGeneration, type User } from "../db/users";
import type { AppEnv } from "./env";

/**
 * Revokes every session and socket token of `user`, in every browser and app. Returns the user as they
 * now are (the new generation), for a caller that starts a fresh session; undefined if the user is gone.
 */
export async function revokeEverySession(c: Context<AppEnv>, user: User): Promise<User | undefined> {
  const generation = await bumpTokenGeneration(c.var.db, user.id);
  return generation === undefined ? undefined : { ...user, tokenGeneration: generation };
}
