/**
 * The room's post log: where a post is stored first (the room's own SQLite, durable before any frame
 * leaves), numbered (`seq`, its id), and from where it is copied to D1 by group commit. Why the room
 * stores before D1, and the copy's rules: docs/architecture.md#a-posts-path.
 */
import type { CopyOutcome, LoggedPost } from "../../db/posts";
import type { Post, PostsQuery } from "../../shared/post";
import { wakeBy } from "../shell/alarms";

/** Posts kept after D1 has them: more than the room's memory holds, so a woken room needs no D1 read. */
export const LOG_KEEP = 1_000;
/** How long a `client_id` is recognised: a retry later than this is a new post. */
export const CLIENT_ID_KEEP_MS = 24 * 60 * 60 * 1000;
/** Posts per D1 copy at most. */
const COPY_BATCH = 100;
/**
 * A copy starts at least this long after the previous one started, unless that one was full (the log is
 * behind): a room writes to D1 at most about twenty times a second however fast its members post, and a
 * busy room's posts share copies. D1 runs one query at a time per database, so this is what lets many
 * busy rooms share one. Only the poster's ok waits for it (by up to this long, and only when the room is
 * busy): members see a post as soon as the room has stored it.
 */
export const COPY_INTERVAL_MS = 50;
const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 5_000;

export interface PostLogOptions {
  /** D1: the highest number the room gave a post before it had a log (once, for a room new to it). */
  lastSeqInD1(): Promise<number>;
  /** D1: copies posts, in order, in one round trip. */
  copy(logged: readonly LoggedPost[]): Promise<CopyOutcome[]>;
  log(where: string, problem: unknown): void;
  /** How long a poster waits for D1 before being answered `unavailable`. */
  timeoutMs: number;
}

export interface PostDraft {
  user: { id: number; username: string };
  message: string;
  clientId: string | null;
  insertedAt: Date;
}

export type Appended =
  | { kind: "stored"; post: Post }
  /** The `client_id` was used before: the original's number, and the post itself while the log still has it. */
  | { kind: "duplicate"; seq: number; post: Post | undefined };

/** What a poster is answered once the copy is settled. */
export type Confirmation = { kind: "in D1"; post: Post } | { kind: "unavailable" } | { kind: "gone" };

interface LogRow extends Record<string, SqlStorageValue> {
  seq: number;
  user_id: number;
  username: string;
  message: string;
  inserted_at: number;
  client_id: string | null;
}

interface Waiter {
  post: Post;
  settle(confirmation: Confirmation): void;
}

/** Posts settled otherwise than "in D1 as numbered" are rare (a very old client_id, a deleted user). */
const SETTLED_OTHERWISE_KEPT = 1_000;

