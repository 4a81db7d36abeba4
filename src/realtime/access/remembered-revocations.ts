/**
 * What an object remembers of revocations: per user, the token generation below which tokens are revoked
 * (logout, password change). UserSockets refuses slots for older generations with it; a room or a socket
 * session refuses a socket that reaches it after its user's revocation. A memory older than a token's
 * whole lifetime is forgotten: every token it could refuse has expired by then.
 *
 * Every admission asks (a room, UserSockets for each slot), so the remembered revocations are read from
 * storage once per wake and kept in memory beside it: only the object itself writes them, here.
 */
import { TOKEN_MAX_AGE_SECONDS } from "../../auth/token";

const PREFIX = "revokedBelow:";

interface Remembered {
  generation: number;
  /** Milliseconds since the epoch, when it was last raised. */
  at: number;
}

/**
 * Each object's remembered revocations by user, read once per wake. Keyed by the storage object, which a
 * woken or re-created instance gets anew.
 */
const memory = new WeakMap<DurableObjectStorage, Map<number, Remembered>>();

function remembered(storage: DurableObjectStorage): Map<number, Remembered> {
  let byUser = memory.get(storage);
  if (byUser === undefined) {
    byUser = new Map();
    for (const [key, value] of storage.kv.list<Remembered>({ prefix: PREFIX })) {
      byUser.set(Number(key.slice(PREFIX.length)), value);
    }
    memory.set(storage, byUser);
  }
  return byUser;
}

/** Tokens of `userId` with a generation below this are revoked (0: none known). */
export function revokedBelow(storage: DurableObjectStorage, userId: number): number {
  return remembered(storage).get(userId)?.generation ?? 0;
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
  const byUser = remembered(storage);
  if (validFrom > revokedBelow(storage, userId)) {
    const raised = { generation: validFrom, at: now };
    storage.kv.put(`${PREFIX}${userId}`, raised);
    byUser.set(userId, raised);
  }
  const forgetBefore = now - TOKEN_MAX_AGE_SECONDS * 1000;
  for (const [user, { at }] of byUser) {
    if (at >= forgetBefore) continue;
    storage.kv.delete(`${PREFIX}${user}`);
    byUser.delete(user);
  }
}

/** The users this object remembers a revocation for. */
export function usersWithRevocations(storage: DurableObjectStorage): number[] {
  return [...remembered(storage).keys()];
}

/** Storage was cleared (`deleteAll`): the next question reads it again. */
export function forgetRevocations(storage: DurableObjectStorage): void {
  memory.delete(storage);
}
