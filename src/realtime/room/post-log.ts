/**
 * The room's log: where every change of the room is stored first (the room's own SQLite, durable before any
 * frame leaves), numbered in one sequence (`seq`: a new post's seq is its id; an edit, a deletion, and later
 * other kinds of change get the next numbers too), and from where it is copied to D1 by group commit. New
 * posts are rows of `post_log` (one write each, as before changes existed), kept as they are now (an edit
 * or a deletion updates the row); every other change is a row of `change_log`. Why the room stores before
 * D1, and the copy's rules: docs/architecture.md#a-posts-path and #a-changes-path.
 */
import { type CopyOutcome, type Logged, type LoggedChange, postOf } from "../../db/posts";
import type { ReadPosition } from "../../db/read-states";
import type { DeletedBy, Post, PostsQuery } from "../../shared/post";
import type { Change } from "../../shared/room-contract";
import { Backoff } from "../shell/alarms";
import { POSITIONS_PER_COPY } from "./read-positions";

/** Posts kept after D1 has them: more than the room's memory holds, so a woken room needs no D1 read. */
export const LOG_KEEP = 1_000;
/** Other changes kept after D1 has them: more than the room's memory holds of them, likewise. */
export const CHANGE_LOG_KEEP = 1_000;
/** How long a `client_id` is recognised: a retry later than this is a new post. */
export const CLIENT_ID_KEEP_MS = 24 * 60 * 60 * 1000;
/** Posts per D1 copy at most. */
const COPY_BATCH = 100;
/** Posts waiting for a copy that memory keeps for it; beyond, the copy reads them from the log. */
export const UNSENT_KEPT = 4 * COPY_BATCH;
/**
 * A copy starts at least this long after the previous one started, unless that one was full (the log is
 * behind): a room writes to D1 at most about twenty times a second however fast its members post, and a
 * busy room's posts share copies. D1 runs one query at a time per database, so this is what lets many
 * busy rooms share one. Only the poster's ok waits for it (by up to this long, and only when the room is
 * busy): members see a post as soon as the room has stored it.
 */
export const COPY_INTERVAL_MS = 50;
/**
 * How long a moved read position waits for a copy of the log to ride along with before it is copied on its
 * own. Members' pages report what they read every 2 s; in a room that is read more than written, copying
 * each report at once cost a D1 write every 50 ms and took the post path's time (bench/README.md, "read
 * positions on the post path"). Counts reach other tabs after D1 has the position, so this is part of
 * the 2 s the issue allows them.
 */
export const POSITIONS_WAIT_MS = 500;

export interface PostLogOptions {
  /** D1: the highest number the room gave a post before it had a log (once, for a room new to it). */
  lastSeqInD1(): Promise<number>;
  /** D1: copies posts and other changes, in order, and read positions, in one round trip. */
  copy(logged: readonly Logged[], positions: readonly ReadPosition[]): Promise<CopyOutcome[]>;
  /** The read positions D1 does not have yet (read-positions.ts): they ride along with the log's copies. */
  positions?: PositionsToCopy;
  /** Told of each copy D1 took: what it carried. */
  committed?(logged: readonly Logged[], positions: readonly ReadPosition[]): void;
  /** D1 has every change through `seq` now, and their waiters are answered (search indexes after this). */
  copied?(seq: number): void;
  log(where: string, problem: unknown): void;
  /** How long a poster waits for D1 before being answered `unavailable`. */
  timeoutMs: number;
}

