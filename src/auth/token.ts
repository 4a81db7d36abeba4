/**
 * Signed user tokens (Phoenix.Token's role, with jose): HS256 JWTs whose audience namespaces their use, the
 * way Phoenix.Token's salt does. The same signer makes the socket token the page embeds
 * (`<meta name="user_token">`, audience "user socket") and the session cookie (audience "user session"),
 * so one can never stand in for the other.
 *
 * Claims: `sub` is the user id, `gen` the user's token generation at signing time. Bumping the generation
 * in D1 (logout) revokes every token signed before.
 */
import { errors, jwtVerify, SignJWT } from "jose";
import type { Database } from "../db/client";
import { findUserById, type User } from "../db/users";
import type { TokenSecret } from "./secret";

export const SOCKET_AUDIENCE = "user socket";
export const SESSION_AUDIENCE = "user session";
export type TokenAudience = typeof SOCKET_AUDIENCE | typeof SESSION_AUDIENCE;

/** Two weeks: the seed's `max_age: 1209600`. */
export const TOKEN_MAX_AGE_SECONDS = 1_209_600;

const ALGORITHM = "HS256";

export interface TokenOptions {
  audience?: TokenAudience;
  /** The signing or verifying clock; tests move it to make tokens expire. */
  now?: Date;
}

export function signUserToken(
  user: Pick<User, "id" | "tokenGeneration">,
  secret: TokenSecret,
  { audience = SOCKET_AUDIENCE, now = new Date() }: TokenOptions = {},
): Promise<string> {
  const issuedAt = Math.floor(now.getTime() / 1000);
  return new SignJWT({ gen: user.tokenGeneration })
    .setProtectedHeader({ alg: ALGORITHM, typ: "JWT" })
    .setSubject(String(user.id))
    .setAudience(audience)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + TOKEN_MAX_AGE_SECONDS)
    .sign(keyBytes(secret));
}

export type TokenFailure = "expired" | "invalid" | "revoked";
export type TokenVerification =
  | {
      ok: true;
      user: User;
      /** When the token stops being valid. */
      expiresAt: Date;
    }
  | { ok: false; reason: TokenFailure };

/**
 * Checks signature, algorithm, audience, expiry and age, then that the user still exists and the token's
 * generation is current. Never throws for a bad token; a database failure does throw.
 */
export async function verifyUserToken(
  token: string,
  secret: TokenSecret,
  db: Database,
  { audience = SOCKET_AUDIENCE, now = new Date() }: TokenOptions = {},
): Promise<TokenVerification> {
  const claims = await verifyClaims(token, secret, audience, now);
  if (!claims.ok) return claims;
  const user = await findUserById(db, claims.userId);
  if (!user || user.tokenGeneration !== claims.generation) return { ok: false, reason: "revoked" };
  return { ok: true, user, expiresAt: claims.expiresAt };
}

type ClaimsResult =
  | { ok: true; userId: number; generation: number; expiresAt: Date }
  | { ok: false; reason: TokenFailure };

async function verifyClaims(
  token: string,
  secret: TokenSecret,
  audience: TokenAudience,
  now: Date,
): Promise<ClaimsResult> {
  try {
    const { payload } = await jwtVerify(token, keyBytes(secret), {
      algorithms: [ALGORITHM],
      audience,
      maxTokenAge: TOKEN_MAX_AGE_SECONDS,
      currentDate: now,
      requiredClaims: ["sub", "exp", "gen"],
    });
    const userId = Number(payload.sub);
    const generation = payload.gen;
    if (!Number.isSafeInteger(userId) || userId < 1 || String(userId) !== payload.sub) {
      return { ok: false, reason: "invalid" };
    }
    if (typeof generation !== "number" || !Number.isSafeInteger(generation)) return { ok: false, reason: "invalid" };
    return { ok: true, userId, generation, expiresAt: new Date((payload.exp as number) * 1000) };
  } catch (error) {
    if (error instanceof errors.JWTExpired) return { ok: false, reason: "expired" };
    if (error instanceof errors.JOSEError || error instanceof TypeError) return { ok: false, reason: "invalid" };
    throw error;
  }
}

function keyBytes(secret: TokenSecret): Uint8Array {
  return new TextEncoder().encode(secret);
}
