/**
 * The LongPoll session token (what Phoenix signs as `{:v1, endpoint_id, pid, priv_topic}`): it names the
 * user's SocketSession, under an audience of its own, and is bound to its user. The SocketSession, not the
 * token, says whether the session is still live (docs/ways-in.md#longpoll).
 */
import { decodeJwt } from "jose";
import type { TokenSecrets } from "../../auth/secret";
import { LONGPOLL_AUDIENCE, signToken, verifyClaims } from "../../auth/token";

/** A Durable Object id as `DurableObjectId.toString()` writes it. */
const SESSION_ID = /^[0-9a-f]{64}$/;

export interface SessionClaims {
  userId: number;
  /** The user's token generation when the session opened. */
  generation: number;
  /** The SocketSession's id, hex. */
  sessionId: string;
}

/**
 * Signed like every pyre token (auth/token.ts). It expires when the socket token it was opened with does
 * (`expiresAt`), so a session cannot outlive its grant; a session nobody polls ends long before.
 */
export async function signSessionToken(
  claims: SessionClaims,
  secrets: TokenSecrets,
  expiresAt: Date,
  now = new Date(),
): Promise<string> {
  return signToken({ gen: claims.generation, sid: claims.sessionId }, claims.userId, LONGPOLL_AUDIENCE, secrets, {
    issuedAt: Math.floor(now.getTime() / 1000),
    expiresAt: Math.floor(expiresAt.getTime() / 1000),
  });
}

export type SessionTokenResult = ({ ok: true } & SessionClaims) | { ok: false; reason: "expired" | "invalid" };

/** Checks it like every pyre token (auth/token.ts), then its session id. Never throws for a bad token. */
export async function verifySessionToken(
  token: string,
  secrets: TokenSecrets,
  now = new Date(),
): Promise<SessionTokenResult> {
  const claims = await verifyClaims(token, secrets, LONGPOLL_AUDIENCE, now);
  if (!claims.ok) return claims;
  const { sid } = claims.payload;
  if (typeof sid !== "string" || !SESSION_ID.test(sid)) return { ok: false, reason: "invalid" };
  return { ok: true, userId: claims.userId, generation: claims.generation, sessionId: sid };
}

/**
 * Whether a `token` query value claims to be a session token (unverified: it only tells the two kinds of
 * `token` apart, and is verified as what it claims to be). phoenix.js appends the session token as `token`
 * after the socket's own params, which may hold the user's token under the same name.
 */
export function claimsToBeSessionToken(token: string): boolean {
  try {
    const { aud } = decodeJwt(token);
    return aud === LONGPOLL_AUDIENCE || (Array.isArray(aud) && aud.includes(LONGPOLL_AUDIENCE));
  } catch {
    return false;
  }
}
