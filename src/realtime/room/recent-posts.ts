/**
 * The room's recent posts and changes, in memory, so joins and short catch-ups need no D1 read.
 *
 * It can be exact because the room is the only writer of its posts and changes: after one read of the
 * newest posts (and of the newest other changes, from the room's own log) when the room wakes, every post
 * the room stores is appended here in id order as it is stored, and every other change (an edit, a
 * deletion, later other kinds) is applied as it is logged: the post it changed is replaced by what it now
 * is, and the change is kept. `coveredAfter` says how far back the posts are complete (every post of the
 * room with an id greater than that is here), `changesCoveredAfter` the same of the other changes.
 */
import type { LoggedChange } from "../../db/posts";
import type { Post } from "../../shared/post";
import type { Change } from "../../shared/room-contract";

type State = "cold" | "loading" | "warm";

/** The newest other changes of the room, complete after `coveredAfter` (read from the room's own log). */
export interface LoadedChanges {
  changes: LoggedChange[];
  coveredAfter: number;
}

export class RecentPosts {
  #posts: Post[] = [];
  /** Every post with an id above this is in `#posts`. */
  #coveredAfter = 0;
  /** Changes other than new posts, in seq order: every one with a seq above `#changesCoveredAfter`. */
  #changes: LoggedChange[] = [];
  #changesCoveredAfter = 0;
  #lastSeq = 0;
  #state: State = "cold";
  #loading: Promise<void> | undefined;
  /** Posts stored while the first read was in flight; merged when it lands. */
  #storedWhileLoading: Post[] = [];
  /** Changes logged while the first read was in flight: their posts replace what the read brought. */
  #changedWhileLoading: LoggedChange[] = [];
  #version = 0;

  /**
   * @param loadNewest reads the room's newest `limit` posts as they are now (from its log, and D1 while the
   *   log is short)
   * @param capacity how many posts (and how many other changes) to keep; a catch-up from further back reads
   *   the log and D1
   * @param loadChanges reads the room's newest `limit` other changes from its own log (synchronous)
   */
  constructor(
    private readonly loadNewest: (limit: number) => Promise<Post[]>,
    readonly capacity: number,
    private readonly loadChanges: (limit: number) => LoadedChanges = () => ({ changes: [], coveredAfter: 0 }),
  ) {}

