import { createMiddleware } from "hono/factory";
import { createDatabase } from "../../db/client";
import type { AppEnv } from "../env";

/** Puts a drizzle handle on `c.var.db`. */
export function database() {
  return createMiddleware<AppEnv>(async (c, next) => {
    c.set("db", createDatabase(c.env.DB));
    await next();
  });
}
