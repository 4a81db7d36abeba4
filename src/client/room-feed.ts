/**
 * Which posts the reader has, each as it is now, and how to get the rest with no gap: `last_seen_seq` on
 * every join, the join reply's new posts and changes, then pages of changes over HTTP while a reply says
 * `has_more` (src/client/README.md). Each post is shown once, whichever way it came, and replaced when
 * an edit or deletion of it comes, never by an older version. Free of the DOM (the page renders what
 * `show` and `replace` are given), so the e2e tests run it from Node.
 */
import { type Post, tombstone } from "../shared/post";
import type { Change, JoinParams, JoinResponse, PostDeleted, PostUpdated } from "../shared/room-contract";
import { retryDelay } from "./backoff";
import { CATCH_UP_PAGE_SIZE, type ChangesPage, HistoryError } from "./room-posts";

export interface RoomFeedOptions {
  /** Posts already shown, e.g. those in the page as served: complete through the highest of them. */
  shownPosts?: Iterable<Post>;
  /** Called with posts not shown before, in id order within one call. */
  show(posts: Post[]): void;
  /** Called with a post already shown, as it now is: edited, or its tombstone. */
  replace?(post: Post): void;
  /** One page of `GET /rooms/ROOM/changes?after_seq=AFTER&limit=LIMIT`. */
  fetchChanges(after: number, limit: number): Promise<ChangesPage>;
  /** A catch-up stopped on an error that retrying cannot mend (a 401 or another 4xx). */
  onCatchUpFailed?(problem: unknown): void;
  /** Override the waits between retries (tests). */
  retryDelaysMs?: readonly number[];
}

/**
 * What the feed knows of a post: `seq`, the change as of which it is known to be current, and the post as
 * it then is; `shown` false for a change heard of a post not shown (older history not loaded yet), kept
 * for when it is. A deletion heard of such a post carries only what it says (`deleted`).
 */
interface Known {
  seq: number;
  shown: boolean;
  post?: Post;
  deleted?: Pick<PostDeleted, "deleted_by" | "deleted_at">;
}

export class RoomFeed {
  readonly #options: RoomFeedOptions;
  readonly #known = new Map<number, Known>();
  /**
   * Every change of the room up to this seq has reached the page (older history comes by scrolling back).
   * Only complete sequences move it: a join reply without `has_more`, a catch-up page, an unfiltered
   * broadcast outside a catch-up, and, when a catch-up ends, the live changes that arrived during it. So
   * rejoining with `last_seen_seq` = this never leaves a gap.
   */
  #completeThrough: number | undefined;
  #mentionsOnly = false;
  /** Changes with every join and interruption, so a catch-up of an earlier join stops. */
  #generation = 0;
  /** While paging: the highest unfiltered live change received since this join. */
  #catchUp: { liveMax: number } | null = null;

  constructor(options: RoomFeedOptions) {
    this.#options = options;
    for (const post of options.shownPosts ?? []) {
      this.#remember(post, post.id);
      this.#completeThrough = Math.max(this.#completeThrough ?? 0, post.id);
    }
  }

  get completeThrough(): number | undefined {
    return this.#completeThrough;
  }

  /** True from a join reply with `has_more` until the last page is in. */
  get catchingUp(): boolean {
    return this.#catchUp !== null;
  }

  /** Broadcasts to a `mentions_only` member skip posts and edits, so they never count as complete. */
  set mentionsOnly(on: boolean) {
    this.#mentionsOnly = on;
  }

