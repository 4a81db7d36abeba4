/**
 * Scrolling back: when the reader reaches the top of the timeline, the 50 posts before the oldest shown
 * are fetched (`GET /rooms/ROOM/posts?before=ID&limit=50`, with the session cookie) and put above, with
 * the reader's place kept. A page shorter than asked for means there is nothing older: `#history_edge`
 * then says "Beginning of the room" and nothing more is asked.
 */
import type { Post } from "../shared/post";
import { HistoryError, OLDER_PAGE_SIZE } from "./room-posts";

/** How close to the top (px) starts loading, so older posts are usually there before the reader is. */
const TOP_SLACK_PX = 64;

type EdgeState = "more" | "loading" | "start" | "failed";

const EDGE_TEXT: Record<EdgeState, string> = {
  more: "",
  loading: "Loading older posts…",
  start: "Beginning of the room",
  failed: "Older posts could not be loaded; scroll up to try again.",
};

export interface OlderPostsOptions {
  timeline: HTMLElement;
  edge: HTMLElement;
  oldestId(): number | undefined;
  fetchBefore(before: number, limit: number): Promise<Post[]>;
  /** Shows the page's posts above the rest (after dropping any already shown). */
  show(posts: Post[]): void;
}

export class OlderPosts {
  readonly #options: OlderPostsOptions;
  #state: EdgeState;

  constructor(options: OlderPostsOptions) {
    this.#options = options;
    // The server knows whether the page it rendered holds the whole room.
    this.#state = options.edge.dataset.state === "start" ? "start" : "more";
    this.#setState(this.#state);
    options.timeline.addEventListener("scroll", () => void this.check(), { passive: true });
  }

  /** The room's first posts arrived with a plain join: a reply shorter than a page holds the beginning. */
  set beginningShown(shown: boolean) {
    if (this.#state !== "loading") this.#setState(shown ? "start" : "more");
  }

  /** Loads the page before the oldest shown if the reader is at the top and there may be one. */
  async check(): Promise<void> {
    if (this.#options.timeline.scrollTop > TOP_SLACK_PX) return;
    if (!(await this.#loadPage())) return;
    // Still at the top (the posts do not fill the timeline yet): no scroll will come, so go on.
    await this.check();
  }

  /**
   * Loads pages until the post `id` is shown, the room's beginning is reached, or `maxPages` were loaded:
   * for a link to a post older than the page holds.
   */
  async reach(id: number, maxPages: number): Promise<void> {
    for (let page = 0; page < maxPages; page++) {
      const oldest = this.#options.oldestId();
      if (oldest !== undefined && oldest <= id) return;
      if (!(await this.#loadPage())) return;
    }
  }

  /** The page before the oldest shown, put above; false when there was none to load or it failed. */
  async #loadPage(): Promise<boolean> {
    if (this.#state === "loading" || this.#state === "start") return false;
    const before = this.#options.oldestId();
    if (before === undefined) return false;
    this.#setState("loading");
    try {
      const posts = await this.#options.fetchBefore(before, OLDER_PAGE_SIZE);
      this.#options.show(posts);
      this.#setState(posts.length < OLDER_PAGE_SIZE ? "start" : "more");
      return true;
    } catch (problem) {
      this.#setState("failed");
      if (problem instanceof HistoryError && problem.sessionEnded) {
        this.#options.edge.textContent = "Log in again to see older posts.";
      }
      return false;
    }
  }

  #setState(state: EdgeState): void {
    this.#state = state;
    this.#options.edge.dataset.state = state;
    this.#options.edge.textContent = EDGE_TEXT[state];
  }
}
