/**
 * `GET /rooms/ROOM/posts`: older posts when the reader scrolls back (`before`); `GET /rooms/ROOM/changes`:
 * the rest of a long catch-up (every change after a seq). Free of the DOM, so the e2e tests page with this
 * same code from Node.
 */
import type { Post } from "../shared/post";
import type { Change } from "../shared/room-contract";

/** Posts per page when scrolling back. */
export const OLDER_PAGE_SIZE = 50;

/** Changes per page when catching up (the endpoint's maximum). */
export const CATCH_UP_PAGE_SIZE = 200;

export interface ChangesPage {
  changes: Change[];
  has_more: boolean;
}

export type PageQuery = { before: number; limit: number } | { after: number; limit: number };

/** A failed page: `status` is the HTTP status, or 0 when the request never got an answer. */
export class HistoryError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "HistoryError";
  }

  /** 401: the session is over, so asking again cannot help. */
  get sessionEnded(): boolean {
    return this.status === 401;
  }
}

export interface HistorySource {
  /** Where the app is, e.g. "" in the page (same origin) or "http://127.0.0.1:8787" elsewhere. */
  baseUrl: string;
  room: string;
  /** Extra headers, e.g. `Authorization: Bearer TOKEN` outside a logged-in page (the page uses its cookie). */
  headers?: Record<string, string>;
}

export async function fetchPosts(source: HistorySource, query: PageQuery): Promise<Post[]> {
  const body = (await fetchJson(source, "posts", query)) as { posts?: unknown };
  if (!Array.isArray(body.posts)) throw new HistoryError(200, "no posts");
  return body.posts as Post[];
}

/** One page of every change after `after` (a seq), oldest first. */
export async function fetchChanges(source: HistorySource, after: number, limit: number): Promise<ChangesPage> {
  const body = (await fetchJson(source, "changes", { after_seq: after, limit })) as Partial<ChangesPage>;
  if (!Array.isArray(body.changes)) throw new HistoryError(200, "no changes");
  return { changes: body.changes, has_more: body.has_more === true };
}

async function fetchJson(source: HistorySource, what: string, query: object): Promise<unknown> {
  const params = new URLSearchParams(Object.entries(query).map(([key, value]) => [key, String(value)]));
  const url = `${source.baseUrl}/rooms/${encodeURIComponent(source.room)}/${what}?${params}`;
  let response: Response;
  try {
    response = await fetch(url, { headers: { Accept: "application/json", ...source.headers } });
  } catch (problem) {
    throw new HistoryError(0, `GET ${url} failed: ${String(problem)}`);
  }
  if (!response.ok) {
    const body = await response.text().catch(() => "");
    throw new HistoryError(response.status, `GET ${url} answered ${response.status}: ${body.slice(0, 200)}`);
  }
  return response.json();
}
