import type { Context } from "hono";
import { csrf } from "hono/csrf";
import { createMiddleware } from "hono/factory";
import { HTTPException } from "hono/http-exception";
import type { AppEnv } from "../env";
import { isAllowedOrigin } from "../origin";

/**
 * Refuses form posts that come from another site: Hono's csrf middleware (a same-origin `Sec-Fetch-Site`
 * or an allowed `Origin` is required) with pyre's origin policy, answering with a message a person can
 * act on instead of a bare "Forbidden".
 */
export function csrfProtection() {
  const check = csrf({
    origin: (origin, c: Context<AppEnv>) => isAllowedOrigin(origin, c.req.url, c.var.config.allowedOrigins),
  });
  return createMiddleware<AppEnv>(async (c, next) => {
    let passed = false;
    try {
      await check(c, async () => {
        passed = true;
        await next();
      });
    } catch (problem) {
      if (!passed && problem instanceof HTTPException && problem.status === 403) {
        throw new HTTPException(403, {
          message: "This form was submitted from another site, so it was refused. Open the page on pyre and try again.",
        });
      }
      throw problem;
    }
  });
}
