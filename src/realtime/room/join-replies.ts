/**
 * A join's `ok` reply, encoded once per room state: between two changes of the room, every join asking for
 * the same history (the newest posts, or everything after the same seq) gets the same encoded reply, so a
 * burst of joins costs one encoding, not one per join. A join of a room of 500 long posts is a reply of a megabyte or
 * more; encoding it per join let one member's rejoins hold up everyone else's frames. A join from further
 * back than memory shares one D1 read and encoding the same way. What differs per member (their read
 * position) is spliced into the shared encoding ({@link withLastRead}), never encoded with the posts.
 */
import type { Post } from "../../shared/post";
import { CATCH_UP_LIMIT, type JoinResponse, RECENT_POSTS_LIMIT } from "../../shared/room-contract";
import type { EncodedReply } from "../phoenix/serializer";
import type { RecentPosts } from "./recent-posts";

/**
 * How many characters of encoded replies are kept at most: a few of the largest (500 posts of 2,000
 * characters), and any number of the short catch-ups most rejoins ask for.
 */
export const JOIN_REPLIES_MAX_CHARS = 4 * 1024 * 1024;

/**
 * How many replies to joins from further back than memory are kept (each up to 500 posts): the last few
 * `last_seen_id`s asked for, which a burst of rejoins asks again.
 */
export const OLDER_REPLIES_KEPT = 2;

/** A join reply as every joiner asking the same shares it: all but the member's own read position. */
type SharedResponse = Omit<JoinResponse, "last_read_id">;

/**
 * The member's join reply: the shared one with their `last_read_id` put in front. Strings are not copied
 * for this in V8 (a slice and a concatenation make ropes), and the frame is flattened once, when sent.
 */
export function withLastRead(shared: EncodedReply, lastReadId: number): EncodedReply {
  const body = shared.responseJson;
  const rest = body === "{}" ? "}" : `,${body.slice(1)}`;
  return { status: shared.status, responseJson: `{"last_read_id":${lastReadId}${rest}` };
}

/**
 * The reply once memory has moved past a join's `last_seen_seq` while the join was on its way: page over
 * HTTP from where the member is.
 */
export function missedMore(lastSeenSeq: number): EncodedReply {
  const response: SharedResponse = { posts: [], has_more: true, seq: lastSeenSeq, changes: [] };
  return { status: "ok", responseJson: JSON.stringify(response) };
}

export class JoinReplies {
  /** Replies by what was asked (`newest` or the `last_seen_seq`), for the recent posts' `version` below. */
  #cache = new Map<string, EncodedReply>();
  #chars = 0;
  #version = -1;
  /** Replies to joins from further back than memory, by `last_seen_seq`, while being read and after. */
  readonly #older = new Map<number, Promise<EncodedReply>>();

  constructor(
    private readonly recent: RecentPosts,
    private readonly maxChars = JOIN_REPLIES_MAX_CHARS,
  ) {}

  /**
   * The reply to a join with `lastSeenId` (its `last_seen_seq`; null: none, so the newest posts), from
   * memory; undefined when memory does not reach back that far (the join then reads D1). The same object
   * for the same question until the room changes.
   */
  reply(lastSeenId: number | null): EncodedReply | undefined {
    if (this.recent.version !== this.#version) {
      this.#cache.clear();
      this.#chars = 0;
      this.#version = this.recent.version;
    }
    const key = lastSeenId === null ? "newest" : String(lastSeenId);
    const cached = this.#cache.get(key);
    if (cached) return cached;
    const response = this.#response(lastSeenId);
    if (!response) return undefined;
    const reply: EncodedReply = { status: "ok", responseJson: JSON.stringify(response) };
    this.#remember(key, reply);
    return reply;
  }

  /**
   * The reply to a join from further back than memory reaches: the oldest `CATCH_UP_LIMIT` posts after
   * `lastSeenId`, read once by `read` for every join that asks while it is read and after, and `has_more`,
   * with `seq` = `lastSeenId`: the member pages every change after it over HTTP (clients that only know
   * posts page the posts after the last one). Kept across changes: memory does not reach back to
   * `lastSeenId`, so the member pages on anyway, and a page is read as the room is then. A read that fails
   * is forgotten, so the next join reads again.
   */
  older(lastSeenId: number, read: () => Promise<Post[]>): Promise<EncodedReply> {
    const kept = this.#older.get(lastSeenId);
    if (kept) return kept;
    const reply = read().then((posts): EncodedReply => {
      const response: SharedResponse = { posts, has_more: true, seq: lastSeenId, changes: [] };
      return { status: "ok", responseJson: JSON.stringify(response) };
    });
    this.#older.set(lastSeenId, reply);
    reply.catch(() => {
      if (this.#older.get(lastSeenId) === reply) this.#older.delete(lastSeenId);
    });
    for (const oldKey of this.#older.keys()) {
      if (this.#older.size <= OLDER_REPLIES_KEPT) break;
      this.#older.delete(oldKey);
    }
    return reply;
  }

  #response(lastSeenId: number | null): SharedResponse | undefined {
    const seq = this.recent.lastSeq;
    if (lastSeenId === null) {
      return { posts: this.recent.newest(RECENT_POSTS_LIMIT), has_more: false, seq, changes: [] };
    }
    const posts: Post[] | undefined = this.recent.after(lastSeenId);
    const changes = this.recent.changesAfter(lastSeenId);
    if (!posts || !changes) return undefined;
    if (posts.length > CATCH_UP_LIMIT) {
      return { posts: posts.slice(0, CATCH_UP_LIMIT), has_more: true, seq: lastSeenId, changes: [] };
    }
    return { posts, has_more: false, seq, changes };
  }

  /** Keeps the reply, dropping the oldest kept ones while they hold more than `maxChars`; never the newest. */
  #remember(key: string, reply: EncodedReply): void {
    this.#cache.set(key, reply);
    this.#chars += reply.responseJson.length;
    for (const [oldKey, old] of this.#cache) {
      if (this.#chars <= this.maxChars || oldKey === key) break;
      this.#cache.delete(oldKey);
      this.#chars -= old.responseJson.length;
    }
  }
}
