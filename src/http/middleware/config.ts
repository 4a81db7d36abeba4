import { createMiddleware } from "hono/factory";
import { HTTPException } from "hono/http-exception";
import { readConfig } from "../../config";
import { logError } from "../../log";
import type { AppEnv } from "../env";

/**
 * Fails closed, like a missing TOKEN_SECRET: with a var that does not parse, no page renders and no socket
 * upgrades, and the log line names the var and the bad value so the operator can fix it.
 */
export function requireConfig() {
  return createMiddleware<AppEnv>(async (c, next) => {
    const result = readConfig(c.env);
    if (!result.ok) {
      logError("configuration", `${result.problem}; refusing to serve until it is fixed.`);
      throw new HTTPException(500, {
        message: "This server is not configured correctly. The server log says which setting to fix.",
      });
    }
    c.set("config", result.config);
    await next();
  });
}
