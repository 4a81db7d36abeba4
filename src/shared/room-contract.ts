/**
 * The room channel's own contract (topic `room:ROOM`), on top of the Phoenix protocol. Shared by the
 * Durable Object and the browser client so both sides name events and fields the same way.
 */
import { SocketErrorReason } from "../realtime/phoenix/protocol";
import type { DeletedBy, Post } from "./post";

export const RoomEvent = {
  /** Client push `{message, client_id?}`, replied with the stored Post; also the broadcast of every stored Post. */
  newPost: "new_post",
  /** Client push `{id, message, client_id?}`: the author edits a post; replied with the updated Post and its `seq`. */
  editPost: "edit_post",
  /** Client push `{id}`: the author, or a moderator or the owner, deletes a post; replied with {@link PostDeleted}. */
  deletePost: "delete_post",
  /** Broadcast of every edit: the whole updated Post with the edit's `seq` ({@link PostUpdated}). */
  postUpdated: "post_updated",
  /** Broadcast of every deletion: {@link PostDeleted}. */
  postDeleted: "post_deleted",
  /** Client push `{}` while someone types; relayed to the other members as `{user: {id, username}}`. */
  typing: "typing",
  /**
   * Client push `{up_to_id}`: you have read every post up to this id. Your read position only moves
   * forward (a lower id leaves it where it is, so two tabs end at the furthest); replied `{last_read_id}`.
   */
  markRead: "mark_read",
  /** Client push `{from_id}`: this post and every later one are unread again; replied `{last_read_id}`. */
  markUnread: "mark_unread",
  /** Pushed to a member right after its join: everyone present (Phoenix.Presence's `presence_state`). */
  presenceState: "presence_state",
  /** Broadcast when members join or leave: `{joins, leaves}` (Phoenix.Presence's `presence_diff`). */
  presenceDiff: "presence_diff",
  /**
   * Pushed to a member of a private room whose membership ended (`{reason: "removed" | "left"}`), right
   * before the channel's `phx_close`: the join is over, and a rejoin is refused with `no such room`. Also
   * pushed, with `{reason: "banned"}`, to a member banned from any room; their rejoin is refused `banned`.
   */
  membershipEnded: "membership_ended",
  /**
   * Pushed to a member (their own channel only) with {@link ModerationState}: right after their join when
   * anything applies to them (a mute, read-only, slow mode; nothing is pushed when none does), and whenever
   * it changes while they are joined (muted, unmuted, the room's modes, their role).
   */
  moderation: "moderation",
} as const;

/** The most posts a catch-up join reply holds; `has_more` says there are more to page through. */
export const CATCH_UP_LIMIT = 500;

/** How many of the newest posts a plain join (no `last_seen_id`) replies with. */
export const RECENT_POSTS_LIMIT = 50;

/** A typing member is relayed at most once per this many milliseconds; extra pushes are acknowledged only. */
export const TYPING_RELAY_INTERVAL_MS = 2_000;

/** `phx_join` payload; every field is optional. */
export interface JoinParams {
  /** Receive only posts that `@mention` you (the join reply's history is not filtered). */
  mentions_only?: boolean;
  /**
   * Catch up: you have applied every change of the room up to this `seq`; the reply holds every change
   * after it (new posts in `posts`, edits and deletions of older posts in `changes`). Wins over `last_seen_id`.
   */
  last_seen_seq?: number;
  /**
   * The older form of `last_seen_seq`, from before edits existed (a post's id is its seq): the reply holds
   * the posts with a greater id, and the changes of older posts since, which such a client may ignore.
   */
  last_seen_id?: number;
}

export interface JoinResponse {
  /** Posts created after `last_seen_seq` (or the newest 50 on a plain join), oldest first, as they are now. */
  posts: Post[];
  /**
   * True when you missed more than a reply holds (more than {@link CATCH_UP_LIMIT} posts, or further back
   * than the room's memory): page on with `GET /rooms/ROOM/changes?after_seq=SEQ` (`seq` below) until a
   * page says `has_more: false` (older clients page `GET /rooms/ROOM/posts?after=ID`).
   */
  has_more: boolean;
  /**
   * With `has_more: false`, the room's current seq: you now have every change up to it; rejoin with it as
   * `last_seen_seq`. With `has_more: true`, where to page on from (the seq you sent).
   */
  seq: number;
  /**
   * The changes, after `last_seen_seq`, of posts you already had (id at most `last_seen_seq`): one per
   * post, its latest (the post as it is now), in seq order; and any other change after it. Empty on a
   * plain join and with `has_more`.
   */
  changes: Change[];
  /**
   * Your read position in the room after this join: the id of the last post you have read (0: none). Made
   * at the room's last seq on your first join (or when you became a member), so nothing said before you
   * came is unread; moved by `mark_read` and `mark_unread`.
   */
  last_read_id: number;
}

/**
 * One change of a room's stream, in join replies (`changes`) and `GET /rooms/ROOM/changes`: its `seq`, its
 * `type` (`post`: a post was created, its seq is its id; `edit`; `delete`; later kinds may come: moderation,
 * membership), and what it says. A change that carries `post` carries the post as it is now (a later
 * edit's text, or its tombstone): show that. A change of a type a client does not know must be skipped,
 * its `seq` still counted as seen.
 */
