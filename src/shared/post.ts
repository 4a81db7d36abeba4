import { codePointLength } from "./text";

/**
 * A post as every client sees it, over the socket and in pages, always as it is now: edited text, or a
 * tombstone once deleted. Shared by the worker and the browser. The optional fields are absent (not null)
 * on a post never edited or deleted, so a plain post costs no more on the wire than before they existed.
 */
export interface Post {
  /** Its number in the room: the `seq` of the change that created it. */
  id: number;
  /** "" once deleted: the text is gone everywhere. */
  message: string;
  /** ISO 8601, UTC. */
  inserted_at: string;
  user: { id: number; username: string };
  /** ISO 8601: when it was last edited. */
  edited_at?: string;
  /** ISO 8601: set once deleted (the post is then a tombstone). */
  deleted_at?: string;
  /** Who deleted it: its author, or a moderator (or the owner) of the room. */
  deleted_by?: DeletedBy;
}

export type DeletedBy = "author" | "moderator";

/** What remains of a deleted post, in the room and on every page: who wrote it and when, who deleted it and when; no text. */
export function tombstone(post: Post, deleted: { deleted_by: DeletedBy; deleted_at: string }): Post {
  const { id, inserted_at, user } = post;
  return { id, message: "", inserted_at, user, deleted_at: deleted.deleted_at, deleted_by: deleted.deleted_by };
}

/**
 * A page of a room's posts, always returned oldest first: with `after`, the oldest `limit` numbered above
 * it (catching up; 0 starts from the first post); with `before`, the newest `limit` below it (scrolling
 * back); with neither, the newest `limit`. The one shape of every history read: HTTP, the room, its log, D1.
 */
export interface PostsQuery {
  after?: number;
  before?: number;
  limit: number;
}

export const MESSAGE_MAX_LENGTH = 2000;

export type FieldCheck<T> = { ok: true; value: T } | { ok: false; error: string };

/**
 * Control characters other than newline and tab, and UTF-16 surrogates that are not part of a pair (JSON
 * can carry them as `\ud800`). Such a message is refused, never silently cleaned, so what is stored is
 * exactly what the sender meant.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
const FORBIDDEN_CHARACTERS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]|\p{Surrogate}/u;

/**
 * Trims a message and checks its length in Unicode code points (what a person counts as characters
 * for most text), so an emoji counts once, not twice as in UTF-16.
 */
export function checkMessage(raw: unknown): FieldCheck<string> {
  if (raw === undefined || raw === null) return { ok: false, error: "can't be blank" };
  if (typeof raw !== "string") return { ok: false, error: "must be a string" };
  if (FORBIDDEN_CHARACTERS.test(raw)) {
    return { ok: false, error: "must not contain control characters or unpaired surrogates" };
  }
  const message = raw.trim();
  if (message === "") return { ok: false, error: "can't be blank" };
  const length = codePointLength(message);
  if (length > MESSAGE_MAX_LENGTH) {
    return { ok: false, error: `is too long (${length} characters, at most ${MESSAGE_MAX_LENGTH})` };
  }
  return { ok: true, value: message };
}

/** A post's id as a client sends it (`edit_post`, `delete_post`): a positive whole number. */
export function checkPostId(raw: unknown): FieldCheck<number> {
  if (typeof raw !== "number" || !Number.isSafeInteger(raw) || raw < 1) {
    return { ok: false, error: "must be a post id (a positive integer)" };
  }
  return { ok: true, value: raw };
}

const CLIENT_ID_PATTERN = /^[A-Za-z0-9-]{1,64}$/;

/** The optional idempotency key of a push: absent is fine, anything but 1–64 of A-Z a-z 0-9 - is not. */
export function checkClientId(raw: unknown): FieldCheck<string | null> {
  if (raw === undefined || raw === null) return { ok: true, value: null };
  if (typeof raw !== "string" || !CLIENT_ID_PATTERN.test(raw)) {
    return { ok: false, error: "must be 1 to 64 of A-Z, a-z, 0-9 and -" };
  }
  return { ok: true, value: raw };
}
