/**
 * `GET /rooms/ROOM/posts`: older posts when the reader scrolls back (`before`), and the rest of a long
 * catch-up (`after`). Free of the DOM, so the e2e tests page with this same code from Node.
 */
import type { Post } from "../shared/post";

/** Posts per page when scrolling back. */
export const OLDER_PAGE_SIZE = 50;

/** Posts per page when catching up (the endpoint's maximum). */
export const CATCH_UP_PAGE_SIZE = 200;

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
  const params = new URLSearchParams(Object.entries(query).map(([key, value]) => [key, String(value)]));
  const url = `${source.baseUrl}/rooms/${encodeURIComponent(source.room)}/posts?${params}`;
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
  const body = (await response.json()) as { posts?: unknown };
  if (!Array.isArray(body.posts)) throw new HistoryError(response.status, `GET ${url} answered without posts`);
  return body.posts as Post[];
}
