/**
 * The room channel's own contract (topic `room:ROOM`), on top of the Phoenix protocol. Shared by the
 * Durable Object and the browser client so both sides name events and fields the same way.
 */
import { SocketErrorReason } from "../realtime/phoenix/protocol";
import type { Post } from "./post";

export const RoomEvent = {
  /** Client push `{message, client_id?}`, replied with the stored Post; also the broadcast of every stored Post. */
  newPost: "new_post",
  /** Client push `{}` while someone types; relayed to the other members as `{user: {id, username}}`. */
  typing: "typing",
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
  /** Catch up: the join reply holds the posts with a greater id (exclusive), oldest first, up to 500. */
  last_seen_id?: number;
}

export interface JoinResponse {
  posts: Post[];
  /**
   * True when a catch-up reply stopped at {@link CATCH_UP_LIMIT} posts and more were posted after the
   * last one: page on with `GET /rooms/ROOM/posts?after=ID` until a page comes back short.
   */
  has_more: boolean;
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
