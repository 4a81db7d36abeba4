/**
 * Accounts, after the seed's Coherence modules: registerable (sign up), authenticatable (log in with email
 * and password), lockable (5 failures in a row lock the account for 15 minutes) and trackable (sign-in count
 * and time). HTTP-free: routes/accounts.tsx turns these results into pages.
 */
import type { Database } from "../db/client";
import { createUser, findUserByEmail, recordFailedLogin, recordSuccessfulLogin, type User } from "../db/users";
import { codePointLength } from "../shared/text";
import { hashPassword, verifyAgainstNothing, verifyPassword } from "./password";

export const LOCKOUT = { maxFailures: 5, durationMs: 15 * 60 * 1000 } as const;

export const USERNAME_PATTERN = /^[A-Za-z0-9_]{3,24}$/;
export const PASSWORD_MIN_LENGTH = 8;
/** PBKDF2 takes any length, but hashing megabytes on every login attempt is a free denial of service. */
export const PASSWORD_MAX_LENGTH = 256;
const EMAIL_MAX_LENGTH = 254;
const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export type FieldErrors<Field extends string> = Partial<Record<Field, string>>;

export type RegistrationField = "username" | "email" | "password";
export type RegistrationResult = { ok: true; user: User } | { ok: false; errors: FieldErrors<RegistrationField> };

export async function register(db: Database, form: FormFields): Promise<RegistrationResult> {
  const username = text(form.username);
  const email = text(form.email);
  const password = rawText(form.password);
  const errors: FieldErrors<RegistrationField> = {};

  if (username === "") errors.username = "can't be blank";
  else if (!USERNAME_PATTERN.test(username)) errors.username = "must be 3 to 24 letters, digits or underscores";

  if (email === "") errors.email = "can't be blank";
  else if (email.length > EMAIL_MAX_LENGTH || !EMAIL_PATTERN.test(email)) errors.email = "is not a valid email address";

  const passwordProblem = checkPassword(password);
  if (passwordProblem) errors.password = passwordProblem;

  if (Object.keys(errors).length > 0) return { ok: false, errors };

  const created = await createUser(db, { username, email, passwordHash: await hashPassword(password) });
  if (!created.ok) return { ok: false, errors: { [created.taken]: "has already been taken" } };
  return created;
}

export type LoginField = "email" | "password";
export type LoginResult =
  | { ok: true; user: User }
  | { ok: false; reason: "blank"; errors: FieldErrors<LoginField> }
  /** Unknown email and wrong password look the same, so the answer never tells whether an email exists. */
  | { ok: false; reason: "invalid" }
  | { ok: false; reason: "locked"; until: Date };

export async function logIn(db: Database, form: FormFields, now = new Date()): Promise<LoginResult> {
  const email = text(form.email);
  const password = rawText(form.password);
  const errors: FieldErrors<LoginField> = {};
  if (email === "") errors.email = "can't be blank";
  if (password === "") errors.password = "can't be blank";
  if (Object.keys(errors).length > 0) return { ok: false, reason: "blank", errors };

  const user = await findUserByEmail(db, email);
  if (user && isLocked(user, now)) return { ok: false, reason: "locked", until: user.lockedUntil as Date };

  // Unknown email, over-long password and wrong password all cost one PBKDF2 and one failure write, so
  // the response time does not tell whether an account exists.
  const checkable = user !== undefined && codePointLength(password) <= PASSWORD_MAX_LENGTH;
  const matches = checkable
    ? await verifyPassword(password, user.passwordHash)
    : await verifyAgainstNothing(password.slice(0, PASSWORD_MAX_LENGTH));
  if (user && matches) {
    await recordSuccessfulLogin(db, user.id, now);
    return { ok: true, user };
  }
  const updated = await recordFailedLogin(db, user?.id ?? NO_SUCH_USER, now, {
    maxFailures: LOCKOUT.maxFailures,
    lockUntil: new Date(now.getTime() + LOCKOUT.durationMs),
  });
  if (updated && isLocked(updated, now)) return { ok: false, reason: "locked", until: updated.lockedUntil as Date };
  return { ok: false, reason: "invalid" };
}

/** Ids start at 1: the failure write for an unknown email updates no row. */
const NO_SUCH_USER = 0;

function isLocked(user: User, now: Date): boolean {
  return user.lockedUntil !== null && user.lockedUntil.getTime() > now.getTime();
}

function checkPassword(password: string): string | undefined {
  if (password === "") return "can't be blank";
  const length = codePointLength(password);
  if (length < PASSWORD_MIN_LENGTH) return `must be at least ${PASSWORD_MIN_LENGTH} characters`;
  if (length > PASSWORD_MAX_LENGTH) return `must be at most ${PASSWORD_MAX_LENGTH} characters`;
  return undefined;
}

/** A parsed form body: strings, files or lists of them. */
export type FormFields = Record<string, unknown>;

/** A text field, trimmed; anything that is not a single string counts as blank. */
function text(value: unknown): string {
  return typeof value === "string" ? value.trim() : "";
}

/** A password is taken exactly as typed: leading or trailing spaces are part of it. */
function rawText(value: unknown): string {
  return typeof value === "string" ? value : "";
}
