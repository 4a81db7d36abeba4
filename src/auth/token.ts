/**
 * Signed user tokens (Phoenix.Token's role, with jose): HS256 JWTs whose audience namespaces their use, as
 * Phoenix.Token's salt does, so the page's socket token ("user socket") and the session cookie ("user
 * session") never stand in for each other. Claims, kid and key rotation: docs/security.md#tokens.
 */
import { errors, type JWTHeaderParameters, type JWTPayload, jwtVerify, SignJWT } from "jose";
import type { Database } from "../db/client";
import { findUserById, type User } from "../db/users";
import { keyId } from "./key-id";
import type { TokenSecret, TokenSecrets } from "./secret";

export const SOCKET_AUDIENCE = "user socket";
export const SESSION_AUDIENCE = "user session";
/** A LongPoll session's token (http/ways-in/longpoll-token.ts): it names a SocketSession, not a login. */
export const LONGPOLL_AUDIENCE = "user longpoll";
export type TokenAudience = typeof SOCKET_AUDIENCE | typeof SESSION_AUDIENCE | typeof LONGPOLL_AUDIENCE;

/** Two weeks: the seed's `max_age: 1209600`. */
export const TOKEN_MAX_AGE_SECONDS = 1_209_600;

const ALGORITHM = "HS256";

export interface TokenOptions {
  audience?: TokenAudience;
  /** The signing or verifying clock; tests move it to make tokens expire. */
  now?: Date;
}

export { keyId };

/**
 * A user's token: the page's socket token, or (audience "user session") the session cookie's. `gen` is the
 * user's token generation, so moving it on in D1 (logout, password change) revokes every token signed before.
 * A socket token also carries the username (`name`; usernames never change), so a socket is admitted
 * without a D1 read: the generation is checked by UserSockets at the slot (docs/security.md#revocation).
 */
export async function signUserToken(
  user: Pick<User, "id" | "tokenGeneration"> & Partial<Pick<User, "username">>,
  secrets: TokenSecrets,
  { audience = SOCKET_AUDIENCE, now = new Date() }: TokenOptions = {},
): Promise<string> {
  const issuedAt = Math.floor(now.getTime() / 1000);
  const claims: JWTPayload = { gen: user.tokenGeneration };
  if (audience === SOCKET_AUDIENCE && user.username !== undefined) claims.name = user.username;
  return signToken(claims, user.id, audience, secrets, {
    issuedAt,
    expiresAt: issuedAt + TOKEN_MAX_AGE_SECONDS,
  });
}

/**
 * Signs a pyre token of any audience the one way every verifier expects: HS256 under the current secret,
 * its kid in the header, `sub` the user id. Times are in seconds since the epoch.
 */
export async function signToken(
  claims: JWTPayload,
  userId: number,
  audience: TokenAudience,
  secrets: TokenSecrets,
  { issuedAt, expiresAt }: { issuedAt: number; expiresAt: number },
): Promise<string> {
  const secret = secrets.current;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: ALGORITHM, typ: "JWT", kid: await keyId(secret) })
    .setSubject(String(userId))
    .setAudience(audience)
    .setIssuedAt(issuedAt)
    .setExpirationTime(expiresAt)
    .sign(await hmacKey(secret));
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
  secrets: TokenSecrets,
  db: Database,
  { audience = SOCKET_AUDIENCE, now = new Date() }: TokenOptions = {},
): Promise<TokenVerification> {
  const claims = await verifyClaims(token, secrets, audience, now);
  if (!claims.ok) return claims;
  return currentHolder(db, claims);
}

/** The user verified claims name, if they still exist and the claims' generation is still current (D1). */
export async function currentHolder(
  db: Database,
  claims: Extract<ClaimsResult, { ok: true }>,
): Promise<TokenVerification> {
  const user = await findUserById(db, claims.userId);
  if (!user || user.tokenGeneration !== claims.generation) return { ok: false, reason: "revoked" };
  return { ok: true, user, expiresAt: claims.expiresAt };
}

/** The username a socket token carries; undefined for one signed before tokens carried it. */
export function usernameClaim(payload: JWTPayload): string | undefined {
  return typeof payload.name === "string" && payload.name !== "" ? payload.name : undefined;
}

export type ClaimsResult =
  | { ok: true; userId: number; generation: number; expiresAt: Date; payload: JWTPayload }
  | { ok: false; reason: "expired" | "invalid" };

/**
 * The token's own checks (signature, algorithm, kid, audience, expiry, age, and the `sub` and `gen` claims'
 * shapes), without asking D1 whether the generation is still current: for a caller that only needs to
 * know whose token it is, and for tokens of other audiences (whose own claims are in `payload`).
 */
export async function verifyClaims(
  token: string,
  secrets: TokenSecrets,
  audience: TokenAudience,
  now: Date,
): Promise<ClaimsResult> {
  try {
    const { payload } = await jwtVerify(token, (header) => keyNamedBy(header, secrets), {
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
    return { ok: true, userId, generation, expiresAt: new Date((payload.exp as number) * 1000), payload };
  } catch (error) {
    if (error instanceof errors.JWTExpired) return { ok: false, reason: "expired" };
    if (error instanceof errors.JOSEError || error instanceof TypeError) return { ok: false, reason: "invalid" };
    throw error;
  }
}

/** The secret the token's kid names; a missing or unknown kid fails like a bad signature. */
async function keyNamedBy(header: JWTHeaderParameters, secrets: TokenSecrets): Promise<CryptoKey> {
  if (typeof header.kid === "string") {
    for (const secret of [secrets.current, secrets.previous]) {
      if (secret !== undefined && header.kid === (await keyId(secret))) return hmacKey(secret);
    }
  }
  throw new errors.JWKSNoMatchingKey("the token's kid names no key this server holds");
}

/**
 * Each secret's HMAC key, imported once per secret value (a Worker sees one or two), as its kid is: importing
 * it for every token was a measurable part of every socket's connect.
 */
const hmacKeys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: TokenSecret): Promise<CryptoKey> {
  let key = hmacKeys.get(secret);
  if (key === undefined) {
    key = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
      "verify",
    ]);
    hmacKeys.set(secret, key);
    key.catch(() => hmacKeys.delete(secret));
  }
  return key;
}
