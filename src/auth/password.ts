/**
 * Password hashing with PBKDF2-SHA256 through WebCrypto, the only slow KDF the Workers runtime offers
 * natively.
 *
 * Stored form: `pbkdf2-sha256$<iterations>$<salt, base64>$<hash, base64>`, so the iteration count can be
 * raised later without breaking existing hashes.
 */
import { decodeBase64, encodeBase64 } from "./base64";

/**
 * The most the Workers runtime allows: production refuses PBKDF2 above 100,000 iterations with
 * NotSupportedError (cloudflare/workerd#1346). Local workerd does not enforce that cap, so nothing in
 * `wrangler dev` or the tests would notice a higher value breaking every login in production.
 */
export const PBKDF2_ITERATIONS = 100_000;
const SALT_BYTES = 16;
const HASH_BITS = 256;
const SCHEME = "pbkdf2-sha256";

export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = await derive(password, salt, PBKDF2_ITERATIONS);
  return [SCHEME, PBKDF2_ITERATIONS, encodeBase64(salt), encodeBase64(hash)].join("$");
}

/** Compares in constant time; a malformed stored value never matches. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split("$");
  const [scheme, iterationsText, saltText, hashText] = parts;
  const iterations = Number(iterationsText);
  // Above the cap production would throw; below it never happens unless a hash was tampered with.
  if (parts.length !== 4 || scheme !== SCHEME || !Number.isInteger(iterations)) return false;
  if (iterations < 1 || iterations > PBKDF2_ITERATIONS) return false;
  const salt = decodeBase64(saltText ?? "");
  const expected = decodeBase64(hashText ?? "");
  if (!salt || !expected) return false;
  const actual = await derive(password, salt, iterations);
  return expected.byteLength === actual.byteLength && crypto.subtle.timingSafeEqual(expected, actual);
}

/**
 * Spends the same time as checking a real password, for logins with an unknown email, so response times
 * do not tell which emails have accounts.
 */
export async function verifyAgainstNothing(password: string): Promise<false> {
  await derive(password, new Uint8Array(SALT_BYTES), PBKDF2_ITERATIONS);
  return false;
}

async function derive(password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, HASH_BITS);
  return new Uint8Array(bits);
}
