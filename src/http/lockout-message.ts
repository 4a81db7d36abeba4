import { LOCKOUT } from "../auth/accounts";

/**
 * What a person reads when their email is locked, on the login form and the password change form alike.
 * It speaks of the email, not an account: an unknown email is locked the same way, with the same words.
 */
export function lockedMessage(until: Date, now = new Date()): string {
  const minutes = Math.max(Math.ceil((until.getTime() - now.getTime()) / 60_000), 1);
  return (
    `Too many failed attempts: logging in with this email is locked for ${minutes} more ` +
    `minute${minutes === 1 ? "" : "s"} (${LOCKOUT.maxFailures} wrong passwords in a row lock it for ` +
    `${LOCKOUT.durationMs / 60_000} minutes).`
  );
}
