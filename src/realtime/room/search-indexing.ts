/**
 * Brings D1's search index up to the posts this room has copied there, after each copy and never in it: the
 * copy answers posters `ok` (post-log.ts), and indexing is no part of what an `ok` promises. One call at a
 * time, at most one a second (src/db/search-index.ts: it indexes whatever is waiting, so a call covers
 * every copy finished before it began); a failure is retried with backoff and by the room's alarm, and a
 * room that wakes finishes what it had not indexed, so search lags a post by about a second and misses
 * none. Why: docs/search.md.
 */
import { Backoff } from "../shell/alarms";

/**
 * An indexing call starts at least this long after the previous one started. Each call is a D1 round trip
 * of its own, which costs more than the indexing it holds: one after every copy cost a post more than the
 * trigger inside the copy had (bench/README.md, "Search off the post's path"). At most one a second, a busy
 * room's posts share a call, and a quiet room's post still goes in right after its copy.
 */
export const INDEX_INTERVAL_MS = 1_000;

export interface SearchIndexingOptions {
  /** D1: indexes what is waiting; true when more is (call again). */
  index(): Promise<boolean>;
  log(where: string, problem: unknown): void;
}

export class SearchIndexing {
  /** Every post the room had copied to D1 through this seq is in the index (kept across hibernation). */
  #indexedThrough: number;
  /** What the room has copied to D1 through (its log's seq). */
  #copiedThrough = 0;
  #indexing = false;
  #lastIndexAt = 0;
  readonly #backoff: Backoff;

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly options: SearchIndexingOptions,
  ) {
    this.#indexedThrough = storage.kv.get<number>("indexedThrough") ?? 0;
    this.#backoff = new Backoff(storage, () => this.#indexSoon());
  }

  /** D1 has the room's changes through `seq` (after a copy, or as a woken room finds them): index them. */
  copied(seq: number): void {
    this.#copiedThrough = Math.max(this.#copiedThrough, seq);
    this.#indexSoon();
  }

  /** Called by the room's alarm (or a woken room): tries again now, even while backing off. */
  resume(copiedThrough: number): void {
    this.#backoff.clear();
    this.copied(copiedThrough);
  }

  get #behind(): boolean {
    return this.#copiedThrough > this.#indexedThrough;
  }

  #indexSoon(): void {
    if (this.#indexing || !this.#behind || this.#backoff.waiting) return;
    this.#indexing = true;
    void this.#indexAll()
      .catch((problem) => this.options.log("SearchIndexing", problem))
      .finally(() => {
        this.#indexing = false;
        // Copied while the last call was on its way: go on (or wait, after a failure).
        this.#indexSoon();
      });
  }

  async #indexAll(): Promise<void> {
    while (this.#behind) {
      const wait = this.#lastIndexAt + INDEX_INTERVAL_MS - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      this.#lastIndexAt = Date.now();
      const through = this.#copiedThrough;
      let more: boolean;
      try {
        more = await this.options.index();
      } catch (problem) {
        this.options.log("SearchIndexing: index in D1", problem);
        await this.#backoff.failed();
        return;
      }
      this.#backoff.succeeded();
      if (!more) {
        this.#indexedThrough = through;
        this.storage.kv.put("indexedThrough", through);
      }
    }
  }
}
