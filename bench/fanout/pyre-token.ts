/**
 * Socket tokens for the benchmark's pyre users, signed the way src/auth/token.ts signs them (the bench
 * holds the TOKEN_SECRET it gave `wrangler dev`). The claims are repeated here so the load generator stays
 * a plain Node process (src/auth/token.ts pulls in the database layer); the key id comes from the same
 * module the worker uses. A mismatch shows as every upgrade answering 403.
 */
import { SignJWT } from "jose";
import { keyId } from "../../src/auth/key-id.ts";

const SOCKET_AUDIENCE = "user socket";
const TOKEN_MAX_AGE_SECONDS = 1_209_600;

/** Users the bench inserts directly into D1 (`bench_ID`, targets.ts) start at token generation 0. */
export async function signSocketToken(userId: number, secret: string, tokenGeneration = 0): Promise<string> {
  const issuedAt = Math.floor(Date.now() / 1000);
  return new SignJWT({ gen: tokenGeneration, name: `bench_${userId}` })
    .setProtectedHeader({ alg: "HS256", typ: "JWT", kid: await keyId(secret) })
    .setSubject(String(userId))
    .setAudience(SOCKET_AUDIENCE)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + TOKEN_MAX_AGE_SECONDS)
    .sign(new TextEncoder().encode(secret));
}
