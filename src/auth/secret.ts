/**
 * The secrets that sign socket tokens and session cookies: TOKEN_SECRET, and during a key rotation
 * TOKEN_SECRET_PREVIOUS, which only verifies. No fallback value: a missing or short one fails closed
 * (http/middleware/token-secret.ts; docs/security.md#fail-closed).
 */
export const TOKEN_SECRET_MIN_LENGTH = 32;

export type SecretName = "TOKEN_SECRET" | "TOKEN_SECRET_PREVIOUS";

export const TOKEN_SECRET_HELP: Record<SecretName, string> = {
  TOKEN_SECRET:
    "Set TOKEN_SECRET to a random string of at least 32 characters: `npx wrangler secret put TOKEN_SECRET` " +
    "in production, or TOKEN_SECRET=... in .dev.vars locally (`npm run dev` creates one when it is missing).",
  TOKEN_SECRET_PREVIOUS:
    "TOKEN_SECRET_PREVIOUS holds the secret that TOKEN_SECRET replaced, so its tokens verify until they expire: " +
    "it must be at least 32 characters too, or be removed (`npx wrangler secret delete TOKEN_SECRET_PREVIOUS`).",
};

/** A secret that passed {@link readTokenSecret}; only such a value can sign or verify. */
export type TokenSecret = string & { readonly __brand: "TokenSecret" };

/** New tokens are signed with `current`; a token verifies under whichever of the two its key id names. */
export interface TokenSecrets {
  current: TokenSecret;
  previous?: TokenSecret | undefined;
}

export type TokenSecretResult = { ok: true; secret: TokenSecret } | { ok: false; problem: "missing" | "too short" };

export function readTokenSecret(value: string | undefined): TokenSecretResult {
  if (value === undefined || value === "") return { ok: false, problem: "missing" };
  if (value.length < TOKEN_SECRET_MIN_LENGTH) return { ok: false, problem: "too short" };
  return { ok: true, secret: value as TokenSecret };
}

export type TokenSecretsResult =
  | { ok: true; secrets: TokenSecrets }
  | { ok: false; name: SecretName; problem: "missing" | "too short" };

/** TOKEN_SECRET is required; TOKEN_SECRET_PREVIOUS is optional (unset or empty), but checked when set. */
export function readTokenSecrets(current: string | undefined, previous: string | undefined): TokenSecretsResult {
  const signing = readTokenSecret(current);
  if (!signing.ok) return { ok: false, name: "TOKEN_SECRET", problem: signing.problem };
  if (previous === undefined || previous === "") return { ok: true, secrets: { current: signing.secret } };
  const verifying = readTokenSecret(previous);
  if (!verifying.ok) return { ok: false, name: "TOKEN_SECRET_PREVIOUS", problem: verifying.problem };
  return { ok: true, secrets: { current: signing.secret, previous: verifying.secret } };
}
