/**
 * Sessions: a signed token (audience "user session", see auth/token.ts) in an HttpOnly, SameSite=Lax
 * cookie that is Secure everywhere but loopback hosts, where browsers serve plain http for development.
 *
 * The cookie carries the user's token generation, so logging out (which bumps it) ends this session and
 * every other one of the user's, together with their socket tokens.
 */
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { createMiddleware } from "hono/factory";
import { SESSION_AUDIENCE, signUserToken, TOKEN_MAX_AGE_SECONDS, verifyUserToken } from "../../auth/token";
import { unseenMentionCount } from "../../db/mentions";
import type { User } from "../../db/users";
import type { AppEnv } from "../env";

/** Loads the logged-in user, if any, into `c.var.viewer` with a fresh socket token for the page. */
export function session() {
  return createMiddleware<AppEnv>(async (c, next) => {
    c.set("viewer", null);
    const cookie = sessionCookie(c.req.url);
    const token = getCookie(c, cookie.name);
    if (token !== undefined) {
      const verified = await verifyUserToken(token, c.var.secrets, c.var.db, { audience: SESSION_AUDIENCE });
      if (verified.ok) {
        const user = verified.user;
        let unseen: Promise<number> | undefined;
        c.set("viewer", {
          user,
          socketToken: await signUserToken(user, c.var.secrets),
          unseenMentions: () => {
            unseen ??= unseenMentionCount(c.var.db, user.id);
            return unseen;
          },
        });
      } else {
        deleteCookie(c, cookie.name, cookie.options);
      }
    }
    await next();
    // A page for a logged-in user carries their socket token: no cache may keep it.
    if (c.var.viewer) c.header("Cache-Control", "private, no-store");
  });
}

/**
 * For members-only pages: sends the visitor to log in, and back afterwards: to this page, or to `back`
 * when this request cannot be repeated by a redirect (a form post).
 */
export function redirectToLogin(c: Context<AppEnv>, back?: string) {
  const here = new URL(c.req.url);
  return c.redirect(`/login?next=${encodeURIComponent(back ?? here.pathname + here.search)}`, 303);
}

export async function startSession(c: Context<AppEnv>, user: User): Promise<void> {
  const cookie = sessionCookie(c.req.url);
  const token = await signUserToken(user, c.var.secrets, { audience: SESSION_AUDIENCE });
  setCookie(c, cookie.name, token, { ...cookie.options, maxAge: TOKEN_MAX_AGE_SECONDS });
}

export function endSession(c: Context<AppEnv>): void {
  const cookie = sessionCookie(c.req.url);
  deleteCookie(c, cookie.name, cookie.options);
}

/**
 * Secure cookies get the `__Host-` prefix, which browsers only accept from a secure origin with Path=/ and
 * no Domain: the cookie cannot be planted by a sibling subdomain.
 */
function sessionCookie(requestUrl: string) {
  const secure = !isLoopback(new URL(requestUrl).hostname);
  return {
    name: secure ? "__Host-pyre_session" : "pyre_session",
    options: { path: "/", httpOnly: true, secure, sameSite: "Lax" as const },
  };
}

function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127(\.\d{1,3}){3}$/.test(hostname);
}
