/**
 * `GET /rooms/:room/posts` and `GET /rooms/:room/changes`: a room's history as JSON, its posts as they are
 * now (for scrolling back) and its changes in order (new posts, edits, deletions: for catching up on more
 * than a join reply holds); for a logged-in page (the session cookie) or any app holding the page's socket
 * token (`Authorization: Bearer TOKEN`). Both are answered by the room, which decides who may read it.
 * Parameters and answers: docs/protocol.md#history-over-http.
 */

import { type Context, Hono } from "hono";
import type { ChangesQuery } from "../../db/posts";
import { NO_SUCH_ROOM, roomChanges, roomPosts, YOU_ARE_BANNED } from "../../realtime/room/client";
import type { PostsQuery } from "../../shared/post";
import { isRoomId } from "../../shared/rooms";
import type { AppEnv } from "../env";
import { integerFrom } from "../query-params";
import { requestUser } from "../request-user";

export const POSTS_PAGE_DEFAULT_LIMIT = 50;
export const POSTS_PAGE_MAX_LIMIT = 200;
export const CHANGES_PAGE_DEFAULT_LIMIT = 50;
export const CHANGES_PAGE_MAX_LIMIT = 200;

export const roomPostsRoutes = new Hono<AppEnv>();

/** Who asks, and which room: or the answer that refuses them. */
async function reader(c: Context<AppEnv>): Promise<{ userId: number; room: string } | Response> {
  c.header("Cache-Control", "private, no-store");
  const user = await requestUser(c);
  if (!user) {
    return c.json(
      { error: "Log in (or send the socket token as Authorization: Bearer) to read a room's history." },
      401,
    );
  }
  const room = c.req.param("room") ?? "";
  if (!isRoomId(room)) return c.json({ error: "Room names are 1 to 64 of A-Z a-z 0-9 _ -." }, 404);
  return { userId: user.id, room };
}

roomPostsRoutes.get("/rooms/:room/posts", async (c) => {
  const asker = await reader(c);
  if (asker instanceof Response) return asker;
  const query = readQuery(c.req.query("before"), c.req.query("after"), c.req.query("limit"));
  if (!query.ok) return c.json({ error: `${query.problems.join("; ")}.` }, 400);
  const posts = await roomPosts(c.env, asker.room, query.query, asker.userId);
  // A private room the asker is not in answers exactly as one that does not exist; someone the room banned
  // knows the room, and is told why.
  if (!posts) return c.json({ error: NO_SUCH_ROOM }, 404);
  if (posts === "banned") return c.json({ error: YOU_ARE_BANNED }, 403);
  return c.json({ posts });
});

roomPostsRoutes.get("/rooms/:room/changes", async (c) => {
  const asker = await reader(c);
  if (asker instanceof Response) return asker;
  const query = readChangesQuery(c.req.query("after_seq"), c.req.query("limit"));
  if (!query.ok) return c.json({ error: `${query.problems.join("; ")}.` }, 400);
  const page = await roomChanges(c.env, asker.room, query.query, asker.userId);
  if (!page) return c.json({ error: NO_SUCH_ROOM }, 404);
  if (page === "banned") return c.json({ error: YOU_ARE_BANNED }, 403);
  return c.json(page);
});

function readChangesQuery(
  rawAfter: string | undefined,
  rawLimit: string | undefined,
): { ok: true; query: ChangesQuery } | { ok: false; problems: string[] } {
  const after = integerFrom(rawAfter, 0);
  const limit = integerFrom(rawLimit, 1);
  const problems: string[] = [];
  if (rawAfter === undefined) problems.push("after_seq is required: the last seq you have (0 for the first change)");
  else if (after === null) problems.push("after_seq must be a non-negative integer (a seq, or 0 for the first)");
  if (limit === null) problems.push(`limit must be a positive integer, at most ${CHANGES_PAGE_MAX_LIMIT}`);
  else if (limit !== undefined && limit > CHANGES_PAGE_MAX_LIMIT)
    problems.push(`limit must be at most ${CHANGES_PAGE_MAX_LIMIT}`);
  if (problems.length > 0 || after === null || after === undefined || limit === null) return { ok: false, problems };
  return { ok: true, query: { after, limit: limit ?? CHANGES_PAGE_DEFAULT_LIMIT } };
}

function readQuery(
  rawBefore: string | undefined,
  rawAfter: string | undefined,
  rawLimit: string | undefined,
): { ok: true; query: PostsQuery } | { ok: false; problems: string[] } {
  const before = integerFrom(rawBefore, 1);
  // 0 is "from the first post": a join's `last_seen_id` may be 0, and the client pages on from it.
  const after = integerFrom(rawAfter, 0);
  const limit = integerFrom(rawLimit, 1);
  const problems: string[] = [];
  if (before === null) problems.push("before must be a positive integer (a post id)");
  if (after === null) problems.push("after must be a non-negative integer (a post id, or 0 for the first)");
  if (limit === null) problems.push(`limit must be a positive integer, at most ${POSTS_PAGE_MAX_LIMIT}`);
  else if (limit !== undefined && limit > POSTS_PAGE_MAX_LIMIT)
    problems.push(`limit must be at most ${POSTS_PAGE_MAX_LIMIT}`);
  if (before !== undefined && after !== undefined) problems.push("give before or after, not both");
  if (problems.length > 0 || before === null || after === null || limit === null) return { ok: false, problems };
  return { ok: true, query: { before, after, limit: limit ?? POSTS_PAGE_DEFAULT_LIMIT } };
}
