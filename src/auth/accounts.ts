/**
 * Accounts, after the seed's Coherence modules: registerable (sign up), authenticatable (log in with email
 * and password), lockable (5 failures in a row lock the email address for 15 minutes, whether or not it has
 * an account) and trackable (sign-in count and time). HTTP-free: routes/accounts.tsx turns these results into pages.
 */
import type { Database } from "../db/client";
import { claimLoginAttempt, clearLoginFailures, type LockoutPolicy } from "../db/login-failures";
import { createUser, findUserByEmail, recordSuccessfulLogin, setPasswordHash, type User } from "../db/users";
import { codePointLength } from "../shared/text";
import { hashPassword, verifyAgainstNothing, verifyPassword } from "./password";

export const LOCKOUT: LockoutPolicy = { maxFailures: 5, durationMs: 15 * 60 * 1000 };

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

  const problem = passwordProblem(password);
  if (problem) errors.password = problem;

  if (Object.keys(errors).length > 0) return { ok: false, errors };

  const created = await createUser(db, { username, email, passwordHash: await hashPassword(password) });
  if (!created.ok) return { ok: false, errors: { [created.taken]: "has already been taken" } };
  return created;
}

export type LoginField = "email" | "password";
/** Unknown email and wrong password look the same, locked or not, so no answer tells whether an email exists. */
export type LoginResult = PasswordCheck | { ok: false; reason: "blank"; errors: FieldErrors<LoginField> };

export async function logIn(db: Database, form: FormFields, now = new Date()): Promise<LoginResult> {
  const email = text(form.email);
  const password = rawText(form.password);
  const errors: FieldErrors<LoginField> = {};
  if (email === "") errors.email = "can't be blank";
  if (password === "") errors.password = "can't be blank";
  if (Object.keys(errors).length > 0) return { ok: false, reason: "blank", errors };

  const result = await checkPasswordFor(db, email, password, now);
  if (result.ok) await recordSuccessfulLogin(db, result.user.id, now);
  return result;
}

export type PasswordCheck =
  | { ok: true; user: User }
  | { ok: false; reason: "invalid" }
  | { ok: false; reason: "locked"; until: Date };

/**
 * One counted password check for `email` (lockable): logging in and confirming the current password to
 * change it both go through here, so both count towards the same lock.
 *
 * The attempt is claimed first (counted atomically, and only while the email is unlocked), then checked;
 * a success clears the count. Every path costs one PBKDF2, the locked one included, and the count is kept
 * per email whether or not an account has it, so neither the answer nor its timing tells which emails
 * have accounts.
 */
export async function checkPasswordFor(
  db: Database,
  email: string,
  password: string,
  now = new Date(),
): Promise<PasswordCheck> {
  // No account has an over-long password, so one is never checked; it costs what a normal one does.
  const checkable = codePointLength(password) <= PASSWORD_MAX_LENGTH;
  const costOfACheck = () => verifyAgainstNothing(password.slice(0, PASSWORD_MAX_LENGTH));
  const claim = await claimLoginAttempt(db, email, now, LOCKOUT);
  if (!claim.claimed) {
    await costOfACheck();
    return { ok: false, reason: "locked", until: claim.lockedUntil };
  }
  const user = await findUserByEmail(db, email);
  const matches =
    user !== undefined && checkable ? await verifyPassword(password, user.passwordHash) : await costOfACheck();
  if (user && matches) {
    await clearLoginFailures(db, email);
    return { ok: true, user };
  }
  if (claim.lockedUntil !== null) return { ok: false, reason: "locked", until: claim.lockedUntil };
  return { ok: false, reason: "invalid" };
}

export type PasswordChangeField = "current_password" | "new_password";
export type PasswordChangeResult =
  | { ok: true }
  | { ok: false; reason: "blank or weak"; errors: FieldErrors<PasswordChangeField> }
  | { ok: false; reason: "wrong"; errors: FieldErrors<PasswordChangeField> }
  | { ok: false; reason: "locked"; until: Date };

/**
 * Sets a new password for `user` once the current one is confirmed. The form is checked first, so a
 * too-short new password costs no attempt; the current password is then checked like a login (counted
 * towards the email's lock). Revoking the user's sessions is the caller's part (`revokeEverySession` in
 * auth/end-sessions.ts), after this, so that nothing signed in with the old password outlives the change.
 */
export async function changePassword(
  db: Database,
  user: User,
  form: FormFields,
  now = new Date(),
): Promise<PasswordChangeResult> {
  const current = rawText(form.current_password);
  const next = rawText(form.new_password);
  const errors: FieldErrors<PasswordChangeField> = {};
  if (current === "") errors.current_password = "can't be blank";
  const problem = passwordProblem(next);
  if (problem) errors.new_password = problem;
  if (Object.keys(errors).length > 0) return { ok: false, reason: "blank or weak", errors };

  const check = await checkPasswordFor(db, user.email, current, now);
  if (!check.ok && check.reason === "locked") return check;
  // The email is the user's own, so a match is this user; the id check costs nothing and says so.
  if (!check.ok || check.user.id !== user.id) {
    return { ok: false, reason: "wrong", errors: { current_password: "is wrong" } };
  }
  await setPasswordHash(db, user.id, await hashPassword(next), now);
  return { ok: true };
}

function passwordProblem(password: string): string | undefined {
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
