/**
 * The per-address abuse limits on sign-ups and logins. Every attempt is counted before any work on it
 * (before the form is validated or a password hashed), whatever its outcome; an address over its limit
 * is told when it may try again, in words for the form and in a Retry-After header (set here) for programs.
 */
import type { Context } from "hono";
import { countIpAttempt, type LimitedAction } from "../db/ip-attempts";
import { clientAddressKey } from "./client-address";
import type { AppEnv } from "./env";

export type AttemptVerdict = { ok: true } | { ok: false; message: string };

const WHAT: Record<LimitedAction, string> = { register: "sign-up", login: "login" };

export async function countAttempt(
  c: Context<AppEnv>,
  action: LimitedAction,
  now = new Date(),
): Promise<AttemptVerdict> {
  const limits = c.var.config.accountLimits;
  const limit = action === "register" ? limits.registrationsPerIp : limits.loginsPerIp;
  const ip = clientAddressKey(c.req.header("CF-Connecting-IP"));
  const count = await countIpAttempt(c.var.db, action, ip, now, limits.windowMs);
  if (count.attempts <= limit) return { ok: true };
  const windowEndsMs = count.windowStartedAt.getTime() + limits.windowMs;
  const retryAfterSeconds = Math.max(Math.ceil((windowEndsMs - now.getTime()) / 1000), 1);
  const minutes = Math.ceil(retryAfterSeconds / 60);
  c.header("Retry-After", String(retryAfterSeconds));
  return {
    ok: false,
    message:
      `Too many ${WHAT[action]} attempts from your network. ` +
      `Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`,
  };
}
