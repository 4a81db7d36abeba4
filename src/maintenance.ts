/**
 * The maintenance cron (`[triggers] crons` in wrangler.toml): finishes revocations that UserSockets could
 * not be told of at logout, so no socket outlives its token's revocation for long, and prunes the rows of
 * the account limits that no longer decide anything.
 */
import { configOf } from "./config";
import { createDatabase } from "./db/client";
import { markSocketsRevoked, pruneAccountLimits, unconfirmedRevocations } from "./db/maintenance";
import { logError } from "./log";
import { revokeUserSockets } from "./realtime/user-sockets/client";

export async function runMaintenance(env: Env, now: Date): Promise<void> {
  const db = createDatabase(env.DB);
  for (const { id, generation } of await unconfirmedRevocations(db)) {
    try {
      await revokeUserSockets(env, id, generation);
      await markSocketsRevoked(db, id, generation);
    } catch (problem) {
      logError(`maintenance: revoke sockets of user ${id}`, problem); // tried again at the next run
    }
  }
  await pruneAccountLimits(db, now, configOf(env).accountLimits.windowMs);
}
