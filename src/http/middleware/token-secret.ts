import { createMiddleware } from "hono/factory";
import { HTTPException } from "hono/http-exception";
import { readTokenSecret, TOKEN_SECRET_HELP } from "../../auth/secret";
import { logError } from "../../log";
import type { AppEnv } from "../env";

/**
 * Fails closed: without a usable TOKEN_SECRET no page renders and no socket upgrades, since nothing could
 * be signed or verified safely. The log line tells the operator how to fix it.
 */
export function requireTokenSecret() {
  return createMiddleware<AppEnv>(async (c, next) => {
    const result = readTokenSecret(c.env.TOKEN_SECRET);
    if (!result.ok) {
      logError("TOKEN_SECRET", `is ${result.problem}; refusing to serve. ${TOKEN_SECRET_HELP}`);
      throw new HTTPException(500, {
        message: "This server is not configured: its signing secret is missing. The server log says how to set it.",
      });
    }
    c.set("secret", result.secret);
    await next();
  });
}
