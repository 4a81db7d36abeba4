/**
 * Your mentions (src/db/mentions.ts): `GET /api/mentions?before=&limit=` for apps (the session cookie or
 * `Authorization: Bearer <socket token>`), `{"posts": [post + its "room"], "next_before"}`, newest first;
 * and the page `/mentions`, whose visit also clears the count in the top bar. Answers: docs/search.md.
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import {
  formatMentionCursor,
  MENTIONS_DEFAULT_LIMIT,
  MENTIONS_MAX_LIMIT,
  type MentionCursor,
  mentionsOf,
  openMentions,
  parseMentionCursor,
} from "../../db/mentions";
import { MentionsPage } from "../../views/mentions";
import { render } from "../../views/render";
import type { AppEnv } from "../env";
import { redirectToLogin } from "../middleware/session";
import { integerFrom } from "../query-params";
import { requestUser } from "../request-user";

export const mentionsRoutes = new Hono<AppEnv>();

export const MENTIONS_LOGIN_REQUIRED =
  "Log in (or send the socket token as Authorization: Bearer) to read your mentions.";

mentionsRoutes.get("/api/mentions", async (c) => {
  c.header("Cache-Control", "private, no-store");
  const user = await requestUser(c);
  if (!user) return c.json({ error: MENTIONS_LOGIN_REQUIRED }, 401);
  const read = readPaging(c.req.query("before"), c.req.query("limit"));
  if (!read.ok) return c.json({ error: read.error }, 400);
  const page = await mentionsOf(c.var.db, user.id, read);
  return c.json({
    posts: page.mentions.map(({ room, post }) => ({ ...post, room: room.id })),
    next_before: page.next ? formatMentionCursor(page.next) : null,
  });
});

mentionsRoutes.get("/mentions", async (c) => {
  const viewer = c.var.viewer;
  if (!viewer) return redirectToLogin(c);
  const read = readPaging(c.req.query("before"), undefined);
  if (!read.ok) throw new HTTPException(400, { message: read.error });
  // The newest page is the visit that clears the count; an older page leaves it as it is.
  const page = read.before
    ? await mentionsOf(c.var.db, viewer.user.id, read)
    : await openMentions(c.var.db, viewer.user.id, read.limit);
  return render(
    c,
    <MentionsPage
      viewer={viewer}
      mentions={page.mentions}
      next={page.next ? formatMentionCursor(page.next) : null}
      older={read.before !== undefined}
    />,
  );
});

type ReadPaging = { ok: true; before: MentionCursor | undefined; limit: number } | { ok: false; error: string };

function readPaging(rawBefore: string | undefined, rawLimit: string | undefined): ReadPaging {
  const problems: string[] = [];
  const before = rawBefore === undefined ? undefined : parseMentionCursor(rawBefore);
  if (before === null) problems.push("before must be the next_before of an earlier page of mentions");
  const limit = integerFrom(rawLimit, 1);
  if (limit === null || (limit !== undefined && limit > MENTIONS_MAX_LIMIT)) {
    problems.push(`limit must be a whole number from 1 to ${MENTIONS_MAX_LIMIT}`);
  }
  if (problems.length > 0 || before === null || limit === null) return { ok: false, error: `${problems.join("; ")}.` };
  return { ok: true, before, limit: limit ?? MENTIONS_DEFAULT_LIMIT };
}