  /** The `phx_join` payload; pass `() => feed.joinParams()` so every rejoin sends the current `last_seen_seq`. */
  joinParams(): JoinParams {
    const params: JoinParams = { mentions_only: this.#mentionsOnly };
    if (this.#completeThrough !== undefined) params.last_seen_seq = this.#completeThrough;
    return params;
  }

  joined(response: JoinResponse): void {
    const generation = ++this.#generation;
    this.#catchUp = null;
    // Without has_more the posts are as they were at the reply's seq; with it, at least as of their id.
    const asOf = response.has_more ? undefined : response.seq;
    this.#add(response.posts, asOf);
    for (const change of response.changes ?? []) this.#applyChange(change);
    // Complete through it without has_more; with it, where to page on from (the seq this join sent).
    this.#completeThrough = response.seq;
    if (response.has_more) {
      this.#catchUp = { liveMax: 0 };
      void this.#pageOn(generation);
    }
  }

  /** A `new_post` broadcast (or, when filtering by mentions, push). */
  received(post: Post): void {
    this.#add([post]);
    this.#heard(post.id);
  }

  /**
   * A `post_updated` or `post_deleted` broadcast (or push); `live` false for the reply to our own edit or
   * deletion, which is applied but says nothing about the changes before it.
   */
  changed(payload: PostUpdated | PostDeleted, live = true): void {
    if ("user" in payload) {
      const { seq, ...post } = payload;
      this.#change(post, seq);
    } else {
      this.#delete(payload);
    }
    if (live) this.#heard(payload.seq);
  }

  /** The reply to our own post: shown, but says nothing about the posts before it. */
  acknowledged(post: Post): void {
    this.#add([post]);
  }

  /** Older posts (scrolling back): returns those not shown yet, as they now are, for the caller to put above the rest. */
  older(posts: Post[]): Post[] {
    return posts.flatMap((post) => (this.#known.get(post.id)?.shown ? [] : [this.#remember(post, post.id)]));
  }

  /** The post numbered `id` as shown, if it is. */
  shown(id: number): Post | undefined {
    const known = this.#known.get(id);
    return known?.shown ? known.post : undefined;
  }

  /** The join is gone (connection lost, left): stop any catch-up; the next join reply starts over. */
  interrupted(): void {
    this.#generation++;
    this.#catchUp = null;
  }

  async #pageOn(generation: number): Promise<void> {
    let failures = 0;
    while (generation === this.#generation) {
      const after = this.#completeThrough ?? 0;
      let page: ChangesPage;
      try {
        page = await this.#options.fetchChanges(after, CATCH_UP_PAGE_SIZE);
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
      for (const change of page.changes) this.#applyChange(change);
      this.#completeThrough = Math.max(after, page.changes.at(-1)?.seq ?? after);
      if (!page.has_more) {
        // The last page reaches past the moment this join subscribed, and every change made since then
        // arrived live: together they are everything, so the live ones are complete too.
        const liveMax = this.#catchUp?.liveMax ?? 0;
        if (!this.#mentionsOnly && liveMax > this.#completeThrough) this.#completeThrough = liveMax;
        this.#catchUp = null;
        return;
      }
    }
  }

  /** A live change numbered `seq` arrived: complete through it, unless filtered or in a catch-up. */
  #heard(seq: number): void {
    if (this.#mentionsOnly) return;
    if (this.#catchUp) this.#catchUp.liveMax = Math.max(this.#catchUp.liveMax, seq);
    else this.#completeThrough = Math.max(this.#completeThrough ?? 0, seq);
  }

  /** A change of a join reply or a catch-up page: a post's (new, edited, deleted), or a kind to skip. */
  #applyChange(change: Change): void {
    if (!change.post) return; // a kind this client does not know: its seq still counts
    if (change.type === "post") this.#add([change.post], change.seq);
    else this.#change(change.post, change.seq);
  }

  /** New posts: shown if they were not, as of `asOf` (default: their id); those shown are changed if older. */
  #add(posts: readonly Post[], asOf?: number): void {
    const fresh: Post[] = [];
    for (const post of posts) {
      if (this.#known.get(post.id)?.shown) this.#change(post, asOf ?? post.id);
      else fresh.push(this.#remember(post, asOf ?? post.id));
    }
    if (fresh.length > 0) this.#options.show(fresh.sort((a, b) => a.id - b.id));
  }

  /** A post shown for the first time, as the newer of it and any change heard of it before. */
  #remember(post: Post, seq: number): Post {
    const heard = this.#known.get(post.id);
    const newer = heard && heard.seq > seq;
    const shown = !newer ? post : heard.deleted ? tombstone(post, heard.deleted) : (heard.post ?? post);
    this.#known.set(post.id, { seq: newer ? heard.seq : seq, shown: true, post: shown });
    return shown;
  }

  /** A post as it is as of `seq`: replaces what is shown when that is older; kept for later when not shown. */
  #change(post: Post, seq: number, deleted?: Known["deleted"]): void {
    const known = this.#known.get(post.id);
    if (known && seq <= known.seq) return;
    if (!known?.shown) {
      this.#known.set(post.id, { seq, shown: false, post, ...(deleted ? { deleted } : {}) });
      return;
    }
    const now = deleted ? tombstone(known.post ?? post, deleted) : post;
    this.#known.set(post.id, { seq, shown: true, post: now });
    this.#options.replace?.(now);
  }

  #delete({ id, seq, deleted_by, deleted_at }: PostDeleted): void {
    const base = this.#known.get(id)?.post ?? { id, message: "", inserted_at: "", user: { id: 0, username: "" } };
    this.#change(base, seq, { deleted_by, deleted_at });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
