/**
 * `GET /search?q=&room=&from=&limit=`: full-text search over the posts of the rooms the asker can read
 * (src/db/search.ts). With `Accept: application/json`, for apps and bots (the session cookie or
 * `Authorization: Bearer <socket token>`, as the rooms API): `{"results": [{room, post, snippet}]}` or
 * `{"error"}`; otherwise the search page. Parameters and answers: docs/search.md.
 */
import { type Context, Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { USERNAME_PATTERN } from "../../auth/accounts";
import {
  ftsQuery,
  SEARCH_DEFAULT_LIMIT,
  SEARCH_MAX_LENGTH,
  SEARCH_MAX_LIMIT,
  type SearchQuery,
  type SnippetPart,
  searchPosts,
} from "../../db/search";
import { isRoomId } from "../../shared/rooms";
import { codePointLength } from "../../shared/text";
import { render } from "../../views/render";
import { type SearchForm, SearchPage } from "../../views/search";
import type { AppEnv } from "../env";
import { redirectToLogin } from "../middleware/session";
import { integerFrom, wantsJson } from "../query-params";
import { requestUser } from "../request-user";

export const searchRoutes = new Hono<AppEnv>();

export const SEARCH_LOGIN_REQUIRED = "Log in (or send the socket token as Authorization: Bearer) to search.";
export const SEARCH_EMPTY = "q is required: the words to search for.";

searchRoutes.get("/search", async (c) => {
  const json = wantsJson(c.req.header("Accept"));
  if (json) c.header("Cache-Control", "private, no-store");
  const user = await requestUser(c);
  if (!user) return json ? c.json({ error: SEARCH_LOGIN_REQUIRED }, 401) : redirectToLogin(c);

  const form: SearchForm = {
    q: c.req.query("q") ?? "",
    room: c.req.query("room") ?? "",
    from: c.req.query("from") ?? "",
  };
  const read = readSearch(form, c.req.query("limit"));
  if (!read.ok) {
    // A person who opens the page (or clears the box) is shown the box, not told off.
    if (read.empty && !json) return searchPage(c, form, null);
    return json ? c.json({ error: read.error }, 400) : searchPage(c, form, null, read.error, 400);
  }
  const results = await searchPosts(c.var.db, user.id, read.query);
  if (!json) return searchPage(c, form, results);
  return c.json({
    results: results.map((result) => ({
      room: result.room.id,
      post: result.post,
      snippet: snippetHtml(result.snippet),
    })),
  });
});

function searchPage(
  c: Context<AppEnv>,
  form: SearchForm,
  results: Awaited<ReturnType<typeof searchPosts>> | null,
  error?: string,
  status: ContentfulStatusCode = 200,
) {
  const viewer = c.var.viewer;
  if (!viewer) return redirectToLogin(c);
  return render(c, <SearchPage viewer={viewer} form={form} results={results} error={error} />, status);
}

type ReadSearch = { ok: true; query: SearchQuery } | { ok: false; empty: boolean; error: string };

/** The parameters, checked; every problem is named at once. */
export function readSearch(form: SearchForm, rawLimit: string | undefined): ReadSearch {
  const problems: string[] = [];
  const q = form.q.trim();
  const length = codePointLength(q);
  let match: string | null = null;
  if (q === "") problems.push(SEARCH_EMPTY.slice(0, -1));
  else if (length > SEARCH_MAX_LENGTH)
    problems.push(`q is too long (${length} characters, at most ${SEARCH_MAX_LENGTH})`);
  else {
    match = ftsQuery(q);
    if (match === null) problems.push("q has no words to search for: give at least one letter or digit");
  }
  // A room as people write it (`#lobby`) and a person as they are mentioned (`@alice`) are taken too.
  const room = form.room.trim().replace(/^#/, "");
  if (room !== "" && !isRoomId(room)) {
    problems.push("room must be a room's id: a public room's name (1 to 64 of A-Z a-z 0-9 _ -) or a private room's id");
  }
  const from = form.from.trim().replace(/^@/, "");
  if (from !== "" && !USERNAME_PATTERN.test(from))
    problems.push("from must be a username: 3 to 24 letters, digits or _");
  const limit = integerFrom(rawLimit, 1);
  if (limit === null || (limit !== undefined && limit > SEARCH_MAX_LIMIT)) {
    problems.push(`limit must be a whole number from 1 to ${SEARCH_MAX_LIMIT}`);
  }
  if (problems.length > 0 || match === null) {
    return { ok: false, empty: q === "" && problems.length === 1, error: `${problems.join("; ")}.` };
  }
  return {
    ok: true,
    query: {
      match,
      room: room === "" ? undefined : room,
      from: from === "" ? undefined : from,
      limit: limit ?? SEARCH_DEFAULT_LIMIT,
    },
  };
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** A snippet as HTML for apps: every piece of text escaped, each match in `<mark>`. */
export function snippetHtml(parts: readonly SnippetPart[]): string {
  return parts
    .map(({ text, match }) => {
      const escaped = text.replace(/[&<>"']/g, (character) => ESCAPES[character] ?? character);
      return match ? `<mark>${escaped}</mark>` : escaped;
    })
    .join("");
}
