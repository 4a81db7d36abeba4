/**
 * The one place a user's sessions end: logging out and changing the password both come here. The token
 * generation moves on in D1, then every live socket of the user is closed through UserSockets
 * (docs/security.md#revocation).
 */
import type { Database } from "../db/client";
import { markSocketsRevoked } from "../db/maintenance";
import { bumpTokenGeneration, type User } from "../db/users";
import { logError } from "../log";
import { revokeUserSockets } from "../realtime/user-sockets/client";

/**
 * Revokes every session and socket of `user`, in every browser and app. Returns the user as they now are
 * (the new generation), for a caller that starts a fresh session; undefined if the user is gone.
 */
export async function revokeEverySession(env: Env, db: Database, user: User): Promise<User | undefined> {
  const generation = await bumpTokenGeneration(db, user.id);
  if (generation === undefined) return undefined;
  try {
    // Resolves once every room and session holding their sockets has closed them (or, for one that could
    // not be reached, once UserSockets has taken it on to ask again until it answers).
    await revokeUserSockets(env, user.id, generation);
    await markSocketsRevoked(db, user.id, generation);
  } catch (problem) {
    // Every token is revoked in D1 already, so the logout stands: failing it now would leave the person
    // unable to log out again (their session no longer verifies). Their open sockets are closed by the
    // maintenance cron, which finds the revocation unconfirmed (src/maintenance.ts) and tells UserSockets.
    logError("revokeEverySession: closing open sockets (the maintenance cron retries)", problem);
  }
  return { ...user, tokenGeneration: generation };
}
