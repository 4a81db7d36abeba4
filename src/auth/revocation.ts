/**
 * Ending every session of a user (logout, password change): the token generation moves on in D1, which
 * revokes every session cookie and socket token issued before, and then every live socket of theirs is
 * closed, in every room, listeners included (through their UserSockets object), so nobody keeps reading
 * a room after logging out. A reconnect with an old token is refused at the upgrade.
 */
import type { Database } from "../db/client";
import { bumpTokenGeneration } from "../db/users";
import { userSockets } from "../realtime/user-sockets";

export async function revokeTokens(env: Env, db: Database, userId: number): Promise<void> {
  const generation = await bumpTokenGeneration(db, userId);
  if (generation === undefined) return;
  await userSockets(env, userId).revoke(userId, generation);
}