/** What the copy needs of the room's read positions. */
export interface PositionsToCopy {
  readonly pending: boolean;
  /** The next positions to copy (a bounded number), as they are now. */
  toCopy(): ReadPosition[];
  /** D1 has these now. */
  copied(positions: readonly ReadPosition[]): void;
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

/**
 * A change other than a new post, to be numbered and logged. A post's change (`edit`, `delete`) carries
 * the post as it is after it; a change of another kind (moderation, membership) carries `data`, which
 * joins its `seq` and `type` as it is sent to clients and copied to D1.
 */
export interface ChangeDraft {
  type: string;
  post?: Post;
  data?: Record<string, unknown>;
  at: Date;
  /** Makes it idempotent: the same `key` from the same user finds the change it made before. */
  idempotency?: { userId: number; key: string };
}

export type ChangeAppended =
  | { kind: "stored"; change: LoggedChange }
  /** The idempotency key was used before: that change's number. */
  | { kind: "duplicate"; seq: number };

interface LogRow extends Record<string, SqlStorageValue> {
  seq: number;
  user_id: number;
  username: string;
  message: string;
  inserted_at: number;
  client_id: string | null;
  edited_at: number | null;
  deleted_at: number | null;
  deleted_by: string | null;
}

interface ChangeRow extends Record<string, SqlStorageValue> {
  seq: number;
  type: string;
  post_id: number | null;
  at: number;
  /** JSON of the post as it was after this change; its text blanked once the post is deleted. */
  post: string | null;
  /** JSON of a change of another kind's `data`. */
  data: string | null;
}

interface Waiter {
  seq: number;
  /** When the poster is answered `unavailable` if D1 has not taken the change by then. */
  deadline: number;
  resolve(copied: boolean): void;
}

/**
 * How often (at most) day-old `client_id`s are dropped. They are recognised for a day; dropping them a
 * minute late costs nothing, and a statement per copy cost a busy room's posts their share of it.
 */
const CLIENT_IDS_PRUNE_EVERY_MS = 60_000;

/** Posts settled otherwise than "in D1 as numbered" are rare (a very old client_id, a deleted user). */
const SETTLED_OTHERWISE_KEPT = 1_000;

export class PostLog {
  #lastSeq: number | undefined;
  /** The highest seq in `change_log` (0: none), so a copy reads it only when it holds something new. */
  #lastChangeSeq: number;
  #starting: Promise<void> | undefined;
  #copiedThrough: number;
  #copying = false;
  /** While D1 is failing, the alarm (not every new post) decides when to try again. */
  readonly #backoff: Backoff;
  #lastCopyAt = 0;
  /** When the read positions waiting now may be copied on their own; undefined: none is waiting (or now). */
  #positionsDueAt: number | undefined;
  #positionsTimer: ReturnType<typeof setTimeout> | undefined;
  /** The last copy was full: more were waiting, so the next goes at once. */
  #behind = false;
  /** In the order they came, so their deadlines ascend: one timer serves them all. */
  readonly #waiters = new Set<Waiter>();
  #expiryTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * The posts appended since D1's copy, in seq order, while nothing else is waiting to be copied: the next
   * copy takes them from here instead of reading back what it just wrote. Undefined when the log holds
   * entries memory does not (a woken room, a change other than a post): the copy then reads the log.
   */
  #unsent: Array<{ seq: number; logged: Logged }> | undefined;
  /** Rows in `post_log`, so a copy deletes exactly those beyond LOG_KEEP without counting them. */
  #logRows: number;
  #clientIdsPrunedAt = 0;
  /** Posts that D1 refused to store under their own number, and what it holds for them instead. */
  readonly #settledOtherwise = new Map<number, Confirmation>();

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly options: PostLogOptions,
  ) {
    storage.sql.exec(`CREATE TABLE IF NOT EXISTS post_log (
      seq INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, username TEXT NOT NULL, message TEXT NOT NULL,
      inserted_at INTEGER NOT NULL, client_id TEXT, edited_at INTEGER, deleted_at INTEGER, deleted_by TEXT
    )`);
    addEditColumns(storage);
    storage.sql.exec(`CREATE TABLE IF NOT EXISTS change_log (
      seq INTEGER PRIMARY KEY, type TEXT NOT NULL, post_id INTEGER, at INTEGER NOT NULL, post TEXT, data TEXT
    )`);
    storage.sql.exec("CREATE INDEX IF NOT EXISTS change_log_post ON change_log (post_id)");
    // Kept apart from the posts, and for a day rather than for the newest posts: a phone that lost its ok
    // and comes back an hour later is still recognised, however busy the room was meanwhile.
    storage.sql.exec(`CREATE TABLE IF NOT EXISTS client_ids (
      user_id INTEGER NOT NULL, client_id TEXT NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL,
      PRIMARY KEY (user_id, client_id)
    )`);
    storage.sql.exec("CREATE INDEX IF NOT EXISTS client_ids_at ON client_ids (at)");
    this.#copiedThrough = storage.kv.get<number>("copiedThrough") ?? 0;
    this.#backoff = new Backoff(storage, () => this.#copySoon());
    const last = storage.sql.exec<{ seq: number | null }>("SELECT max(seq) AS seq FROM post_log").one().seq;
    const lastChange = storage.sql.exec<{ seq: number | null }>("SELECT max(seq) AS seq FROM change_log").one().seq;
    this.#lastChangeSeq = lastChange ?? 0;
    if (last !== null || lastChange !== null) this.#lastSeq = Math.max(last ?? 0, lastChange ?? 0);
    this.#logRows = storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM post_log").one().n;
    this.#unsent = this.#lastSeq === undefined || this.#lastSeq <= this.#copiedThrough ? [] : undefined;
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

  /** The room's last seq (every change up to it is logged); undefined until {@link ready}. */
  get lastSeq(): number | undefined {
    return this.#lastSeq;
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
    if (draft.clientId !== null && !this.#claim(draft.user.id, draft.clientId, seq, draft.insertedAt.getTime())) {
      const original = this.#claimedSeq(draft.user.id, draft.clientId);
      const logged = this.storage.sql.exec<LogRow>("SELECT * FROM post_log WHERE seq = ?", original).toArray()[0];
      return { kind: "duplicate", seq: original, post: logged && toPost(logged) };
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
    this.#logRows += 1;
    const post: Post = {
      id: seq,
      message: draft.message,
      inserted_at: draft.insertedAt.toISOString(),
      user: { id: draft.user.id, username: draft.user.username },
    };
    this.#unsent?.push({ seq, logged: { post, clientId: draft.clientId } });
    // D1 is behind (an outage): memory would grow with every post, so the copy reads the log again.
    if (this.#unsent && this.#unsent.length > UNSENT_KEPT) this.#unsent = undefined;
    this.#copySoon();
    return { kind: "stored", post };
  }

  /**
   * Stores a change other than a new post durably in the room and numbers it next, or, for an idempotency
   * key its user used before, finds that change's number. A post's change also makes the post's row in
   * `post_log` (while the log has it) what the change made of it, and a deletion blanks the post's text in
   * its earlier changes: once deleted, its text is nowhere in the room. Synchronous: call after {@link ready}.
   */
  appendChange(draft: ChangeDraft): ChangeAppended {
    if (this.#lastSeq === undefined) throw new Error("PostLog.appendChange before ready()");
    const seq = this.#lastSeq + 1;
    const at = draft.at.getTime();
    if (draft.idempotency && !this.#claim(draft.idempotency.userId, draft.idempotency.key, seq, at)) {
      return { kind: "duplicate", seq: this.#claimedSeq(draft.idempotency.userId, draft.idempotency.key) };
    }
    const post = draft.post ?? null;
    if (post) {
      this.storage.sql.exec(
        "UPDATE post_log SET message = ?, edited_at = ?, deleted_at = ?, deleted_by = ? WHERE seq = ?",
        post.message,
        timeOf(post.edited_at),
        timeOf(post.deleted_at),
        post.deleted_by ?? null,
        post.id,
      );
      if (post.deleted_at !== undefined) {
        this.storage.sql.exec(
          "UPDATE change_log SET post = json_set(post, '$.message', '') WHERE post_id = ?",
          post.id,
        );
      }
    }
    const data = draft.data ?? null;
    this.storage.sql.exec(
      "INSERT INTO change_log (seq, type, post_id, at, post, data) VALUES (?, ?, ?, ?, ?, ?)",
      seq,
      draft.type,
      post?.id ?? null,
      at,
      post && JSON.stringify(post),
      data && JSON.stringify(data),
    );
    this.#lastSeq = seq;
    this.#lastChangeSeq = seq;
    // The copy reads the log again until it has caught up: posts as they now are, with this change in order.
    this.#unsent = undefined;
    this.#copySoon();
    return { kind: "stored", change: { seq, type: draft.type, postSeq: post?.id ?? null, at, post, data } };
  }

  /**
   * Claims `key` for `userId`'s change numbered `seq`: false when they used it before. Without RETURNING,
   * which SQLite answers through a temporary table: the claim was a post's costliest statement.
   */
  #claim(userId: number, key: string, seq: number, at: number): boolean {
    return (
      this.storage.sql.exec(
        "INSERT OR IGNORE INTO client_ids (user_id, client_id, seq, at) VALUES (?, ?, ?, ?)",
        userId,
        key,
        seq,
        at,
      ).rowsWritten > 0
    );
  }

  /** The seq a claim that failed found: the change `userId` made before with `key` (its row exists). */
  #claimedSeq(userId: number, key: string): number {
    const seq = this.claimed(userId, key);
    if (seq === undefined) throw new Error("PostLog: a client_id claim failed, yet no row holds it");
    return seq;
  }

  /** The seq of the change `userId` made with this idempotency key (within the last day), if any. */
  claimed(userId: number, key: string): number | undefined {
    return this.storage.sql
      .exec<{ seq: number }>("SELECT seq FROM client_ids WHERE user_id = ? AND client_id = ?", userId, key)
      .toArray()[0]?.seq;
  }

  /**
   * Resolves when D1 has the post numbered `seq` (or what it holds instead), or after `timeoutMs`: the
   * poster is then answered `unavailable`, and a retry with the same `client_id` is recognised here
   * rather than stored again.
   */
  async confirmed(post: Post): Promise<Confirmation> {
    const otherwise = this.#settledOtherwise.get(post.id);
    if (otherwise) return otherwise;
    if (!(await this.copied(post.id))) return { kind: "unavailable" };
    return this.#settledOtherwise.get(post.id) ?? { kind: "in D1", post };
  }

  /** Resolves true when D1 has every change up to `seq`, or false after `timeoutMs` (answered `unavailable`). */
  copied(seq: number): Promise<boolean> {
    if (seq <= this.#copiedThrough) return Promise.resolve(true);
    return new Promise((resolve) => {
      this.#waiters.add({ seq, deadline: Date.now() + this.options.timeoutMs, resolve });
      // One timer for every waiter rather than one each: a busy room's posts each paid for setting and
      // clearing theirs.
      this.#expiryTimer ??= setTimeout(() => this.#expire(), this.options.timeoutMs);
    });
  }

  /** Answers the waiters whose deadline passed, and sets the timer for the next one. */
  #expire(): void {
    this.#expiryTimer = undefined;
    const now = Date.now();
    for (const waiter of this.#waiters) {
      if (waiter.deadline > now) {
        this.#expiryTimer = setTimeout(() => this.#expire(), waiter.deadline - now);
        return;
      }
      this.#waiters.delete(waiter);
      waiter.resolve(false);
    }
  }

  /** Answers the waiters D1 has every change for now. */
  #answerCopied(): void {
    for (const waiter of this.#waiters) {
      if (waiter.seq > this.#copiedThrough) continue;
      this.#waiters.delete(waiter);
      waiter.resolve(true);
    }
    if (this.#waiters.size === 0 && this.#expiryTimer !== undefined) {
      clearTimeout(this.#expiryTimer);
      this.#expiryTimer = undefined;
    }
  }

  /**
   * The post numbered `id` as the log has it now: its row in `post_log`, or else the post as its latest
   * change left it; undefined when the log has neither (D1 then has it as it is, if anyone does).
   */
  current(id: number): Post | undefined {
    const row = this.storage.sql.exec<LogRow>("SELECT * FROM post_log WHERE seq = ?", id).toArray()[0];
    if (row) return toPost(row);
    const change = this.storage.sql
      .exec<{ post: string }>("SELECT post FROM change_log WHERE post_id = ? ORDER BY seq DESC LIMIT 1", id)
      .toArray()[0];
    return change ? (JSON.parse(change.post) as Post) : undefined;
  }

  /** The numbers of the posts in the log that `userId` made since `sinceMs` and that are not deleted. */
  postIdsBy(userId: number, sinceMs: number): number[] {
    return this.storage.sql
      .exec<{ seq: number }>(
        "SELECT seq FROM post_log WHERE user_id = ? AND inserted_at >= ? AND deleted_at IS NULL",
        userId,
        sinceMs,
      )
      .toArray()
      .map((row) => row.seq);
  }

  /**
   * `posts` (read from D1, which may lag behind the room) each as it is now: a post the log has a newer
   * version of (an edit or deletion not copied yet) is replaced by it.
   */
  overlay(posts: readonly Post[]): Post[] {
    if (posts.length === 0 || this.#lastChangeSeq === 0) return [...posts];
    const ids = posts.map((post) => post.id);
    const newer = new Map<number, Post>();
    const rows = this.storage.sql.exec<{ post_id: number; post: string }>(
      "SELECT post_id, post FROM change_log WHERE post_id BETWEEN ? AND ? ORDER BY seq",
      Math.min(...ids),
      Math.max(...ids),
    );
    for (const row of rows) newer.set(row.post_id, JSON.parse(row.post) as Post);
    if (newer.size === 0) return [...posts];
    return posts.map((post) => newer.get(post.id) ?? post);
  }

  /**
   * The newest `limit` changes other than new posts, oldest first, and how far back they are complete:
   * every such change with a seq above `coveredAfter` is among them (for the room's memory).
   */
  recentChanges(limit: number): { changes: LoggedChange[]; coveredAfter: number } {
    const rows = this.storage.sql
      .exec<ChangeRow>("SELECT * FROM change_log ORDER BY seq DESC LIMIT ?", limit)
      .toArray()
      .reverse();
    const pruned = this.storage.kv.get<number>("changesPrunedThrough") ?? 0;
    const coveredAfter = rows.length < limit ? pruned : (rows[0]?.seq ?? 1) - 1;
    return { changes: rows.map(toLoggedChange), coveredAfter };
  }

  /** The log's part of a page of changes: the oldest `limit` with a seq above `after`, posts as they are now. */
  changesAfter(after: number, limit: number): Change[] {
    const posts = this.range({ after, limit }).map((post): Change => ({ seq: post.id, type: "post", post }));
    if (this.#lastChangeSeq <= after) return posts;
    const others = this.storage.sql
      .exec<ChangeRow>("SELECT * FROM change_log WHERE seq > ? ORDER BY seq LIMIT ?", after, limit)
      .toArray()
      .map((row) => changeOf(toLoggedChange(row)));
    return [...posts, ...others].sort((a, b) => a.seq - b.seq).slice(0, limit);
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
    this.#backoff.clear();
    this.#copySoon();
  }

  /** Every change through this seq is in D1. */
  get copiedThrough(): number {
    return this.#copiedThrough;
  }

  get uncopied(): boolean {
    return this.#lastSeq !== undefined && this.#lastSeq > this.#copiedThrough;
  }

  /** Whether D1 lacks anything: an entry of the log, or a read position. */
  get copyPending(): boolean {
    return this.uncopied || (this.options.positions?.pending ?? false);
  }

  /**
   * A read position moved: it goes with the next copy of the log, or on its own once it has waited
   * {@link POSITIONS_WAIT_MS} (unless D1 is failing).
   */
  positionsChanged(): void {
    if (this.#positionsDueAt !== undefined) return;
    this.#positionsDueAt = Date.now() + POSITIONS_WAIT_MS;
    this.#positionsTimer = setTimeout(() => {
      this.#positionsTimer = undefined;
      this.#copySoon();
    }, POSITIONS_WAIT_MS);
  }

  /** Positions are waiting, and have waited long enough to be copied on their own (or a woken room has them). */
  #positionsDue(): boolean {
    if (!(this.options.positions?.pending ?? false)) return false;
    return this.#positionsDueAt === undefined || Date.now() >= this.#positionsDueAt;
  }

  /** Something is to be copied now: an entry of the log, or positions that are due. */
  #copyWanted(): boolean {
    return this.uncopied || this.#positionsDue();
  }

  /** The next batch to copy: the oldest entries D1 does not have, posts and other changes in one order. */
  #nextBatch(): Array<{ seq: number; logged: Logged }> {
    if (this.#unsent) return this.#unsent.slice(0, COPY_BATCH);
    const posts = this.storage.sql
      .exec<LogRow>("SELECT * FROM post_log WHERE seq > ? ORDER BY seq LIMIT ?", this.#copiedThrough, COPY_BATCH)
      .toArray()
      .map((row) => ({ seq: row.seq, logged: { post: toPost(row), clientId: row.client_id } as Logged }));
    if (this.#lastChangeSeq <= this.#copiedThrough) return posts;
    const changes = this.storage.sql
      .exec<ChangeRow>("SELECT * FROM change_log WHERE seq > ? ORDER BY seq LIMIT ?", this.#copiedThrough, COPY_BATCH)
      .toArray()
      .map((row) => ({ seq: row.seq, logged: { change: toLoggedChange(row) } as Logged }));
    return [...posts, ...changes].sort((a, b) => a.seq - b.seq).slice(0, COPY_BATCH);
  }

  #copySoon(): void {
    if (this.#copying || this.#backoff.waiting) return;
    this.#copying = true;
    void this.#copyAll()
      .catch((problem) => this.options.log("PostLog:copy", problem))
      .finally(() => {
        this.#copying = false;
        // Logged while the last copy was finishing, or the loop ended on an error: go on (or wait).
        if (this.#copyWanted()) this.#copySoon();
      });
  }

  async #copyAll(): Promise<void> {
    while (this.#copyWanted()) {
      const wait = this.#behind ? 0 : this.#lastCopyAt + COPY_INTERVAL_MS - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      this.#lastCopyAt = Date.now();
      const rows = this.#nextBatch();
      // Read positions ride along: those that moved since the last copy, in the same round trip.
      const positions = rows.length > 0 || this.#positionsDue() ? (this.options.positions?.toCopy() ?? []) : [];
      if (rows.length === 0 && positions.length === 0) return;
      this.#behind = rows.length === COPY_BATCH || positions.length === POSITIONS_PER_COPY;
      const logged = rows.map((row) => row.logged);
      let outcomes: CopyOutcome[];
      try {
        outcomes = await this.options.copy(logged, positions);
      } catch (problem) {
        this.options.log("PostLog:copy to D1", problem);
        // The posts stay in the log (a room may hibernate through an outage: the log has every post).
        await this.#backoff.failed();
        return;
      }
      this.#backoff.succeeded();
      rows.forEach((row, index) => {
        const outcome = outcomes[index];
        if (outcome?.kind === "duplicate") this.#settleOtherwise(row.seq, { kind: "in D1", post: outcome.original });
        if (outcome?.kind === "gone") this.#settleOtherwise(row.seq, { kind: "gone" });
      });
      if (positions.length > 0) {
        this.options.positions?.copied(positions);
        clearTimeout(this.#positionsTimer);
        this.#positionsTimer = undefined;
        this.#positionsDueAt = undefined;
        // Moved while this copy was under way: they wait for the next.
        if (this.options.positions?.pending) this.positionsChanged();
      }
      try {
        this.options.committed?.(logged, positions);
      } catch (problem) {
        this.options.log("PostLog:after copy", problem);
      }
      if (rows.length === 0) continue;
      this.#copiedThrough = rows.at(-1)?.seq ?? this.#copiedThrough;
      this.storage.kv.put("copiedThrough", this.#copiedThrough);
      if (this.#unsent) this.#unsent.splice(0, rows.length);
      else if (this.#lastSeq === this.#copiedThrough) this.#unsent = [];
      this.#answerCopied();
      this.options.copied?.(this.#copiedThrough);
      this.#prune(logged.some((entry) => "change" in entry));
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

  /**
   * Deletes the oldest posts D1 has beyond the newest LOG_KEEP (counted in memory: finding the LOG_KEEP-th
   * newest on every copy walked a thousand rows each time), the day-old `client_id`s now and then, and the
   * other changes beyond CHANGE_LOG_KEEP when the copy carried some (only then are there more).
   */
  #prune(copiedChanges: boolean): void {
    const excess = this.#logRows - LOG_KEEP;
    if (excess > 0) {
      this.#logRows -= this.storage.sql
        .exec(
          "DELETE FROM post_log WHERE seq IN (SELECT seq FROM post_log WHERE seq <= ? ORDER BY seq LIMIT ?) RETURNING seq",
          this.#copiedThrough,
          excess,
        )
        .toArray().length;
    }
    const now = Date.now();
    if (now - this.#clientIdsPrunedAt >= CLIENT_IDS_PRUNE_EVERY_MS) {
      this.#clientIdsPrunedAt = now;
      this.storage.sql.exec("DELETE FROM client_ids WHERE at < ?", now - CLIENT_ID_KEEP_MS);
    }
    if (copiedChanges) this.#pruneChanges();
  }

  /** Keeps the newest CHANGE_LOG_KEEP other changes once D1 has them, and says how far back the rest reach. */
  #pruneChanges(): void {
    const oldestKept = this.storage.sql
      .exec<{ seq: number }>("SELECT seq FROM change_log ORDER BY seq DESC LIMIT 1 OFFSET ?", CHANGE_LOG_KEEP)
      .toArray()[0];
    if (!oldestKept) return;
    const through = Math.min(oldestKept.seq, this.#copiedThrough);
    const pruned = this.storage.sql.exec("DELETE FROM change_log WHERE seq <= ?", through).rowsWritten;
    if (pruned > 0) this.storage.kv.put("changesPrunedThrough", through);
  }
}

/**
 * Adds the columns an edit or deletion sets to a room's `post_log` made before edits existed (once: a
 * room made since has them from its CREATE TABLE).
 */
function addEditColumns(storage: DurableObjectStorage): void {
  if (storage.kv.get<boolean>("postLogEdits")) return;
  const columns = new Set(
    storage.sql
      .exec<{ name: string }>("SELECT name FROM pragma_table_info('post_log')")
      .toArray()
      .map((c) => c.name),
  );
  for (const [name, type] of [
    ["edited_at", "INTEGER"],
    ["deleted_at", "INTEGER"],
    ["deleted_by", "TEXT"],
  ]) {
    if (!columns.has(name as string)) storage.sql.exec(`ALTER TABLE post_log ADD COLUMN ${name} ${type}`);
  }
  storage.kv.put("postLogEdits", true);
}

function toPost(row: LogRow): Post {
  return postOf({
    seq: row.seq,
    message: row.message,
    insertedAt: row.inserted_at,
    userId: row.user_id,
    username: row.username,
    editedAt: row.edited_at ?? null,
    deletedAt: row.deleted_at ?? null,
    deletedBy: (row.deleted_by as DeletedBy | null) ?? null,
  });
}

function toLoggedChange(row: ChangeRow): LoggedChange {
  return {
    seq: row.seq,
    type: row.type,
    postSeq: row.post_id,
    at: row.at,
    post: row.post === null ? null : (JSON.parse(row.post) as Post),
    data: row.data === null ? null : (JSON.parse(row.data) as Record<string, unknown>),
  };
}

/** A logged change as clients see it: a post's change with its post, another kind with its data. */
export function changeOf(change: LoggedChange): Change {
  return change.post
    ? { seq: change.seq, type: change.type, post: change.post }
    : { ...change.data, seq: change.seq, type: change.type };
}

function timeOf(iso: string | undefined): number | null {
  return iso === undefined ? null : Date.parse(iso);
}
