/**
 * What an object remembers of revocations: per user, the token generation below which tokens are revoked
 * (logout, password change). UserSockets refuses slots for older generations with it; a room or a socket
 * session refuses a socket that reaches it after its user's revocation. A memory older than a token's
 * whole lifetime is forgotten: every token it could refuse has expired by then.
 */
import { TOKEN_MAX_AGE_SECONDS } from "../../auth/token";

const PREFIX = "revokedBelow:";

interface Remembered {
  generation: number;
  /** Milliseconds since the epoch, when it was last raised. */
  at: number;
}

/** Tokens of `userId` with a generation below this are revoked (0: none known). */
export function revokedBelow(storage: DurableObjectStorage, userId: number): number {
  return storage.kv.get<Remembered>(`${PREFIX}${userId}`)?.generation ?? 0;
}

/** Whether a token of `userId` of this generation was revoked, as far as this object knows. */
export function isRevoked(storage: DurableObjectStorage, userId: number, generation: number): boolean {
  return generation < revokedBelow(storage, userId);
}

export function rememberRevocation(
  storage: DurableObjectStorage,
  userId: number,
  validFrom: number,
  now = Date.now(),
): void {
  if (validFrom > revokedBelow(storage, userId))
    storage.kv.put(`${PREFIX}${userId}`, { generation: validFrom, at: now });
  const forgetBefore = now - TOKEN_MAX_AGE_SECONDS * 1000;
  for (const [key, remembered] of storage.kv.list<Remembered>({ prefix: PREFIX })) {
    if (remembered.at < forgetBefore) storage.kv.delete(key);
  }
}

/** The users this object remembers a revocation for. */
export function usersWithRevocations(storage: DurableObjectStorage): number[] {
  return [...storage.kv.list<Remembered>({ prefix: PREFIX })].map(([key]) => Number(key.slice(PREFIX.length)));
}
