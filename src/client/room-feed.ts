/**
 * Which posts the reader has, and how to get the rest with no gap: `last_seen_id` on every join, then
 * pages over HTTP while a reply says `has_more` (src/client/README.md). Each post is shown once, whichever
 * way it came. Free of the DOM (the page renders what `show` is given), so the e2e tests run it from Node.
 */
import type { Post } from "../shared/post";
import type { JoinParams, JoinResponse } from "../shared/room-contract";
import { retryDelay } from "./backoff";
import { CATCH_UP_PAGE_SIZE, HistoryError } from "./room-posts";

export interface RoomFeedOptions {
  /** Posts already shown, e.g. those in the page as served: complete through the highest of them. */
  shownIds?: Iterable<number>;
  /** Called with posts not shown before, in id order within one call. */
  show(posts: Post[]): void;
  /** One page of `GET /rooms/ROOM/posts?after=AFTER&limit=LIMIT`. */
  fetchAfter(after: number, limit: number): Promise<Post[]>;
  /** A catch-up stopped on an error that retrying cannot mend (a 401 or another 4xx). */
  onCatchUpFailed?(problem: unknown): void;
  /** Override the waits between retries (tests). */
  retryDelaysMs?: readonly number[];
}

export class RoomFeed {
  readonly #options: RoomFeedOptions;
  readonly #seen = new Set<number>();
  /**
   * No post between the newest the page started with and this id is missing from what was shown (older
   * history comes by scrolling back). Only complete sequences move it: a join reply, a catch-up page, an
   * unfiltered broadcast outside a catch-up, and, when a catch-up ends, the live posts that arrived during
   * it. So rejoining with `last_seen_id` = this never leaves a gap.
   */
  #completeThrough: number | undefined;
  #mentionsOnly = false;
  /** Changes with every join and interruption, so a catch-up of an earlier join stops. */
  #generation = 0;
  /** While paging: the highest unfiltered live post received since this join. */
  #catchUp: { liveMax: number } | null = null;

  constructor(options: RoomFeedOptions) {
    this.#options = options;
    for (const id of options.shownIds ?? []) {
      this.#seen.add(id);
      this.#completeThrough = Math.max(this.#completeThrough ?? 0, id);
    }
  }

  get completeThrough(): number | undefined {
    return this.#completeThrough;
  }

  /** True from a join reply with `has_more` until the last page is in. */
  get catchingUp(): boolean {
    return this.#catchUp !== null;
  }

  /** Broadcasts to a `mentions_only` member skip posts, so they never count as complete. */
  set mentionsOnly(on: boolean) {
    this.#mentionsOnly = on;
  }

  /** The `phx_join` payload; pass `() => feed.joinParams()` so every rejoin sends the current `last_seen_id`. */
  joinParams(): JoinParams {
    const params: JoinParams = { mentions_only: this.#mentionsOnly };
    if (this.#completeThrough !== undefined) params.last_seen_id = this.#completeThrough;
    return params;
  }

  joined(response: JoinResponse): void {
    const generation = ++this.#generation;
    this.#addComplete(response.posts);
    this.#catchUp = null;
    if (response.has_more) {
      this.#catchUp = { liveMax: 0 };
      void this.#pageOn(generation);
    }
  }

  /** A `new_post` broadcast (or, when filtering by mentions, push). */
  received(post: Post): void {
    if (this.#mentionsOnly) {
      this.#add([post]);
    } else if (this.#catchUp) {
      this.#catchUp.liveMax = Math.max(this.#catchUp.liveMax, post.id);
      this.#add([post]);
    } else {
      this.#addComplete([post]);
    }
  }

  /** The reply to our own post: shown, but says nothing about the posts before it. */
  acknowledged(post: Post): void {
    this.#add([post]);
  }

  /** Older posts (scrolling back): returns those not shown yet, for the caller to put above the rest. */
  older(posts: Post[]): Post[] {
    return posts.filter((post) => this.#markSeen(post));
  }

  /** The join is gone (connection lost, left): stop any catch-up; the next join reply starts over. */
  interrupted(): void {
    this.#generation++;
    this.#catchUp = null;
  }

  async #pageOn(generation: number): Promise<void> {
    let failures = 0;
    while (generation === this.#generation) {
      const after = this.#completeThrough;
      if (after === undefined) break; // has_more only answers a join with last_seen_id; nothing to page from
      let page: Post[];
      try {
        page = await this.#options.fetchAfter(after, CATCH_UP_PAGE_SIZE);
      } catch (problem) {
        if (generation !== this.#generation) return;
        const retryable = !(problem instanceof HistoryError) || problem.status === 0 || problem.status >= 500;
        if (!retryable) {
          this.#catchUp = null;
          this.#options.onCatchUpFailed?.(problem);
          return;
        }
        // A catch-up page that failed for want of an answer (or a 5xx) is asked for again.
        await sleep(retryDelay(failures++, this.#options.retryDelaysMs));
        continue;
      }
      if (generation !== this.#generation) return;
      failures = 0;
      this.#addComplete(page);
      if (page.length < CATCH_UP_PAGE_SIZE) {
        // The last page reaches past the moment this join subscribed, and every post stored since then
        // arrived live: together they are everything, so the live ones are complete too.
        const liveMax = this.#catchUp?.liveMax ?? 0;
        if (!this.#mentionsOnly && liveMax > (this.#completeThrough ?? 0)) this.#completeThrough = liveMax;
        this.#catchUp = null;
        return;
      }
    }
  }

  #addComplete(posts: Post[]): void {
    this.#add(posts);
    for (const post of posts) this.#completeThrough = Math.max(this.#completeThrough ?? 0, post.id);
  }

  #add(posts: Post[]): void {
    const fresh = posts.filter((post) => this.#markSeen(post));
    if (fresh.length > 0) this.#options.show(fresh.sort((a, b) => a.id - b.id));
  }

  #markSeen(post: Post): boolean {
    if (this.#seen.has(post.id)) return false;
    this.#seen.add(post.id);
    return true;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
