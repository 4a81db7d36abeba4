import { createMiddleware } from "hono/factory";
import { HTTPException } from "hono/http-exception";
import { readTokenSecrets, TOKEN_SECRET_HELP } from "../../auth/secret";
import { logError } from "../../log";
import type { AppEnv } from "../env";

/**
 * Fails closed: without a usable TOKEN_SECRET (and, when it is set, a usable TOKEN_SECRET_PREVIOUS) no
 * page renders and no socket upgrades, since nothing could be signed or verified safely. The log line
 * tells the operator how to fix it.
 */
export function requireTokenSecret() {
  return createMiddleware<AppEnv>(async (c, next) => {
    const result = readTokenSecrets(c.env.TOKEN_SECRET, c.env.TOKEN_SECRET_PREVIOUS);
    if (!result.ok) {
      logError(result.name, `is ${result.problem}; refusing to serve. ${TOKEN_SECRET_HELP[result.name]}`);
      throw new HTTPException(500, {
        message:
          result.name === "TOKEN_SECRET"
            ? "This server is not configured: its signing secret is missing. The server log says how to set it."
            : "This server is not configured: its previous signing secret is unusable. The server log says how to fix it.",
      });
    }
    c.set("secrets", result.secrets);
    await next();
  });
}
