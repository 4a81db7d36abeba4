/**
 * Who holds a socket and on what terms, as the worker verified them: the identity types every Durable
 * Object admits a socket on, and their checks for values read back from headers and attachments.
 */

/** The user a verified token names. */
export interface Identity {
  id: number;
  username: string;
}

/** What the verified token granted: revoked when the user's generation moves on, over at `expiresAt`. */
export interface TokenGrant {
  generation: number;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

/** The one sentence every way in answers a revoked token with, whoever notices it. */
export const TOKEN_REVOKED = "Token revoked: reload the page to get a fresh one.";

export function isIdentity(value: unknown): value is Identity {
  const identity = value as Partial<Identity> | null;
  return typeof identity?.id === "number" && typeof identity.username === "string";
}

export function isTokenGrant(value: unknown): value is TokenGrant {
  const grant = value as Partial<TokenGrant> | null;
  return typeof grant?.generation === "number" && typeof grant.expiresAt === "number";
}
