/**
 * Who is asking, for the JSON endpoints: the logged-in page's session cookie, or any app holding a socket
 * token (`Authorization: Bearer TOKEN`), as history over HTTP has always allowed.
 */
import type { Context } from "hono";
import { SOCKET_AUDIENCE, verifyUserToken } from "../auth/token";
import type { User } from "../db/users";
import type { AppEnv } from "./env";

export async function requestUser(c: Context<AppEnv>): Promise<User | undefined> {
  if (c.var.viewer) return c.var.viewer.user;
  const bearer = /^Bearer (\S+)$/.exec(c.req.header("Authorization") ?? "")?.[1];
  if (bearer === undefined) return undefined;
  const verified = await verifyUserToken(bearer, c.var.secrets, c.var.db, { audience: SOCKET_AUDIENCE });
  return verified.ok ? verified.user : undefined;
}