export interface Change {
  seq: number;
  type: string;
  post?: Post;
  [field: string]: unknown;
}

/** The `post_updated` broadcast and the `edit_post` reply: the whole updated Post, and the edit's seq. */
export type PostUpdated = Post & { seq: number };

/** The `post_deleted` broadcast and the `delete_post` reply. */
export interface PostDeleted {
  id: number;
  deleted_by: DeletedBy;
  /** ISO 8601. */
  deleted_at: string;
  seq: number;
}

export interface EditPostParams {
  id: number;
  message: string;
  /** Makes the push idempotent, as for `new_post` (per post: the same id on another post is another edit). */
  client_id?: string;
}

export interface DeletePostParams {
  id: number;
}

export interface MarkReadParams {
  /** An integer from 0 to the room's last seq. */
  up_to_id: number;
}

export interface MarkUnreadParams {
  /** An integer from 1 to the room's last seq: the first post to count as unread again. */
  from_id: number;
}

/** The reply to `mark_read` and `mark_unread`: your read position now. */
export interface ReadPositionReply {
  last_read_id: number;
}

export interface NewPostParams {
  message: string;
  /**
   * Makes the push idempotent: 1–64 of A-Z a-z 0-9 and `-` (a UUID fits). Pushing the same `client_id`
   * again in the same room (a retry, within 24 hours) answers ok with the original post and broadcasts
   * nothing new.
   */
  client_id?: string;
}

/** The `typing` relay's payload. */
export interface TypingPayload {
  user: { id: number; username: string };
}

/** What a member's composer needs to know: the `moderation` push's payload. */
export interface ModerationState {
  /** ISO 8601: until when you may not post, edit or type; null when you are not muted. */
  muted_until: string | null;
  /** Only the owner and moderators post. */
  read_only: boolean;
  /** Seconds a member waits between two posts; 0: off. */
  slow_mode_seconds: number;
  /** You are the owner or a moderator: read-only and slow mode do not apply to you (a mute does). */
  exempt: boolean;
}

/** The most a mute lasts (28 days) and the least (1 minute), in seconds. */
export const MUTE_SECONDS = { min: 60, max: 28 * 24 * 3600 } as const;

/**
 * The longest slow mode, in seconds (6 hours): beyond it a room is in effect read-only, which exists for
 * that; and the room keeps each poster's last post time only this long.
 */
export const SLOW_MODE_MAX_SECONDS = 6 * 3600;

/** One presence entry per open join; a person with two tabs is one key (their user id) with two metas. */
export interface PresenceMeta {
  username: string;
  /** ISO 8601: when this join began. */
  online_at: string;
  /** Unique per join; how Phoenix.Presence (and the JS `Presence` class) tells metas apart. */
  phx_ref: string;
}

/** Keyed by user id as a string, the shape the official JS `Presence` class syncs. */
export type PresenceState = Record<string, { metas: PresenceMeta[] }>;

export interface PresenceDiff {
  joins: PresenceState;
  leaves: PresenceState;
}

/** Error `reason`s a room channel replies with: the socket's own (Phoenix's), then the room's. */
export const RoomErrorReason = {
  ...SocketErrorReason,
  /** The payload failed validation; `errors` maps each field to what is wrong with it. */
  invalid: "invalid",
  /** Storage failed or was too slow; the post was not acknowledged. Retry with the same `client_id`. */
  unavailable: "unavailable",
  /** Too many posts too fast; `retry_after_ms` says when the next one will be taken. Nothing was stored. */
  rateLimited: "rate_limited",
  /** The event is not one the room channel handles; `event` names it. */
  unknownEvent: "unknown event",
  /**
   * A private room you are not a member of, or a room that does not exist: the same answer for both, so a
   * non-member learns nothing. Final: rejoining gets the same answer.
   */
  noSuchRoom: "no such room",
  /** Joining a public room nobody has opened would create it, and you have created your allowance today. */
  roomLimit: "room limit",
  /** `edit_post` of someone else's post, or `delete_post` of it by someone who is not a moderator or the owner. */
  forbidden: "forbidden",
  /** `edit_post` / `delete_post` of a post that was deleted, or that this room never had. */
  notFound: "not found",
  /** `edit_post` of a post older than `EDIT_WINDOW_SECONDS`. */
  editWindowClosed: "edit window closed",
  /**
   * The socket's token was revoked (logout) or has expired; `detail` says which. The room then closes
   * the socket with {@link SESSION_ENDED_CLOSE_CODE}.
   */
  unauthorized: "unauthorized",
  /** You are muted in this room: `until` (ISO 8601) says until when. Posts and typing are refused. */
  muted: "muted",
  /** Slow mode: `retry_after_ms` says when your next post will be taken. Nothing was stored. */
  slowMode: "slow_mode",
  /** The room is read-only: only its owner and moderators post (and type). */
  readOnly: "read_only",
  /**
   * You are banned from this room: to a join (on every way in) and a post. Final until a moderator unbans
   * you; rejoining gets the same answer.
   */
  banned: "banned",
} as const;

/**
 * The close code of a socket whose token was revoked or expired. Reconnecting with the same token is
 * refused (403), so a page should stop and ask the person to reload or log in again.
 */
export const SESSION_ENDED_CLOSE_CODE = 4001;
