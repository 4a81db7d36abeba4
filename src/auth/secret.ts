/**
 * The one secret pyre needs: TOKEN_SECRET signs socket tokens and session cookies.
 *
 * There is no fallback value anywhere: a missing or short secret makes every page and socket upgrade
 * fail closed (see http/middleware/token-secret.ts), because a guessable key would let anyone forge a
 * login.
 */
export const TOKEN_SECRET_MIN_LENGTH = 32;

export const TOKEN_SECRET_HELP =
  "Set TOKEN_SECRET to a random string of at least 32 characters: `npx wrangler secret put TOKEN_SECRET` " +
  "in production, or TOKEN_SECRET=... in .dev.vars locally (`npm run dev` creates one when it is missing).";

/** A TOKEN_SECRET that passed {@link readTokenSecret}; only such a value can sign or verify. */
export type TokenSecret = string & { readonly __brand: "TokenSecret" };

export type TokenSecretResult = { ok: true; secret: TokenSecret } | { ok: false; problem: "missing" | "too short" };

export function readTokenSecret(value: string | undefined): TokenSecretResult {
  if (value === undefined || value === "") return { ok: false, problem: "missing" };
  if (value.length < TOKEN_SECRET_MIN_LENGTH) return { ok: false, problem: "too short" };
  return { ok: true, secret: value as TokenSecret };
}
