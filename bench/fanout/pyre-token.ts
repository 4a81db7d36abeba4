/**
 * Socket tokens for the benchmark's pyre users, signed the way src/auth/token.ts signs them (the bench
 * holds the TOKEN_SECRET it gave `wrangler dev`). This mirrors that file rather than importing it, so
 * the load generator stays a plain Node process; if the signing there changes (claims, a `kid` header),
 * change this one function to match. A mismatch shows as every upgrade answering 403.
 */
import { SignJWT } from "jose";

const SOCKET_AUDIENCE = "user socket";
const TOKEN_MAX_AGE_SECONDS = 1_209_600;

/** Users the bench inserts directly into D1 start at token generation 0. */
export function signSocketToken(userId: number, secret: string, tokenGeneration = 0): Promise<string> {
  const issuedAt = Math.floor(Date.now() / 1000);
  return new SignJWT({ gen: tokenGeneration })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(String(userId))
    .setAudience(SOCKET_AUDIENCE)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + TOKEN_MAX_AGE_SECONDS)
    .sign(new TextEncoder().encode(secret));
}