  /** Resolves once the newest posts are in memory; the first call reads them, later ones are free. */
  ready(): Promise<void> {
    if (this.#state === "warm") return Promise.resolve();
    this.#loading ??= this.#load();
    return this.#loading;
  }

  /** Changes whenever what `newest`, `after` and `changesAfter` answer may change: what is built from them is good until then. */
  get version(): number {
    return this.#version;
  }

  /** The room's last seq, as far as memory knows (warm: exactly). */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** Called with each batch of stored posts, in id order, before anyone is told of them. */
  append(posts: readonly Post[]): void {
    if (this.#state === "cold") return; // the first read will find them
    if (this.#state === "loading") {
      this.#storedWhileLoading.push(...posts);
      return;
    }
    this.#posts.push(...posts);
    for (const post of posts) this.#lastSeq = Math.max(this.#lastSeq, post.id);
    this.#version += 1;
    this.#trim();
  }

  /**
   * Called with each logged change other than a new post, in seq order, before anyone is told of it: a
   * post's change replaces the post (and a deletion blanks the text its earlier changes held here).
   */
  applyChange(change: LoggedChange): void {
    if (this.#state === "cold") return; // the first read will find it
    if (this.#state === "loading") {
      this.#changedWhileLoading.push(change);
      return;
    }
    const post = change.post;
    if (post) {
      this.#replace(this.#posts, post);
      if (post.deleted_at !== undefined) {
        for (const earlier of this.#changes) if (earlier.post?.id === post.id) earlier.post = post;
      }
    }
    this.#changes.push(change);
    this.#lastSeq = Math.max(this.#lastSeq, change.seq);
    this.#version += 1;
    this.#trimChanges();
  }

  /** The newest `limit` posts, oldest first. */
  newest(limit: number): Post[] {
    return this.#posts.slice(-limit);
  }

  /** The post numbered `id` as it is now, if memory holds it. */
  get(id: number): Post | undefined {
    const index = this.#indexOf(this.#posts, id);
    return index === -1 ? undefined : this.#posts[index];
  }

  /** Every post with an id above `afterId`, oldest first; undefined when memory does not reach back that far. */
  after(afterId: number): Post[] | undefined {
    if (afterId < this.#coveredAfter) return undefined;
    const start = this.#posts.findIndex((post) => post.id > afterId);
    return start === -1 ? [] : this.#posts.slice(start);
  }

  /**
   * What a member who has every change up to `afterSeq` is missing besides new posts: for each post with an
   * id up to `afterSeq` changed since, its latest change (the post as it is now); and every change of
   * another kind since; in seq order. Undefined when memory does not reach back that far.
   */
  changesAfter(afterSeq: number): Change[] | undefined {
    if (afterSeq < this.#changesCoveredAfter) return undefined;
    const latest = new Map<number, Change>();
    const others: Change[] = [];
    for (let index = this.#changes.length - 1; index >= 0; index--) {
      const change = this.#changes[index] as LoggedChange;
      if (change.seq <= afterSeq) break;
      if (!change.post) others.push({ ...change.data, seq: change.seq, type: change.type });
      else if (change.post.id <= afterSeq && !latest.has(change.post.id)) {
        latest.set(change.post.id, { seq: change.seq, type: change.type, post: change.post });
      }
    }
    return [...latest.values(), ...others].sort((a, b) => a.seq - b.seq);
  }

  async #load(): Promise<void> {
    this.#state = "loading";
    try {
      const loaded = await this.loadNewest(this.capacity);
      // Read after the posts: the log then holds every change logged meanwhile too.
      const changes = this.loadChanges(this.capacity);
      const lastLoaded = loaded.at(-1)?.id ?? 0;
      const posts = [...loaded, ...this.#storedWhileLoading.filter((post) => post.id > lastLoaded)];
      for (const change of this.#changedWhileLoading) if (change.post) this.#replace(posts, change.post);
      this.#posts = posts;
      // Fewer than asked for: that is the whole room.
      this.#coveredAfter = loaded.length < this.capacity ? 0 : (loaded[0]?.id ?? 1) - 1;
      this.#changes = changes.changes;
      this.#changesCoveredAfter = changes.coveredAfter;
      this.#lastSeq = Math.max(posts.at(-1)?.id ?? 0, this.#changes.at(-1)?.seq ?? 0, this.#lastSeq);
      this.#state = "warm";
      this.#version += 1;
      this.#trim();
      this.#trimChanges();
    } catch (problem) {
      this.#state = "cold";
      throw problem;
    } finally {
      this.#storedWhileLoading = [];
      this.#changedWhileLoading = [];
      this.#loading = undefined;
    }
  }

  #replace(posts: Post[], post: Post): void {
    const index = this.#indexOf(posts, post.id);
    if (index !== -1) posts[index] = post;
  }

  /** Where the post numbered `id` is in `posts` (in id order), or -1. */
  #indexOf(posts: readonly Post[], id: number): number {
    let low = 0;
    let high = posts.length - 1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      const at = (posts[middle] as Post).id;
      if (at === id) return middle;
      if (at < id) low = middle + 1;
      else high = middle - 1;
    }
    return -1;
  }

  #trim(): void {
    const excess = this.#posts.length - this.capacity;
    if (excess <= 0) return;
    const dropped = this.#posts.splice(0, excess);
    this.#coveredAfter = dropped.at(-1)?.id ?? this.#coveredAfter;
  }

  #trimChanges(): void {
    const excess = this.#changes.length - this.capacity;
    if (excess <= 0) return;
    const dropped = this.#changes.splice(0, excess);
    this.#changesCoveredAfter = dropped.at(-1)?.seq ?? this.#changesCoveredAfter;
  }
}
