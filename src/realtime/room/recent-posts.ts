/**
 * The room's recent posts, in memory, so joins and short catch-ups need no D1 read.
 *
 * It can be exact because the room is the only writer of its posts: after one read of the newest posts
 * when the room wakes, every post the room stores is appended here in id order as it is stored. `coveredAfter`
 * says how far back it is complete: it holds every post of the room with an id greater than that.
 */
import type { Post } from "../../shared/post";

type State = "cold" | "loading" | "warm";

export class RecentPosts {
  #posts: Post[] = [];
  /** Every post with an id above this is in `#posts`. */
  #coveredAfter = 0;
  #state: State = "cold";
  #loading: Promise<void> | undefined;
  /** Posts stored while the first read was in flight; merged when it lands. */
  #storedWhileLoading: Post[] = [];
  #version = 0;

  /**
   * @param loadNewest reads the room's newest `limit` posts (from its log, and D1 while the log is short)
   * @param capacity how many posts to keep; a catch-up from further back reads the log and D1
   */
  constructor(
    private readonly loadNewest: (limit: number) => Promise<Post[]>,
    readonly capacity: number,
  ) {}

  /** Resolves once the newest posts are in memory; the first call reads them, later ones are free. */
  ready(): Promise<void> {
    if (this.#state === "warm") return Promise.resolve();
    this.#loading ??= this.#load();
    return this.#loading;
  }

  /** Changes whenever what `newest` and `after` answer may change: what is built from them is good until then. */
  get version(): number {
    return this.#version;
  }

  /** Called with each batch of stored posts, in id order, before anyone is told of them. */
  append(posts: readonly Post[]): void {
    if (this.#state === "cold") return; // the first read will find them
    if (this.#state === "loading") {
      this.#storedWhileLoading.push(...posts);
      return;
    }
    this.#posts.push(...posts);
    this.#version += 1;
    this.#trim();
  }

  /** The newest `limit` posts, oldest first. */
  newest(limit: number): Post[] {
    return this.#posts.slice(-limit);
  }

  /** Every post with an id above `afterId`, oldest first; undefined when memory does not reach back that far. */
  after(afterId: number): Post[] | undefined {
    if (afterId < this.#coveredAfter) return undefined;
    const start = this.#posts.findIndex((post) => post.id > afterId);
    return start === -1 ? [] : this.#posts.slice(start);
  }

  async #load(): Promise<void> {
    this.#state = "loading";
    try {
      const loaded = await this.loadNewest(this.capacity);
      const lastLoaded = loaded.at(-1)?.id ?? 0;
      this.#posts = [...loaded, ...this.#storedWhileLoading.filter((post) => post.id > lastLoaded)];
      // Fewer than asked for: that is the whole room.
      this.#coveredAfter = loaded.length < this.capacity ? 0 : (loaded[0]?.id ?? 1) - 1;
      this.#state = "warm";
      this.#version += 1;
      this.#trim();
    } catch (problem) {
      this.#state = "cold";
      throw problem;
    } finally {
      this.#storedWhileLoading = [];
      this.#loading = undefined;
    }
  }

  #trim(): void {
    const excess = this.#posts.length - this.capacity;
    if (excess <= 0) return;
    const dropped = this.#posts.splice(0, excess);
    this.#coveredAfter = dropped.at(-1)?.id ?? this.#coveredAfter;
  }
}