export class PostLog {
  #lastSeq: number | undefined;
  #starting: Promise<void> | undefined;
  #copiedThrough: number;
  #copying = false;
  #retryMs = RETRY_FIRST_MS;
  /** Not before this may a copy be tried again (after a failure); 0 when D1 answered last time. */
  #retryAt = 0;
  #lastCopyAt = 0;
  /** The last copy was full: more were waiting, so the next goes at once. */
  #behind = false;
  readonly #waiters = new Set<Waiter>();
  /** Posts that D1 refused to store under their own number, and what it holds for them instead. */
  readonly #settledOtherwise = new Map<number, Confirmation>();

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly options: PostLogOptions,
  ) {
    storage.sql.exec(`CREATE TABLE IF NOT EXISTS post_log (
      seq INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, username TEXT NOT NULL, message TEXT NOT NULL,
      inserted_at INTEGER NOT NULL, client_id TEXT
    )`);
    // Kept apart from the posts, and for a day rather than for the newest posts: a phone that lost its ok
    // and comes back an hour later is still recognised, however busy the room was meanwhile.
    storage.sql.exec(`CREATE TABLE IF NOT EXISTS client_ids (
      user_id INTEGER NOT NULL, client_id TEXT NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL,
      PRIMARY KEY (user_id, client_id)
    )`);
    storage.sql.exec("CREATE INDEX IF NOT EXISTS client_ids_at ON client_ids (at)");
    this.#copiedThrough = storage.kv.get<number>("copiedThrough") ?? 0;
    const last = storage.sql.exec<{ seq: number | null }>("SELECT max(seq) AS seq FROM post_log").one().seq;
    if (last !== null) this.#lastSeq = last;
  }

  /** Resolves once the room knows its next number: at once, but for a room whose log is still empty. */
  ready(): Promise<void> {
    if (this.#lastSeq !== undefined) return Promise.resolve();
    this.#starting ??= this.options.lastSeqInD1().then(
      (seq) => {
        this.#lastSeq ??= seq;
        this.#copiedThrough = Math.max(this.#copiedThrough, seq);
      },
      (problem) => {
        this.#starting = undefined;
        throw problem;
      },
    );
    return this.#starting;
  }

  /** True once the log holds every post of the room: it began with the room's first post. */
  get complete(): boolean {
    return this.storage.kv.get<boolean>("complete") ?? false;
  }

  /**
   * Stores a post durably in the room and numbers it, or, for a `client_id` the user already used here,
   * finds the original. Synchronous: call after {@link ready}.
   */
  append(draft: PostDraft): Appended {
    if (this.#lastSeq === undefined) throw new Error("PostLog.append before ready()");
    const seq = this.#lastSeq + 1;
    if (draft.clientId !== null) {
      const claimed = this.storage.sql
        .exec(
          "INSERT INTO client_ids (user_id, client_id, seq, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING seq",
          draft.user.id,
          draft.clientId,
          seq,
          draft.insertedAt.getTime(),
        )
        .toArray();
      if (claimed.length === 0) {
        const { seq: original } = this.storage.sql
          .exec<{ seq: number }>(
            "SELECT seq FROM client_ids WHERE user_id = ? AND client_id = ?",
            draft.user.id,
            draft.clientId,
          )
          .one();
        const logged = this.storage.sql.exec<LogRow>("SELECT * FROM post_log WHERE seq = ?", original).toArray()[0];
        return { kind: "duplicate", seq: original, post: logged && toPost(logged) };
      }
    }
    this.storage.sql.exec(
      "INSERT INTO post_log (seq, user_id, username, message, inserted_at, client_id) VALUES (?, ?, ?, ?, ?, ?)",
      seq,
      draft.user.id,
      draft.user.username,
      draft.message,
      draft.insertedAt.getTime(),
      draft.clientId,
    );
    if (seq === 1 && !this.storage.kv.get("complete")) this.storage.kv.put("complete", true);
    this.#lastSeq = seq;
    this.#copySoon();
    return {
      kind: "stored",
      post: { id: seq, message: draft.message, inserted_at: draft.insertedAt.toISOString(), user: draft.user },
    };
  }

  /**
   * Resolves when D1 has the post numbered `seq` (or what it holds instead), or after `timeoutMs`: the
   * poster is then answered `unavailable`, and a retry with the same `client_id` is recognised here
   * rather than stored again.
   */
  confirmed(post: Post): Promise<Confirmation> {
    const otherwise = this.#settledOtherwise.get(post.id);
    if (otherwise) return Promise.resolve(otherwise);
    if (post.id <= this.#copiedThrough) return Promise.resolve({ kind: "in D1", post });
    return new Promise((resolve) => {
      const timer = setTimeout(() => waiter.settle({ kind: "unavailable" }), this.options.timeoutMs);
      const waiter: Waiter = {
        post,
        settle: (confirmation) => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          resolve(confirmation);
        },
      };
      this.#waiters.add(waiter);
    });
  }

  /** The newest `limit` posts in the log, oldest first. */
  newest(limit: number): Post[] {
    return this.range({ limit });
  }

  /** The log's part of a page of posts (see {@link PostsQuery}), oldest first. */
  range({ after, before = Number.MAX_SAFE_INTEGER, limit }: PostsQuery): Post[] {
    // Catching up takes the oldest after `after`; scrolling back (or neither) the newest before `before`.
    const newestFirst = after === undefined;
    const order = newestFirst ? "DESC" : "ASC";
    const rows = this.storage.sql
      .exec<LogRow>(
        `SELECT * FROM post_log WHERE seq > ? AND seq < ? ORDER BY seq ${order} LIMIT ?`,
        after ?? 0,
        before,
        limit,
      )
      .toArray();
    if (newestFirst) rows.reverse();
    return rows.map(toPost);
  }

  /** Called by the room's alarm (or a woken room): copies whatever D1 does not have yet, now. */
  resume(): void {
    this.#retryAt = 0;
    this.#copySoon();
  }

  get uncopied(): boolean {
    return this.#lastSeq !== undefined && this.#lastSeq > this.#copiedThrough;
  }

  #copySoon(): void {
    // While D1 is failing, the alarm (not every new post) decides when to try again.
    if (this.#copying || Date.now() < this.#retryAt) return;
    this.#copying = true;
    void this.#copyAll()
      .catch((problem) => this.options.log("PostLog:copy", problem))
      .finally(() => {
        this.#copying = false;
        // Logged while the last copy was finishing, or the loop ended on an error: go on (or wait).
        if (this.uncopied && Date.now() >= this.#retryAt) this.#copySoon();
      });
  }

  async #copyAll(): Promise<void> {
    while (this.uncopied) {
      const wait = this.#behind ? 0 : this.#lastCopyAt + COPY_INTERVAL_MS - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      this.#lastCopyAt = Date.now();
      const rows = this.storage.sql
        .exec<LogRow>("SELECT * FROM post_log WHERE seq > ? ORDER BY seq LIMIT ?", this.#copiedThrough, COPY_BATCH)
        .toArray();
      if (rows.length === 0) return;
      this.#behind = rows.length === COPY_BATCH;
      let outcomes: CopyOutcome[];
      try {
        outcomes = await this.options.copy(rows.map((row) => ({ post: toPost(row), clientId: row.client_id })));
      } catch (problem) {
        this.options.log("PostLog:copy to D1", problem);
        // The posts stay in the log. A blip is retried soon, in memory; a longer outage is left to the
        // alarm, so a room need not stay awake through it (it may hibernate; the log has every post).
        this.#retryAt = Date.now() + this.#retryMs;
        await wakeBy(this.storage, this.#retryAt);
        if (this.#retryMs < RETRY_MAX_MS) setTimeout(() => this.resume(), this.#retryMs);
        this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS);
        return;
      }
      this.#retryMs = RETRY_FIRST_MS;
      this.#retryAt = 0;
      rows.forEach((row, index) => {
        const outcome = outcomes[index];
        if (outcome?.kind === "duplicate") this.#settleOtherwise(row.seq, { kind: "in D1", post: outcome.original });
        if (outcome?.kind === "gone") this.#settleOtherwise(row.seq, { kind: "gone" });
      });
      this.#copiedThrough = rows.at(-1)?.seq ?? this.#copiedThrough;
      this.storage.kv.put("copiedThrough", this.#copiedThrough);
      for (const waiter of [...this.#waiters]) {
        const { post } = waiter;
        if (post.id <= this.#copiedThrough)
          waiter.settle(this.#settledOtherwise.get(post.id) ?? { kind: "in D1", post });
      }
      this.#prune();
    }
  }

  #settleOtherwise(seq: number, confirmation: Confirmation): void {
    this.#settledOtherwise.set(seq, confirmation);
    const oldest = this.#settledOtherwise.keys().next();
    if (this.#settledOtherwise.size > SETTLED_OTHERWISE_KEPT && !oldest.done)
      this.#settledOtherwise.delete(oldest.value);
    if (confirmation.kind === "in D1") {
      this.options.log(
        "PostLog:copy to D1",
        `post ${seq} repeated a client_id older than the room's log; D1 kept post ${confirmation.post.id}`,
      );
    }
  }

  #prune(): void {
    this.storage.sql.exec(
      "DELETE FROM post_log WHERE seq <= ? AND seq <= (SELECT seq FROM post_log ORDER BY seq DESC LIMIT 1 OFFSET ?)",
      this.#copiedThrough,
      LOG_KEEP,
    );
    this.storage.sql.exec("DELETE FROM client_ids WHERE at < ?", Date.now() - CLIENT_ID_KEEP_MS);
  }
}

function toPost(row: LogRow): Post {
  return {
    id: row.seq,
    message: row.message,
    inserted_at: new Date(row.inserted_at).toISOString(),
    user: { id: row.user_id, username: row.username },
  };
}
