/**
 * The Hono app: middleware in an order that matters ({@link createApp}), the routes, and the error pages
 * (JSON for LongPoll, plain text for the socket endpoint, HTML for pages).
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { logError } from "../log";
import { ErrorPage } from "../views/error";
import { render } from "../views/render";
import type { AppEnv } from "./env";
import { requireConfig } from "./middleware/config";
import { csrfProtection } from "./middleware/csrf";
import { database } from "./middleware/database";
import { formBodyLimit } from "./middleware/form-limit";
import { securityHeaders } from "./middleware/security-headers";
import { session } from "./middleware/session";
import { requireTokenSecret } from "./middleware/token-secret";
import { accountPageRoutes } from "./routes/account";
import { accountRoutes } from "./routes/accounts";
import { mentionsRoutes } from "./routes/mentions";
import { pageRoutes } from "./routes/pages";
import { roomPageRoutes } from "./routes/room-pages";
import { roomPostsRoutes } from "./routes/room-posts";
import { roomsApiRoutes } from "./routes/rooms-api";
import { searchRoutes } from "./routes/search";
import { LONGPOLL_PATH, longPollRoutes } from "./ways-in/longpoll";
import { SOCKET_PATH, socketRoutes } from "./ways-in/websocket";

/**
 * Order matters:
 * 1. every request needs the token secret and valid vars (both fail closed) and a database handle;
 * 2. the socket endpoint and LongPoll answer before any page middleware, so nothing rewrites a 101
 *    response (and LongPoll's POSTs, which carry tokens rather than cookies, are not forms);
 * 3. everything else gets security headers and the session; search and mentions (GET only) come next,
 *    then the rooms API (JSON), with its own guard against other sites and its own body limit;
 * 4. pages get CSRF protection and a form size limit (both only act on POSTs), then account and page routes.
 */
export function createApp() {
  const app = new Hono<AppEnv>();
  app.use("*", requireTokenSecret(), requireConfig(), database());
  app.route("/", socketRoutes);
  app.route("/", longPollRoutes);
  app.use("*", securityHeaders(), session());
  // Search and mentions (GET only, JSON for apps and pages for people) check who asks themselves.
  app.route("/", searchRoutes);
  app.route("/", mentionsRoutes);
  // JSON for apps and pages: it guards itself against other sites (JSON only, allowed Origins).
  app.route("/", roomsApiRoutes);
  app.use("*", csrfProtection(), formBodyLimit());
  app.route("/", accountRoutes);
  app.route("/", roomPostsRoutes);
  app.route("/", accountPageRoutes);
  app.route("/", roomPageRoutes);
  app.route("/", pageRoutes);

  app.notFound((c) =>
    render(
      c,
      <ErrorPage status={404} message="There is no page at this address." viewer={c.var.viewer ?? null} />,
      404,
    ),
  );

  app.onError((error, c) => {
    if (c.req.path === LONGPOLL_PATH) {
      // phoenix.js reads JSON: `{status: 500}` makes it retry, where an HTML page would leave it guessing.
      if (!(error instanceof HTTPException)) logError(`${c.req.method} ${c.req.path}`, error);
      return c.json({ status: 500, error: "Please try again in a moment." }, 500, { "Cache-Control": "no-store" });
    }
    if (error instanceof HTTPException) {
      if (error.res) return error.res;
      if (c.req.path === SOCKET_PATH) return c.text(error.message, error.status);
      return render(
        c,
        <ErrorPage status={error.status} message={error.message} viewer={c.var.viewer ?? null} />,
        error.status,
      );
    }
    logError(`${c.req.method} ${c.req.path}`, error);
    const message = "Please try again in a moment.";
    if (c.req.path === SOCKET_PATH) return c.text(message, 500);
    return render(c, <ErrorPage status={500} message={message} viewer={c.var.viewer ?? null} />, 500);
  });

  return app;
}
